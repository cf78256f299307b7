"""The FHIR interface over real HTTPS and mutual TLS, with two small datasets.

What a PGO (or the Nictiz test engine) notices: the Bundles' shape, JSON and XML, the
version in Accept, every refusal with its status, WWW-Authenticate and OperationOutcome,
the MedMij-Request-ID echoed, and that a token opens exactly one patient's records at
exactly one endpoint.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle as BundleR4
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as CapabilityR4
from fhir.resources.STU3.bundle import Bundle as BundleSTU3
from fhir.resources.STU3.capabilitystatement import CapabilityStatement as CapabilitySTU3

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import Dataset

from . import tiny
from .conftest import STRANGER, Running, Start
from .qualification import fhirpath, generic_failures, params_missing_from_self_link

ZA = "ziekenhuis@medmij"


@pytest.fixture(scope="module")
def running(start_resource_server: Start, tiny_datasets: list[Dataset]) -> Iterator[Running]:
    # Only qualification tokens here; tokens of the MedMij flow: test_introspection_mtls.
    with start_resource_server(datasets=tiny_datasets, introspection_url=None) as server:
        yield server


@pytest.fixture
def client(running: Running) -> Iterator[httpx.Client]:
    with running.client() as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(
    client: httpx.Client, url: str, token: str | None = tiny.TOKEN_A_48, **headers: str
) -> httpx.Response:
    sent = bearer(token) if token else {}
    return client.get(url, headers={**sent, **headers})


def encoded(path: str) -> str:
    """A catalogue query as the test engine sends it: `|` and `,` percent-encoded."""
    resource, _, query = path.partition("?")
    if not query:
        return resource
    parts = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        parts.append(f"{name}={quote(value, safe=':/')}")
    return f"{resource}?{'&'.join(parts)}"


def entries(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"{e['resource']['resourceType']}/{e['resource']['id']}", e["search"]["mode"])
        for e in bundle.get("entry", [])
    ]


def outcome(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    return body


# --- searches and the Bundle's shape --------------------------------------------------


def test_patient_search_is_a_searchset_of_the_tokens_patient_with_its_practitioner(
    running: Running, client: httpx.Client
) -> None:
    base = running.base(ZA, "48")
    response = get(client, f"{base}/Patient?_include=Patient:general-practitioner")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json; fhirVersion=3.0"
    bundle = response.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    assert entries(bundle) == [("Patient/pat-a", "match"), ("Practitioner/gp-1", "include")]
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        f"{base}/Patient/pat-a",
        f"{base}/Practitioner/gp-1",
    ]
    assert bundle["link"] == [
        {"relation": "self", "url": f"{base}/Patient?_include=Patient:general-practitioner"}
    ]
    assert generic_failures(bundle, FhirVersion.STU3) == []


def test_lastn_gives_the_latest_per_code_and_says_lastn_in_its_self_link(
    running: Running, client: httpx.Client
) -> None:
    base = running.base(ZA, "48")
    query = "Observation/$lastn?code=http%3A%2F%2Floinc.org%7C29463-7"
    bundle = get(client, f"{base}/{query}").json()
    assert entries(bundle) == [("Observation/weight-a-new", "match")]
    assert bundle["link"][0]["url"] == f"{base}/{query}"
    plain = get(client, f"{base}/Observation?code=http://loinc.org|29463-7").json()
    assert sorted(entries(plain)) == [
        ("Observation/weight-a-new", "match"),
        ("Observation/weight-a-old", "match"),
    ]


@pytest.mark.parametrize("query", catalogue.get("48").queries, ids=lambda q: q.name)
def test_every_bgz_query_passes_the_generic_asserts(
    running: Running, client: httpx.Client, query: catalogue.Query
) -> None:
    url = f"{running.base(ZA, '48')}/{encoded(query.path)}"
    response = get(client, url)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert generic_failures(bundle, FhirVersion.STU3) == []
    assert params_missing_from_self_link(url, bundle) == []
    assert bundle["total"] == sum(1 for _, mode in entries(bundle) if mode == "match")
    assert BundleSTU3.model_validate(bundle).type == "searchset"


def test_lab_results_include_their_specimen(running: Running, client: httpx.Client) -> None:
    query = catalogue.get("48").query("LaboratoryTestResult")
    bundle = get(client, f"{running.base(ZA, '48')}/{encoded(query.path)}").json()
    assert entries(bundle) == [
        ("Observation/lab-a-1", "match"),
        ("Specimen/spec-a-1", "include"),
    ]


def test_vaccinaties_search_and_the_medication_read_the_script_makes(
    running: Running, client: httpx.Client
) -> None:
    base = running.base(ZA, "63")
    query = catalogue.get("63").query("Vaccination")
    url = f"{base}/{encoded(query.path)}"
    response = get(client, url, tiny.TOKEN_A_63)
    assert response.headers["content-type"] == "application/fhir+json; fhirVersion=4.0"
    bundle = response.json()
    assert sorted(entries(bundle)) == [
        ("Immunization/imm-a-1", "match"),
        ("Immunization/imm-a-2", "match"),
        ("Location/loc-1", "include"),  # the contained #loc-c is not a resource of its own
        ("Organization/org-1", "include"),
        ("Patient/pat-a", "include"),
    ]
    assert bundle["link"][0]["url"].startswith(f"{base}/Immunization?")
    assert generic_failures(bundle, FhirVersion.R4) == []
    assert params_missing_from_self_link(url, bundle) == []
    BundleR4.model_validate(bundle)
    # The Vaccinaties script's own expression for the URL of the first Medication.
    extension = (
        "'http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct'"
    )
    product = (
        f"Bundle.entry.where(resource.is(Immunization)).resource[0].extension"
        f".where(url = {extension}).value.reference"
    )
    [medication_url] = fhirpath(
        bundle,
        f"Bundle.link.where(relation='self').url.replaceMatches('Immunization[/?].*$','')"
        f" + {product}",
        FhirVersion.R4,
    )
    assert medication_url == f"{base}/Medication/mmr-1"
    medication = get(client, medication_url, tiny.TOKEN_A_63)
    assert medication.status_code == 200
    assert medication.json()["id"] == "mmr-1"
    assert medication.headers["content-type"] == "application/fhir+json; fhirVersion=4.0"


def test_a_person_without_matching_records_gets_an_empty_searchset(
    running: Running, client: httpx.Client
) -> None:
    bundle = get(client, f"{running.base(ZA, '48')}/Observation", tiny.TOKEN_B_48).json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 0
    assert "entry" not in bundle
    assert generic_failures(bundle, FhirVersion.STU3) == []


# --- one token, one patient, one endpoint ---------------------------------------------


def test_a_token_only_ever_reaches_its_own_patient(running: Running, client: httpx.Client) -> None:
    base = running.base(ZA, "48")
    as_a = get(client, f"{base}/Condition", tiny.TOKEN_A_48).json()
    as_b = get(client, f"{base}/Condition", tiny.TOKEN_B_48).json()
    assert entries(as_a) == [("Condition/cond-a-1", "match")]
    assert entries(as_b) == [("Condition/cond-b-1", "match")]
    assert get(client, f"{base}/Patient/pat-b", tiny.TOKEN_A_48).status_code == 404
    assert get(client, f"{base}/Patient/pat-a", tiny.TOKEN_A_48).status_code == 200
    # A shared resource only B's record references stays out of A's reach.
    vaccinaties = running.base(ZA, "63")
    assert get(client, f"{vaccinaties}/Medication/mmr-b", tiny.TOKEN_A_63).status_code == 404
    assert get(client, f"{vaccinaties}/Medication/mmr-b", tiny.TOKEN_B_63).status_code == 200


def test_a_patient_parameter_cannot_reach_another_patient(
    running: Running, client: httpx.Client
) -> None:
    response = get(client, f"{running.base(ZA, '48')}/Condition?patient=pat-b")
    assert response.status_code == 400
    assert "cond-b-1" not in response.text
    outcome(response)


def test_a_bsn_in_the_request_is_refused_and_not_repeated(
    running: Running, client: httpx.Client, persons: tuple[TestPerson, ...]
) -> None:
    bsn = persons[1].bsn
    response = get(
        client,
        f"{running.base(ZA, '48')}/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|{bsn}",
    )
    assert response.status_code == 400
    assert bsn not in response.text
    assert "pat-b" not in response.text
    outcome(response)


@pytest.mark.parametrize(
    ("token", "gegevensdienst", "zorgaanbieder"),
    [
        (tiny.TOKEN_A_48, "63", ZA),  # a BgZ token at Vaccinaties
        (tiny.TOKEN_A_63, "48", ZA),  # and the other way round
        (tiny.TOKEN_A_63, "63", "ggd@medmij"),  # another zorgaanbieder
    ],
)
def test_a_token_for_another_endpoint_is_insufficient_scope(
    running: Running, client: httpx.Client, token: str, gegevensdienst: str, zorgaanbieder: str
) -> None:
    resource = "Immunization" if gegevensdienst == "63" else "Condition"
    response = get(client, f"{running.base(zorgaanbieder, gegevensdienst)}/{resource}", token)
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert outcome(response)["issue"][0]["code"] == "forbidden"
    assert "cond-a-1" not in response.text


def test_no_token_at_all_is_401_with_the_bare_challenge(
    running: Running, client: httpx.Client
) -> None:
    # RFC 6750 §3.1: a request without any authentication information gets no error code.
    response = client.get(f"{running.base(ZA, '48')}/Condition")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert outcome(response)["issue"][0]["code"] == "login"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer unknown-token-1234", "Basic cGdvOmdlaGVpbQ==", "Bearer", "Bearer a b"],
    ids=["unknown", "basic", "empty", "malformed"],
)
def test_no_valid_token_is_401_invalid_token(
    running: Running, client: httpx.Client, authorization: str
) -> None:
    response = client.get(
        f"{running.base(ZA, '48')}/Condition", headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "error_description=" in response.headers["www-authenticate"]
    assert outcome(response)["issue"][0]["code"] == "login"


# --- formats and versions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"Accept": "application/fhir+xml"}, "", "xml"),
        ({"Accept": "application/xml"}, "", "xml"),
        ({}, "&_format=xml", "xml"),
        ({}, "&_format=application/fhir%2Bxml", "xml"),
        ({"Accept": "application/fhir+xml"}, "&_format=json", "json"),
        ({"Accept": "application/fhir+json; fhirVersion=3.0"}, "", "json"),
        ({"Accept": "text/html"}, "", "json"),
        ({}, "", "json"),
    ],
)
def test_json_or_xml_as_asked(
    running: Running, client: httpx.Client, headers: dict[str, str], query: str, expected: str
) -> None:
    base = running.base(ZA, "48")
    response = get(
        client, f"{base}/Patient?_include=Patient:general-practitioner{query}", **headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"application/fhir+{expected}; fhirVersion=3.0"
    if expected == "xml":
        assert response.content.startswith(b"<?xml")
        bundle = BundleSTU3.model_validate_xml(response.content)
        as_json = json.loads(bundle.model_dump_json())
    else:
        as_json = response.json()
    assert entries(as_json) == [("Patient/pat-a", "match"), ("Practitioner/gp-1", "include")]
    assert as_json["link"][0]["url"].endswith(
        f"/Patient?_include=Patient:general-practitioner{query}"
    )
    assert generic_failures(as_json, FhirVersion.STU3) == []


def test_xml_of_every_vaccinaties_resource_reads_back_as_the_same_resource(
    running: Running, client: httpx.Client
) -> None:
    base = running.base(ZA, "63")
    url = f"{base}/{encoded(catalogue.get('63').query('Vaccination').path)}"
    as_json = get(client, url, tiny.TOKEN_A_63).json()
    as_xml = get(client, url, tiny.TOKEN_A_63, Accept="application/fhir+xml")
    assert as_xml.headers["content-type"] == "application/fhir+xml; fhirVersion=4.0"
    parsed = json.loads(BundleR4.model_validate_xml(as_xml.content).model_dump_json())
    assert parsed == as_json
    medication = get(
        client, f"{base}/Medication/mmr-1", tiny.TOKEN_A_63, Accept="application/fhir+xml"
    )
    assert medication.status_code == 200
    assert b"<Medication" in medication.content


@pytest.mark.parametrize(
    ("gegevensdienst", "accept"),
    [
        ("48", "application/fhir+json; fhirVersion=4.0"),
        ("63", "application/fhir+json; fhirVersion=3.0"),
        ("63", "application/fhir+xml;fhirVersion=1.0, application/fhir+json; fhirVersion=3.0"),
    ],
)
def test_a_fhir_version_the_endpoint_does_not_speak_is_400_invalid_request(
    running: Running, client: httpx.Client, gegevensdienst: str, accept: str
) -> None:
    token = tiny.TOKEN_A_48 if gegevensdienst == "48" else tiny.TOKEN_A_63
    resource = "Condition" if gegevensdienst == "48" else "Immunization"
    response = get(client, f"{running.base(ZA, gegevensdienst)}/{resource}", token, Accept=accept)
    assert response.status_code == 400
    served = "fhirVersion=3.0 (STU3)" if gegevensdienst == "48" else "fhirVersion=4.0 (R4)"
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_request", error_description="Requested FHIR version not'
        f' supported: this endpoint serves {served}"'
    )
    assert outcome(response)["issue"][0]["code"] == "invalid"


def test_one_acceptable_version_among_several_is_enough(
    running: Running, client: httpx.Client
) -> None:
    accept = "application/fhir+json; fhirVersion=4.0, application/fhir+xml; fhirVersion=3.0"
    response = get(client, f"{running.base(ZA, '48')}/Condition", Accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+xml; fhirVersion=3.0"


def test_an_unknown_format_parameter_is_406(running: Running, client: httpx.Client) -> None:
    response = get(client, f"{running.base(ZA, '48')}/Condition?_format=turtle")
    assert response.status_code == 406
    assert outcome(response)["issue"][0]["code"] == "not-supported"


def test_errors_come_in_the_asked_format(running: Running, client: httpx.Client) -> None:
    response = get(
        client, f"{running.base(ZA, '48')}/Condition", None, Accept="application/fhir+xml"
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/fhir+xml; fhirVersion=3.0"
    assert b"<OperationOutcome" in response.content
    assert b'<code value="login"/>' in response.content


# --- addresses, methods, metadata ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/onbekend/48/fhir/Condition", 404),
        ("/ziekenhuis/49/fhir/Condition", 404),
        ("/ziekenhuis/48/fhir/Foo", 404),
        ("/ziekenhuis/48/fhir/Condition/$lastn", 404),
        ("/ziekenhuis/48/fhir/Condition/cond-a-1/extra", 404),
        ("/nergens", 404),
    ],
)
def test_unknown_addresses_are_404_operation_outcomes(
    running: Running, client: httpx.Client, path: str, status: int
) -> None:
    response = get(client, f"{running.url}{path}")
    assert response.status_code == status
    assert outcome(response)["issue"][0]["code"] == "not-found"


def test_an_unsupported_parameter_is_refused_unless_the_client_asks_lenient_handling(
    running: Running, client: httpx.Client
) -> None:
    base = running.base(ZA, "48")
    url = f"{base}/Observation?_count=10&code=http://loinc.org|29463-7&_summary=count"
    strict = get(client, url)
    assert strict.status_code == 400
    assert outcome(strict)["issue"][0]["code"] == "not-supported"
    assert "'_count'" in strict.text

    lenient = get(client, url, Prefer="return=representation, handling=lenient")
    assert lenient.status_code == 200, lenient.text
    bundle = lenient.json()
    # The answer is the search without what was ignored, and its self link says so.
    assert sorted(entries(bundle)) == [
        ("Observation/weight-a-new", "match"),
        ("Observation/weight-a-old", "match"),
    ]
    assert bundle["link"][0]["url"] == f"{base}/Observation?code=http://loinc.org|29463-7"
    # An _include this server does not serve is ignored too, in JSON and XML alike.
    xml = get(
        client,
        f"{base}/Patient?_include=Patient:organization&_format=xml",
        Prefer="handling=lenient",
    )
    assert xml.status_code == 200, xml.text
    assert f'<url value="{base}/Patient?_format=xml"/>' in xml.text


def test_lenient_handling_never_ignores_a_patient_parameter(
    running: Running, client: httpx.Client
) -> None:
    response = get(
        client, f"{running.base(ZA, '48')}/Condition?patient=pat-b", Prefer="handling=lenient"
    )
    assert response.status_code == 400
    assert "cond-b-1" not in response.text


def test_other_methods_are_405(running: Running, client: httpx.Client) -> None:
    response = client.post(
        f"{running.base(ZA, '48')}/Condition", headers=bearer(tiny.TOKEN_A_48), content=b"{}"
    )
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert outcome(response)["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize(
    ("gegevensdienst", "model", "version"),
    [("48", CapabilitySTU3, "3.0.2"), ("63", CapabilityR4, "4.0.1")],
)
def test_metadata_needs_no_token_and_says_what_is_served(
    running: Running, client: httpx.Client, gegevensdienst: str, model: Any, version: str
) -> None:
    base = running.base(ZA, gegevensdienst)
    response = client.get(f"{base}/metadata")
    assert response.status_code == 200
    statement = response.json()
    model.model_validate(statement)
    assert statement["fhirVersion"] == version
    assert statement["implementation"]["url"] == base
    searched = {
        r["type"]
        for r in statement["rest"][0]["resource"]
        if {"code": "search-type"} in r["interaction"]
    }
    assert searched == {q.resource_type for q in catalogue.get(gegevensdienst).queries}
    xml = client.get(f"{base}/metadata", headers={"Accept": "application/fhir+xml"})
    assert model.model_validate_xml(xml.content).fhirVersion == version


def test_everything_but_health_needs_a_whitelisted_client_certificate(
    running: Running,
) -> None:
    base = running.base(ZA, "48")
    for as_host in (None, STRANGER):
        with running.client(as_host) as stranger:
            for url in (f"{base}/metadata", f"{base}/Condition"):
                response = get(stranger, url)
                assert response.status_code == 403
                assert outcome(response)["issue"][0]["code"] == "security"
            assert stranger.get(f"{running.url}/health").status_code == 200


# --- tracing ---------------------------------------------------------------------------


def test_every_answer_echoes_the_medmij_request_id(running: Running, client: httpx.Client) -> None:
    base = running.base(ZA, "48")
    correlation = str(uuid.uuid4())
    for url, token in (
        (f"{base}/Condition", tiny.TOKEN_A_48),  # 200
        (f"{base}/Condition", None),  # 401
        (f"{base}/Foo", tiny.TOKEN_A_48),  # 404
        (f"{base}/metadata", None),
        (f"{running.url}/health", None),
    ):
        request_id = str(uuid.uuid4())
        response = get(
            client, url, token, **{"MedMij-Request-ID": request_id, "X-Correlation-ID": correlation}
        )
        assert response.headers["medmij-request-id"] == request_id, url
        assert response.headers["x-correlation-id"] == correlation, url
        assert re.fullmatch(r"app;dur=\d+\.\d\d", response.headers["server-timing"]), url
    with running.client(None) as no_certificate:
        request_id = str(uuid.uuid4())
        refused = no_certificate.get(f"{base}/Condition", headers={"MedMij-Request-ID": request_id})
        assert refused.status_code == 403
        assert refused.headers["medmij-request-id"] == request_id


def test_a_missing_or_malformed_request_id_gets_a_fresh_one(
    running: Running, client: httpx.Client
) -> None:
    for sent in ({}, {"MedMij-Request-ID": "niet-een-uuid"}):
        response = get(client, f"{running.base(ZA, '48')}/Condition", **sent)
        assert response.status_code == 200
        given = response.headers["medmij-request-id"]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", given)


def test_repeated_searches_are_answered_from_the_cache_identically(
    running: Running, client: httpx.Client
) -> None:
    url = f"{running.base(ZA, '48')}/Condition"
    answers = running.server.answers
    first = get(client, url).content
    hits = answers.hits
    assert get(client, url).content == first
    assert answers.hits == hits + 1
    # Another patient's same query is another answer, never this one.
    assert get(client, url, tiny.TOKEN_B_48).content != first


def test_a_resource_without_an_xml_form_gets_a_clear_error_not_a_crash(
    start_resource_server: Start, persons: tuple[TestPerson, ...]
) -> None:
    # A source that hands over something the base STU3 model rejects: JSON still works.
    bgz = tiny.bgz(ZA, persons[0], persons[1])
    odd = {
        "resourceType": "Flag",
        "id": "flag-a-odd",
        "meta": {"profile": ["http://nictiz.nl/fhir/StructureDefinition/zib-Alert"]},
        "status": "active",
        "code": {"text": "Let op"},
        "subject": {"reference": "Patient/pat-a", "display": "A"},
        "nietInFhir": True,
    }
    dataset = replace(bgz, resources=(*bgz.resources, odd), version="tiny-bgz-odd")
    with (
        start_resource_server(datasets=[dataset], introspection_url=None) as running,
        running.client() as client,
    ):
        url = f"{running.base(ZA, '48')}/Flag"
        assert get(client, url).json()["entry"][0]["resource"]["id"] == "flag-a-odd"
        response = get(client, url, Accept="application/fhir+xml")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/fhir+xml; fhirVersion=3.0"
        assert b"no FHIR XML form" in response.content
        assert b"Traceback" not in response.content
