"""The Nictiz qualification material through HTTP: the XIS-Server scripts and their counts.

The qualification zorgaanbieder serves the Nictiz fixtures (``sources.nictiz``) and knows
their fixed tokens; the official XIS-Server TestScripts of BgZ (Cert) and Vaccinaties
(Cert and Test) run against it over HTTPS with mutual TLS, in their json and xml variants.
The expected counts are those of docs/qualification.md#bgz-searches and #vaccinaties-searches.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.sources.nictiz import load_nictiz

from .conftest import Running, Start
from .nictiz_expected import (
    BERGGE,
    BOEKWIJT,
    BOETERS,
    DECOY_IMMUNIZATION,
    DECOY_PATIENT,
    HELLEMAN,
    HELLEMAN_COUNTS,
    HOFF,
    MESKER,
    RIJN,
    RIJN_COUNTS,
    VACCINATION_SCENARIOS,
    VACCINATIONS,
    Expected,
    unmet,
)
from .qualification import generic_failures, params_missing_from_self_link
from .scripts import ScriptRun

ZA = "kwalificatie@medmij"
BGZ = "output/STU3/BgZ-3-0/MedMij"
IMM = "output/R4/Immunization-2-0/MedMij"

SCRIPTS = [
    *(
        f"{BGZ}/Cert/XIS-Server/medmij-bgz-xis-1-{n}-serve-bgz-{f}.xml"
        for n in (1, 2)
        for f in ("json", "xml")
    ),
    *(
        f"{IMM}/Cert/XIS-Server/imm-serve-cert-1-{n}-{f}.xml"
        for n in (1, 2)
        for f in ("json", "xml")
    ),
    *(
        f"{IMM}/Test/XIS-Server/imm-serve-test-1-{n}-{f}.xml"
        for n in (1, 2)
        for f in ("json", "xml")
    ),
]

PRODUCT = "http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct"


@pytest.fixture(scope="module")
def nictiz_datasets(nictiz_root: Path) -> tuple[Dataset, ...]:
    return load_nictiz(nictiz_root, ZA)


@pytest.fixture(scope="module")
def running(
    start_resource_server: Start, nictiz_datasets: tuple[Dataset, ...]
) -> Iterator[Running]:
    with start_resource_server(datasets=nictiz_datasets, introspection_url=None) as server:
        yield server


@pytest.fixture
def client(running: Running) -> Iterator[httpx.Client]:
    with running.client() as http:
        yield http


def encoded(path: str) -> str:
    resource, _, query = path.partition("?")
    if not query:
        return resource
    pairs = (part.partition("=") for part in query.split("&"))
    return f"{resource}?" + "&".join(f"{n}={quote(v, safe=':/')}" for n, _, v in pairs)


def fetch(
    client: httpx.Client, url: str, token: str, fmt: str = "json"
) -> tuple[httpx.Response, dict[str, Any]]:
    response = client.get(
        url, headers={"Authorization": f"Bearer {token}", "Accept": f"application/fhir+{fmt}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json() if fmt == "json" else {}
    return response, body


def counts(bundle: dict[str, Any]) -> Counter[str]:
    return Counter(e["resource"]["resourceType"] for e in bundle.get("entry", []))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: Path(s).stem)
def test_the_nictiz_server_script_passes(
    running: Running, client: httpx.Client, nictiz_root: Path, script: str
) -> None:
    path = nictiz_root / script
    version = FhirVersion.STU3 if script.startswith(BGZ) else FhirVersion.R4
    base = running.base(ZA, "48" if version is FhirVersion.STU3 else "63")
    outcome = ScriptRun(path, base, client, version).run()
    assert outcome.failures == []
    assert outcome.requests >= 1
    assert outcome.checked >= 8 * outcome.requests  # status, type and FHIRPath per request
    # Only the profile checks remain, which need the Nictiz packages
    # (docs/qualification.md#profile-validation).
    assert all("validateProfileId" in item for item in outcome.not_run)


@pytest.mark.parametrize(
    ("token", "expected"),
    [(HELLEMAN, HELLEMAN_COUNTS), (RIJN, RIJN_COUNTS)],
    ids=["cert-helleman", "test-rijn"],
)
def test_bgz_counts_per_query(
    running: Running, client: httpx.Client, token: str, expected: dict[str, Expected]
) -> None:
    base = running.base(ZA, "48")
    for query in catalogue.get("48").queries:
        url = f"{base}/{encoded(query.path)}"
        _, bundle = fetch(client, url, token)
        assert generic_failures(bundle, FhirVersion.STU3) == [], query.name
        assert params_missing_from_self_link(url, bundle) == [], query.name
        if query.name not in expected:
            continue  # not asked by this set's scripts
        assert unmet(counts(bundle), expected[query.name]) == {}, query.name
        matches = [e for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        assert bundle["total"] == len(matches), query.name


@pytest.mark.parametrize("token", [MESKER, HOFF], ids=["cert-1-2-mesker", "test-2-hoff"])
def test_the_second_bgz_patients_have_only_their_patient(
    running: Running, client: httpx.Client, token: str
) -> None:
    base = running.base(ZA, "48")
    for query in catalogue.get("48").queries:
        _, bundle = fetch(client, f"{base}/{encoded(query.path)}", token)
        found = counts(bundle)
        if query.name == "Patient":
            assert found["Patient"] == 1
        elif query.name == "Payer" and token == HOFF:
            # docs/qualification.md#bgz-searches: Coverage 1 + Organization 0
            assert found == Counter({"Coverage": 1})
        else:
            assert found == Counter(), query.name


@pytest.mark.parametrize("token", list(VACCINATIONS), ids=VACCINATION_SCENARIOS.get)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_vaccinaties_counts_and_every_medication_read(
    running: Running, client: httpx.Client, token: str, fmt: str
) -> None:
    from fhir.resources.R4B.bundle import Bundle

    expected, medications = VACCINATIONS[token]
    base = running.base(ZA, "63")
    url = f"{base}/{encoded(catalogue.get('63').query('Vaccination').path)}"
    response, bundle = fetch(client, url, token, fmt)
    if fmt == "xml":
        bundle = json.loads(Bundle.model_validate_xml(response.content).model_dump_json())
    assert unmet(counts(bundle), expected) == {}
    assert generic_failures(bundle, FhirVersion.R4) == []
    self_link = bundle["link"][0]["url"]
    assert self_link.startswith(f"{base}/Immunization?")
    read = 0
    for entry in bundle["entry"]:
        immunization = entry["resource"]
        if immunization["resourceType"] != "Immunization":
            continue
        [product] = [e for e in immunization["extension"] if e["url"] == PRODUCT]
        reference = product["valueReference"]["reference"]
        assert reference.startswith("Medication/")
        medication, _ = fetch(client, f"{base}/{reference}", token, fmt)
        assert medication.headers["content-type"] == f"application/fhir+{fmt}; fhirVersion=4.0"
        read += 1
    assert read == medications


@pytest.mark.parametrize("token", [BOEKWIJT, BERGGE], ids=VACCINATION_SCENARIOS.get)
def test_the_decoy_patient_never_appears(
    running: Running, client: httpx.Client, token: str
) -> None:
    base = running.base(ZA, "63")
    url = f"{base}/{encoded(catalogue.get('63').query('Vaccination').path)}"
    for fmt in ("json", "xml"):
        response, _ = fetch(client, url, token, fmt)
        assert DECOY_IMMUNIZATION not in response.text
        assert DECOY_PATIENT not in response.text
    refused = client.get(
        f"{base}/Patient/{DECOY_PATIENT}", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 404
    # The decoy's own token sees the decoy, and nothing of the others.
    _, own = fetch(client, url, BOETERS)
    ids = {e["resource"]["id"] for e in own["entry"]}
    assert DECOY_IMMUNIZATION in ids
    assert "nl-core-Patient--XXX-Boekwijt" not in ids


def test_the_script_runner_does_fail_a_server_that_answers_wrongly(
    running: Running, client: httpx.Client, nictiz_root: Path
) -> None:
    # The same script against another zorgaanbieder's BgZ: the token does not open it.
    script = nictiz_root / SCRIPTS[0]
    outcome = ScriptRun(
        script, running.base("ziekenhuis@medmij", "48"), client, FhirVersion.STU3
    ).run()
    assert sum(": HTTP 403" in failure for failure in outcome.failures) == 28  # every test


def test_a_nictiz_token_is_bound_to_its_gegevensdienst(
    running: Running, client: httpx.Client
) -> None:
    response = client.get(
        f"{running.base(ZA, '63')}/Immunization", headers={"Authorization": f"Bearer {HELLEMAN}"}
    )
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
