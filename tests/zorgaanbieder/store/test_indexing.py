"""What the store reads out of a resource at load time: references, owners, tokens and
the $lastn keys (no database)."""

from __future__ import annotations

import json

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.store.compartment import owner
from medmij_stack.zorgaanbieder.store.indexing import (
    all_references,
    lastn_code,
    normalise_instant,
    parse_reference,
    tokens,
)


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("Patient/pat-a", ("Patient", "pat-a")),
        ("Medication/med-a/_history/3", ("Medication", "med-a")),
        ("https://fhir.example.nl/fhir/stu3/Organization/org.1", ("Organization", "org.1")),
        ("http://x/Practitioner/p/_history/1", ("Practitioner", "p")),
        ("#contained", None),
        ("urn:uuid:0c6d3e5e-6e0e-4f4e-9a8e-1a2b3c4d5e6f", None),
        ("Patient", None),
        ("Patient/", None),
        ("patient/pat-a", None),
        ("Patient/has space", None),
        ("Patient/pat-a/extra", None),
    ],
)
def test_parse_reference(reference: str, parsed: tuple[str, str] | None) -> None:
    assert parse_reference(reference) == parsed


def test_all_references_include_extensions_and_contained_resources() -> None:
    immunization = {
        "resourceType": "Immunization",
        "id": "i",
        "contained": [
            {
                "resourceType": "Location",
                "id": "l",
                "managingOrganization": {"reference": "Organization/o"},
            }
        ],
        "extension": [{"url": "u", "valueReference": {"reference": "Medication/m"}}],
        "patient": {"reference": "Patient/p"},
        "location": {"reference": "#l"},
        # Text that looks like a reference is not one.
        "note": [{"text": '{"reference":"Patient/not-a-reference"}'}],
    }
    for text in (json.dumps(immunization), json.dumps(immunization, separators=(",", ":"))):
        assert sorted(all_references(text)) == [
            ("Medication", "m"),
            ("Organization", "o"),
            ("Patient", "p"),
        ]


def test_all_references_reads_escaped_text() -> None:
    assert list(all_references('{"subject":{"reference":"Patient\\/p\\u002d1"}}')) == [
        ("Patient", "p-1")
    ]


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("2020", "2020-01-01T00:00:00.000000"),
        ("2020-03", "2020-03-01T00:00:00.000000"),
        ("2013-02-08", "2013-02-08T00:00:00.000000"),
        ("2013-02-07T08:53:00+02:00", "2013-02-07T06:53:00.000000"),
        ("2013-02-07T08:53:00Z", "2013-02-07T08:53:00.000000"),
        ("2013-02-07T08:53:00.25-01:30", "2013-02-07T10:23:00.250000"),
        ("2020-13-01", None),
        ("yesterday", None),
        ("${DATE, T, Y, -1}", None),
    ],
)
def test_normalise_instant(value: str, normalised: str | None) -> None:
    assert normalise_instant(value) == normalised


def test_tokens_of_codes_codings_and_concepts() -> None:
    encounter = {
        "resourceType": "Encounter",
        "id": "e",
        "status": "finished",
        "class": {"system": "http://hl7.org/fhir/v3/ActCode", "code": "IMP"},
    }
    assert tokens(FhirVersion.STU3, encounter) == {
        ("status", "", "finished"),
        ("class", "http://hl7.org/fhir/v3/ActCode", "IMP"),
    }
    request_r4 = {  # R4: category repeats
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "active",
        "category": [
            {"coding": [{"system": "http://snomed.info/sct", "code": "16076005"}]},
            {"text": "only text"},
        ],
    }
    assert tokens(FhirVersion.R4, request_r4) == {
        ("status", "", "active"),
        ("category", "http://snomed.info/sct", "16076005"),
    }
    assert (
        tokens(FhirVersion.STU3, {"resourceType": "Organization", "id": "o", "active": True})
        == set()
    )


def test_lastn_code_is_the_set_of_codings() -> None:
    one = {"code": {"coding": [{"system": "s", "code": "b"}, {"system": "s", "code": "a"}]}}
    other_order = {"code": {"coding": [{"system": "s", "code": "a"}, {"system": "s", "code": "b"}]}}
    assert lastn_code(one) == lastn_code(other_order) == "s|a\ns|b"
    assert lastn_code({"code": {"text": "vrij"}}) == "text:vrij"
    assert lastn_code({}) == ""


@pytest.mark.parametrize(
    ("version", "resource", "expected"),
    [
        (FhirVersion.STU3, {"resourceType": "Patient", "id": "p"}, "p"),
        (
            FhirVersion.STU3,
            {"resourceType": "Observation", "id": "o", "subject": {"reference": "Patient/p"}},
            "p",
        ),
        (
            FhirVersion.STU3,
            {"resourceType": "Observation", "id": "o", "subject": {"reference": "Group/g"}},
            None,
        ),
        (FhirVersion.STU3, {"resourceType": "Observation", "id": "o"}, None),
        (
            FhirVersion.STU3,
            {
                "resourceType": "Coverage",
                "id": "c",
                "subscriber": {"reference": "Patient/q"},
                "beneficiary": {"reference": "Patient/p"},
            },
            "p",
        ),
        (
            FhirVersion.STU3,
            {
                "resourceType": "Appointment",
                "id": "a",
                "participant": [
                    {"actor": {"reference": "Location/l"}},
                    {"actor": {"reference": "Patient/p"}},
                    {"actor": {"reference": "Patient/q"}},
                ],
            },
            "p",
        ),
        (FhirVersion.STU3, {"resourceType": "Specimen", "id": "s"}, None),
        (
            FhirVersion.STU3,
            {"resourceType": "Device", "id": "d", "patient": {"reference": "Patient/p"}},
            "p",
        ),
        (FhirVersion.STU3, {"resourceType": "Organization", "id": "o"}, None),
        (
            FhirVersion.STU3,
            {"resourceType": "ProcedureRequest", "id": "r", "subject": {"reference": "Patient/p"}},
            "p",
        ),
        (
            FhirVersion.R4,
            {"resourceType": "ServiceRequest", "id": "r", "subject": {"reference": "Patient/p"}},
            "p",
        ),
        (
            FhirVersion.R4,
            {"resourceType": "Immunization", "id": "i", "patient": {"reference": "Patient/p"}},
            "p",
        ),
        (
            FhirVersion.R4,
            {"resourceType": "Immunization", "id": "i", "patient": {"reference": "#p"}},
            None,
        ),
    ],
)
def test_owner(version: str, resource: dict[str, object], expected: str | None) -> None:
    assert owner(version, resource) == expected  # type: ignore[arg-type]
