"""The profile validator: each rule it checks caught when broken, and what it does not check
named instead of passed; then the real Nictiz profiles on the real fixtures."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import ProfileRegistry, ProfileValidator
from medmij_stack.testscript.profiles import validate_base
from medmij_stack.testscript.simulator import FixtureStore, SearchRequest, search

from .conftest import PROFILES, engine_simulator

ENGINE_PATIENT = "http://example.org/fhir/StructureDefinition/engine-patient"
BASE_PATIENT = "http://hl7.org/fhir/StructureDefinition/Patient"

GOOD: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {"profile": [ENGINE_PATIENT]},
    "extension": [
        {"url": "http://example.org/fhir/StructureDefinition/engine-kind", "valueString": "test"}
    ],
    "identifier": [
        {
            "system": "http://fhir.nl/fhir/NamingSystem/bsn",
            "_value": {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                        "valueCode": "masked",
                    }
                ]
            },
        },
        {"system": "urn:oid:2.999", "value": "local-1"},
    ],
    "name": [{"use": "official", "family": "XXX_Engine"}],
    "deceasedBoolean": False,
    "maritalStatus": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}
        ]
    },
    "generalPractitioner": [{"reference": "Practitioner/gp-1", "display": "Dokter"}],
    "contact": [
        {"relationship": [{"coding": [{"system": "http://snomed.info/sct", "code": "72705000"}]}]}
    ],
}


@pytest.fixture(scope="module")
def validator() -> ProfileValidator:
    return ProfileValidator(ProfileRegistry(PROFILES))


def errors(validator: ProfileValidator, resource: dict[str, Any]) -> list[str]:
    report = validator.validate(resource, BASE_PATIENT, FhirVersion.R4)
    return [str(issue) for issue in report.errors]


def test_a_conforming_patient_has_no_errors_and_says_what_was_not_checked(
    validator: ProfileValidator,
) -> None:
    report = validator.validate(GOOD, BASE_PATIENT, FhirVersion.R4)
    assert report.errors == []
    assert report.rules_checked >= 12
    assert f"Patient: {ENGINE_PATIENT}" in report.checked
    not_checked = "\n".join(report.not_checked)
    assert "engine-patient: invariants that use %resource: engine-2" in not_checked
    assert "engine-patient: invariants fhirpathpy cannot evaluate: engine-3" in not_checked
    assert "it selects codes with a filter" in not_checked
    assert "base FHIR invariants" in not_checked


def _change(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    resource = copy.deepcopy(GOOD)
    edit(resource)
    return resource


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "slice minimum",
        lambda r: r["identifier"].pop(0),
        r"Patient.identifier:bsn: at least 1 required, found 0",
    ),
    (
        "slice maximum",
        lambda r: r["identifier"].append(copy.deepcopy(r["identifier"][0])),
        r"Patient.identifier:bsn: at most 1 allowed, found 2",
    ),
    (
        "element minimum",
        lambda r: r.pop("name"),
        r"Patient.name: at least 1 required, found 0",
    ),
    (
        "prohibited element",
        lambda r: r.update(communication=[{"language": {"text": "nl"}}]),
        r"Patient.communication: at most 0 allowed, found 1",
    ),
    (
        "fixed value",
        lambda r: r["name"][0].update(use="usual"),
        r"Patient.name\[0\].use: does not match the fixed value 'official'",
    ),
    (
        "pattern value",
        lambda r: r["maritalStatus"]["coding"].append({"system": "urn:other", "code": "M"}),
        r"Patient.maritalStatus.coding\[1\]: does not match the pattern value",
    ),
    (
        "maxLength",
        lambda r: r["name"][0].update(family="XXX_" + "Engine" * 4),
        r"Patient.name\[0\].family: longer than 20",
    ),
    (
        "choice type",
        lambda r: (r.pop("deceasedBoolean"), r.update(deceasedDateTime="2020-01-01")),
        r"Patient.deceasedDateTime: has type dateTime; allowed: boolean",
    ),
    (
        "required binding",
        lambda r: r["maritalStatus"]["coding"][0].update(code="D"),
        r"Patient.maritalStatus: no code from the required ValueSet "
        r"http://example.org/fhir/ValueSet/engine-marital",
    ),
    (
        "reference target",
        lambda r: r["generalPractitioner"][0].update(reference="Organization/o-1"),
        r"Patient.generalPractitioner\[0\]: refers to a Organization; allowed: Practitioner",
    ),
    (
        "extension profile: value type",
        lambda r: r["extension"][0].update(valueString=None, valueInteger=3),
        r"Patient.extension\[0\].valueInteger: has type integer; allowed: string",
    ),
    (
        "extension slice maximum",
        lambda r: r["extension"].append(copy.deepcopy(r["extension"][0])),
        r"Patient.extension:kind: at most 1 allowed, found 2",
    ),
    (
        "invariant",
        lambda r: r["name"][0].pop("family"),
        r"Patient: engine-1: A patient has a family name",
    ),
]


@pytest.mark.parametrize(("name", "edit", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_rule_is_an_error(
    validator: ProfileValidator, name: str, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    resource = _change(edit)
    if (
        "valueString" in resource["extension"][0]
        and resource["extension"][0]["valueString"] is None
    ):
        del resource["extension"][0]["valueString"]
    found = errors(validator, resource)
    assert any(re.search(expected, line) for line in found), found


def test_a_derived_profile_applies_its_base_profile_too(validator: ProfileValidator) -> None:
    child = _change(
        lambda r: r.update(
            meta={"profile": ["http://example.org/fhir/StructureDefinition/engine-child"]}
        )
    )
    child["name"][0]["use"] = "usual"
    found = errors(validator, child)
    assert any("at least 1 required, found 0" in line and "birthDate" in line for line in found)
    assert any("fixed value 'official'" in line for line in found)


def test_profiles_that_cannot_be_checked_are_named_not_passed(validator: ProfileValidator) -> None:
    orphan = _change(
        lambda r: r.update(
            meta={
                "profile": [
                    "http://example.org/fhir/StructureDefinition/engine-orphan",
                    "http://example.org/fhir/StructureDefinition/nowhere",
                ]
            }
        )
    )
    report = validator.validate(orphan, BASE_PATIENT, FhirVersion.R4)
    assert any("active: at least 1 required" in str(issue) for issue in report.errors)
    text = "\n".join(report.not_checked)
    assert "base profile not in the folder" in text
    assert "not-in-the-folder" in text
    assert "http://example.org/fhir/StructureDefinition/nowhere: not in the profile folder" in text
    without_folder = ProfileValidator().validate(GOOD, BASE_PATIENT, FhirVersion.R4)
    assert without_folder.errors == []
    assert f"{ENGINE_PATIENT}: no profile folder given (--profiles)" in without_folder.not_checked


def test_entries_of_a_bundle_are_checked_against_their_own_profiles(
    validator: ProfileValidator,
) -> None:
    broken = _change(lambda r: r.update(communication=[{"language": {"text": "nl"}}]))
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": "http://x/Patient/p1", "resource": broken}],
    }
    report = validator.validate(
        bundle, "http://hl7.org/fhir/StructureDefinition/Bundle", FhirVersion.R4
    )
    assert [str(issue) for issue in report.errors] == [
        "error: Bundle.entry[0].resource(Patient).communication: at most 0 allowed, found 1 "
        f"[{ENGINE_PATIENT}]"
    ]
    wrong = validator.validate(
        GOOD, "http://hl7.org/fhir/StructureDefinition/Bundle", FhirVersion.R4
    )
    assert any("is a Patient, the profile is for Bundle" in str(issue) for issue in wrong.errors)


def test_the_base_structure_is_checked_with_fhir_resources() -> None:
    bad = {
        "resourceType": "Immunization",
        "status": "given",
        "patient": {"reference": "Patient/p"},
        "vaccineCode": {"text": "x"},
        "unknownElement": 1,
    }
    report = validate_base(bad, FhirVersion.R4)
    found = [str(issue) for issue in report.errors]
    # fhir.resources' code lists can be incomplete, so an unlisted code is a warning.
    assert any(
        issue.severity == "warning" and "code 'given' is not one of completed" in issue.message
        for issue in report.issues
    )
    assert any("Immunization.occurrence[x]: required, but absent" in line for line in found)
    assert any("Immunization.unknownElement" in line for line in found)
    stu3 = [str(issue) for issue in validate_base(bad, FhirVersion.STU3).errors]
    assert any("Immunization.notGiven" in line for line in stu3)


def test_every_nictiz_fixture_conforms_to_its_profiles(nictiz: Path, fhir_profiles: Path) -> None:
    """The fixtures are Nictiz's own examples: a rule this validator checks must not reject
    them (docs/qualification.md#fixtures)."""
    validator = ProfileValidator(ProfileRegistry(fhir_profiles))
    checked = 0
    for version in FhirVersion:
        folders = sorted((nictiz / "output" / version.release).glob("*/*/*/_reference/resources"))
        for folder in folders:
            for resource in FixtureStore.load([folder], version).resources.values():
                base = f"http://hl7.org/fhir/StructureDefinition/{resource['resourceType']}"
                report = validator.validate(resource, base, version)
                assert report.errors == [], (folder.name, resource["id"], report.errors)
                checked += report.rules_checked
    assert checked > 1500


def test_nictiz_profile_rules_catch_broken_resources(nictiz: Path, fhir_profiles: Path) -> None:
    validator = ProfileValidator(ProfileRegistry(fhir_profiles))
    r4 = FixtureStore.load(
        [nictiz / "output/R4/Immunization-2-0/MedMij/Cert/_reference/resources"], FhirVersion.R4
    )
    immunization = copy.deepcopy(r4.get("Immunization", "db4b6028-6b3d-11ec-0000-020000000000"))
    assert immunization is not None
    immunization["extension"].append(copy.deepcopy(immunization["extension"][0]))
    report = validator.validate(
        immunization, "http://hl7.org/fhir/StructureDefinition/Immunization", FhirVersion.R4
    )
    assert any(
        "Immunization.extension:pharmaceuticalProduct: at most 1 allowed, found 2" in str(issue)
        for issue in report.errors
    ), report.errors
    stu3 = FixtureStore.load(
        [nictiz / "output/STU3/BgZ-3-0/MedMij/Cert/_reference/resources"], FhirVersion.STU3
    )
    patient = copy.deepcopy(stu3.get("Patient", "medmij-bgz-patient-ts-01"))
    assert patient is not None
    patient["identifier"] = [
        identifier
        for identifier in patient["identifier"]
        if identifier.get("system") != "http://fhir.nl/fhir/NamingSystem/bsn"
    ] + [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "1"}] * 2
    report = validator.validate(patient, BASE_PATIENT, FhirVersion.STU3)
    assert any("identifier:BSN: at most 1 allowed, found 2" in str(i) for i in report.errors)


def _immunization_bundle() -> dict[str, Any]:
    store = engine_simulator().stores[FhirVersion.R4][0]
    request = SearchRequest(
        "Immunization",
        (("_include", "Immunization:patient"), ("_include", "Immunization:performer")),
    )
    return copy.deepcopy(search(store, "engine-patient-anna", request, "http://fhir.test/r4"))


def _entries(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


BUNDLE = "http://hl7.org/fhir/StructureDefinition/Bundle"


def test_a_search_bundle_of_conforming_resources_has_no_errors(
    validator: ProfileValidator,
) -> None:
    report = validator.validate(_immunization_bundle(), BUNDLE, FhirVersion.R4)
    assert report.errors == []
    checked = "\n".join(report.checked)
    assert (
        "Bundle.entry[0].resource(Immunization): http://example.org/fhir/StructureDefinition/engine-immunization"
        in checked
    )
    assert (
        "resource(Organization): http://example.org/fhir/StructureDefinition/engine-organization"
        in checked
    )
    # A profile that is not in the folder is named, not passed.
    medication = {
        "resourceType": "Medication",
        "meta": {"profile": ["http://example.org/fhir/StructureDefinition/engine-medication"]},
    }
    alone = validator.validate(
        medication, "http://hl7.org/fhir/StructureDefinition/Medication", FhirVersion.R4
    )
    assert alone.errors == []
    assert any("engine-medication: not in the profile folder" in line for line in alone.not_checked)


def test_slices_by_profile_of_the_resolved_reference(validator: ProfileValidator) -> None:
    bundle = _immunization_bundle()
    immunization = _entries(bundle, "Immunization")[0]
    immunization["performer"].append(copy.deepcopy(immunization["performer"][0]))
    report = validator.validate(bundle, BUNDLE, FhirVersion.R4)
    assert [str(issue) for issue in report.errors] == [
        "error: Bundle.entry[0].resource(Immunization).performer:organization: at most 1 "
        "allowed, found 2 [http://example.org/fhir/StructureDefinition/engine-immunization]"
    ]


def test_a_referenced_resource_in_the_bundle_must_conform_to_the_target_profile(
    validator: ProfileValidator,
) -> None:
    bundle = _immunization_bundle()
    _entries(bundle, "Patient")[0]["name"][0]["use"] = "usual"
    report = validator.validate(bundle, BUNDLE, FhirVersion.R4)
    found = [str(issue) for issue in report.errors]
    assert (
        "error: Bundle.entry[0].resource(Immunization).patient: refers to "
        "Patient/engine-patient-anna, which does not conform to engine-patient "
        "[http://example.org/fhir/StructureDefinition/engine-immunization]" in found
    )
    assert any("Patient).name[0].use: does not match the fixed value" in line for line in found)


def test_references_outside_the_bundle_leave_the_slice_undecided(
    validator: ProfileValidator,
) -> None:
    bundle = _immunization_bundle()
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] != "Organization"
    ]
    report = validator.validate(bundle, BUNDLE, FhirVersion.R4)
    assert report.errors == []
    assert any(
        "engine-immunization: slices whose members are unknown: "
        "Immunization.performer:organization "
        "(reference Organization/engine-org-1 cannot be resolved here)" in line
        for line in report.not_checked
    )
