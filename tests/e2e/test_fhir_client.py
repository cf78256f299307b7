"""A standard FHIR client library reads the resource server as any PGO would.

fhirpy knows nothing of MedMij: it gets the resource endpoint from the ZAL, the access
token from the flow, and the PGO's client certificate for mutual TLS, and must then read
BgZ (STU3) and Vaccinaties (R4) — searches, ``$lastn``, typed ``_include`` and reads of
every reference — without any special handling.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError, ForbiddenError

from medmij_stack.protocol.headers import new_id
from tests.authserver.browser import Browser

from .conftest import RunningStack
from .flow import Endpoints, Pgo, consent_code, exchange_code, stack_client

pytestmark = pytest.mark.e2e


@pytest.fixture
def resolves_stack_hosts(stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve the stack's hostnames as a browser resolves ``*.localhost``: to loopback.

    fhirpy talks through ``requests``, which asks the system resolver; the world's hostnames
    are not in /etc/hosts on every machine, so the test resolves them itself.
    """
    hosts = stack.hosts
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        return real(hosts.get(name, name), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def access_token(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, browser: Browser
) -> str:
    code = consent_code(browser, endpoints, pgo, bsn)
    with stack_client(stack, pgo.leaf) as client:
        response = exchange_code(client, endpoints, pgo, code)
    assert response.status_code == 200, response.text
    granted = set(response.json()["scope"].split())
    assert granted == {"ziekenhuisdemo~48", "ziekenhuisdemo~63"}
    return str(response.json()["access_token"])


def _fhir(stack: RunningStack, pgo: Pgo, base: str, token: str | None) -> SyncFHIRClient:
    return SyncFHIRClient(
        base,
        authorization=None if token is None else f"Bearer {token}",
        extra_headers={"MedMij-Request-ID": new_id()},
        requests_config={
            "verify": str(stack.ca),
            "cert": (str(pgo.leaf.cert), str(pgo.leaf.key)),
            "timeout": 15,
        },
    )


@pytest.fixture
def bgz(
    stack: RunningStack,
    endpoints: Endpoints,
    pgo: Pgo,
    access_token: str,
    resolves_stack_hosts: None,
) -> SyncFHIRClient:
    return _fhir(stack, pgo, endpoints.resource_48, access_token)


@pytest.fixture
def vaccinaties(
    stack: RunningStack,
    endpoints: Endpoints,
    pgo: Pgo,
    access_token: str,
    resolves_stack_hosts: None,
) -> SyncFHIRClient:
    return _fhir(stack, pgo, endpoints.resource_63, access_token)


def test_fhirpy_reads_the_bgz_patient_and_follows_the_included_practitioner(
    bgz: SyncFHIRClient,
) -> None:
    bundle = bgz.resources("Patient").include("Patient", "general-practitioner").fetch_raw()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    patients = [e.resource for e in bundle.entry if e.search.mode == "match"]
    assert len(patients) == 1
    patient = patients[0]
    assert patient.resourceType == "Patient"
    # Never a BSN in the output, whatever the client asks for.
    assert all("2.16.840.1.113883.2.4.6.3" not in str(i) for i in patient.get("identifier", []))
    for reference in patient.get("generalPractitioner", []):
        practitioner = bgz.reference(reference=reference["reference"]).to_resource()
        assert practitioner.resourceType in {"Practitioner", "PractitionerRole", "Organization"}
        assert f"{practitioner.resourceType}/{practitioner.id}" == reference["reference"]


def test_fhirpy_searches_bgz_with_tokens_and_lastn(bgz: SyncFHIRClient) -> None:
    conditions = bgz.resources("Condition").fetch_all()
    assert conditions, "the demo hospital's test person has problems on record"
    assert {c.resourceType for c in conditions} == {"Condition"}

    allergies = bgz.resources("AllergyIntolerance").fetch_all()
    assert {a.resourceType for a in allergies} <= {"AllergyIntolerance"}

    lastn = bgz.execute(
        "Observation/$lastn",
        method="get",
        params={"code": "http://loinc.org|85354-9"},
    )
    assert lastn["resourceType"] == "Bundle"
    blood_pressures = [e["resource"] for e in lastn.get("entry", [])]
    assert len(blood_pressures) <= 1  # the latest per code, and there is one code
    for observation in blood_pressures:
        codings = observation["code"]["coding"]
        assert any(c["system"] == "http://loinc.org" and c["code"] == "85354-9" for c in codings)


def test_fhirpy_reads_immunizations_with_includes_and_every_reference(
    vaccinaties: SyncFHIRClient,
) -> None:
    bundle = (
        vaccinaties.resources("Immunization")
        .include("Immunization", "patient")
        .include("Immunization", "performer")
        .include("Immunization", "location")
        .fetch_raw()
    )
    matches = [e.resource for e in bundle.entry if e.search.mode == "match"]
    included = {
        f"{e.resource.resourceType}/{e.resource.id}"
        for e in bundle.entry
        if e.search.mode == "include"
    }
    assert matches, "the demo hospital's test person has vaccinations on record"
    assert bundle.total == len(matches)
    for immunization in matches:
        assert immunization.resourceType == "Immunization"
        patient = immunization.patient["reference"]
        assert patient in included
        # Every literal reference in the resource can be read on its own.
        for reference in _references(immunization):
            read = vaccinaties.reference(reference=reference).to_resource()
            assert f"{read.resourceType}/{read.id}" == reference


def test_fhirpy_is_refused_without_a_token_and_at_another_zorgaanbieder(
    stack: RunningStack,
    endpoints: Endpoints,
    pgo: Pgo,
    access_token: str,
    resolves_stack_hosts: None,
) -> None:
    with pytest.raises(AuthorizationError, match="no access token"):
        _fhir(stack, pgo, endpoints.resource_63, None).resources("Immunization").fetch()
    # The GGD is served by the same DVA, but the person consented for the hospital only.
    ggd = endpoints.resource_63.replace("ziekenhuisdemo", "ggddemo")
    assert ggd != endpoints.resource_63
    with pytest.raises(ForbiddenError, match="forbidden"):
        _fhir(stack, pgo, ggd, access_token).resources("Immunization").fetch()


def _references(resource: Any) -> list[str]:
    """Every relative literal reference (``Type/id``) anywhere in ``resource``."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            reference = node.get("reference")
            if isinstance(reference, str) and "/" in reference and "://" not in reference:
                found.append(reference)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource)
    return found
