"""The fixture server behind qualify-client: searches, reads, scoping and errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.exchange import parse_body
from medmij_stack.testscript.simulator import Simulator
from medmij_stack.testscript.structure import structure_for

from .conftest import engine_simulator, nictiz_simulator

ANNA = "Bearer engine-token-anna"


def ask(
    simulator: Simulator,
    path: str,
    params: list[tuple[str, str]] | None = None,
    token: str | None = ANNA,
    *,
    version: FhirVersion = FhirVersion.R4,
    method: str = "GET",
    accept: str = "application/fhir+json",
) -> tuple[int, dict[str, Any]]:
    headers = [("accept", accept)] + ([("authorization", token)] if token else [])
    base = f"http://fhir.test/{version.release.lower()}"
    reply = simulator.handle(version, method, base, path, params or [], headers, f"{base}/{path}")
    parsed = parse_body(reply.body, reply.content_type, structure_for(version))
    assert parsed.resource is not None, parsed.problems
    return reply.status, parsed.resource


def kinds(bundle: dict[str, Any]) -> Counter[str]:
    return Counter(entry["resource"]["resourceType"] for entry in bundle.get("entry", []))


def test_a_search_is_scoped_to_the_token_and_shaped_as_the_scripts_expect() -> None:
    simulator = engine_simulator()
    status, bundle = ask(simulator, "Immunization", [("_include", "Immunization:patient")])
    assert status == 200
    assert kinds(bundle) == Counter({"Immunization": 2, "Patient": 1})
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 2
    assert bundle["link"] == [
        {
            "relation": "self",
            "url": "http://fhir.test/r4/Immunization?_include=Immunization:patient",
        }
    ]
    modes = {
        entry["resource"]["resourceType"]: entry["search"]["mode"] for entry in bundle["entry"]
    }
    assert modes == {"Immunization": "match", "Patient": "include"}
    assert all(entry["fullUrl"].endswith(entry["resource"]["id"]) for entry in bundle["entry"])
    # Bram's token sees only Bram's Immunization.
    _, other = ask(simulator, "Immunization", token="Bearer engine-token-bram")
    assert [e["resource"]["id"] for e in other["entry"]] == ["engine-imm-bram-1"]


def test_token_filters_or_lists_and_unknown_parameters() -> None:
    simulator = engine_simulator()
    _, one = ask(simulator, "Immunization", [("vaccine-code", "http://snomed.info/sct|871878002")])
    assert [e["resource"]["id"] for e in one["entry"]] == ["engine-imm-anna-2"]
    either = "http://snomed.info/sct|871878002,http://snomed.info/sct|28531000087107"
    _, both = ask(simulator, "Immunization", [("vaccine-code", either)])
    assert both["total"] == 2
    _, none = ask(simulator, "Immunization", [("status", "entered-in-error")])
    assert (none["total"] == 0 and "entry" not in none) or none["entry"] == []
    # An unknown parameter is ignored, and left out of the self link (lenient handling).
    _, lenient = ask(simulator, "Immunization", [("frobnicate", "1"), ("status", "completed")])
    assert lenient["total"] == 2
    assert lenient["link"][0]["url"] == "http://fhir.test/r4/Immunization?status=completed"


def test_reads_refuse_other_patients_and_errors_are_operation_outcomes() -> None:
    simulator = engine_simulator()
    status, medication = ask(simulator, "Medication/engine-med-1")
    assert (status, medication["id"]) == (200, "engine-med-1")
    status, outcome = ask(simulator, "Immunization/engine-imm-bram-1")
    assert status == 404
    assert outcome["resourceType"] == "OperationOutcome"
    status, outcome = ask(simulator, "Immunization", token=None)
    assert status == 401
    assert outcome["issue"][0]["code"] == "login"
    status, outcome = ask(simulator, "Immunization", token="Bearer nobody")
    assert status == 401
    status, outcome = ask(simulator, "Nonsense")
    assert status == 404
    assert "unknown resource type" in outcome["issue"][0]["diagnostics"]
    status, _ = ask(simulator, "Immunization", method="POST")
    assert status == 405
    status, _ = ask(simulator, "Immunization/$lastn")
    assert status == 404


def test_xml_is_served_when_asked_and_requests_are_recorded() -> None:
    simulator = engine_simulator()
    status, bundle = ask(simulator, "Immunization", accept="application/fhir+xml")
    assert status == 200
    assert bundle["total"] == 2
    _, json_bundle = ask(simulator, "Immunization", [("_format", "json")], accept="application/xml")
    assert json_bundle["total"] == 2
    recorded = simulator.recorded()
    assert len(recorded) == 2
    assert recorded[0].response is not None
    assert recorded[0].response.content_type == "application/fhir+xml"
    assert recorded[0].request.header("authorization") == ANNA
    assert json.loads(recorded[1].response.body)["resourceType"] == "Bundle"


def test_stu3_lastn_keeps_the_latest_per_code() -> None:
    simulator = engine_simulator()
    _, bundle = ask(
        simulator,
        "Observation/$lastn",
        [("code", "http://loinc.org|29463-7")],
        "Bearer engine-token-stu3",
        version=FhirVersion.STU3,
    )
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["engine-stu3-weight-2"]
    assert bundle["link"][0]["url"].startswith("http://fhir.test/stu3/Observation/$lastn?code=")


HELLEMAN = "Bearer 93cde269-ce35-4077-a39d-19296670e949"
BOEKWIJT = "Bearer 43100d9c-e64b-4151-900d-9ce64b8151f5"


@pytest.fixture(scope="module")
def nictiz_sim(nictiz: Path) -> Simulator:
    return nictiz_simulator(nictiz)


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        (
            "Patient",
            [("_include", "Patient:general-practitioner")],
            {"Patient": 1, "Practitioner": 1},
        ),
        (
            "Coverage",
            [("_include", "Coverage:payor:Patient"), ("_include", "Coverage:payor:Organization")],
            {"Coverage": 2, "Organization": 1, "Patient": 1},  # one payor is the patient
        ),
        ("Condition", [], {"Condition": 6}),
        (
            "Observation/$lastn",
            [("code", "http://loinc.org|8302-2,http://loinc.org|8306-3,http://loinc.org|8308-9")],
            {"Observation": 1},
        ),
        (
            "Observation/$lastn",
            [
                ("category", "http://snomed.info/sct|275711006"),
                ("_include", "Observation:related-target"),
                ("_include", "Observation:specimen"),
            ],
            {"Observation": 1, "Specimen": 1},
        ),
        (
            "Encounter",
            [
                (
                    "class",
                    "http://hl7.org/fhir/v3/ActCode|IMP,http://hl7.org/fhir/v3/ActCode|ACUTE,"
                    "http://hl7.org/fhir/v3/ActCode|NONAC",
                )
            ],
            {"Encounter": 2},
        ),
        ("Appointment", [("status", "booked,pending,proposed")], {"Appointment": 1}),
        (
            "DeviceRequest",
            [("status", "active"), ("_include", "DeviceRequest:device")],
            {"DeviceRequest": 1, "Device": 1},
        ),
    ],
)
def test_bgz_cert_searches_give_the_counts_of_the_qualification_table(
    nictiz_sim: Simulator, path: str, params: list[tuple[str, str]], expected: dict[str, int]
) -> None:
    """docs/qualification.md#bgz-searches, scenario 1.1 (XXX_Helleman)."""
    status, bundle = ask(nictiz_sim, path, params, HELLEMAN, version=FhirVersion.STU3)
    assert status == 200
    assert kinds(bundle) == Counter(expected)


def test_immunization_cert_never_shows_the_decoy_or_contained_locations(
    nictiz_sim: Simulator,
) -> None:
    includes = [
        ("_include", "Immunization:patient"),
        ("_include", "Immunization:performer"),
        ("_include", "Immunization:location"),
    ]
    _, bundle = ask(nictiz_sim, "Immunization", includes, BOEKWIJT)
    assert kinds(bundle) == Counter({"Immunization": 2, "Patient": 1, "Organization": 2})
    assert "d8db28de-6b74-11ec-0000-020000000000" not in json.dumps(bundle)
