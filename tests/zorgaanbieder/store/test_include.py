"""_include: the BgZ and Vaccinaties include values, typed includes, contained references,
deduplication, and never another patient's resource."""

from __future__ import annotations

import pytest

from medmij_stack.zorgaanbieder.store import Repository

from .data import SNOMED, VACCINATIES, bgz_dataset, vaccinatie_dataset
from .helpers import ids, search


@pytest.fixture
def bgz(repository: Repository) -> Repository:
    assert repository.load(bgz_dataset())
    return repository


@pytest.fixture
def vaccinaties(repository: Repository) -> Repository:
    assert repository.load(vaccinatie_dataset())
    return repository


def test_patient_general_practitioner(bgz: Repository) -> None:
    result = search(bgz, "Patient?_include=Patient:general-practitioner")
    assert ids(result.matches) == ["Patient/pat-a"]
    assert ids(result.includes) == ["Practitioner/prac-gp", "Organization/org-gp"]


def test_without_include_nothing_is_included(bgz: Repository) -> None:
    assert search(bgz, "Patient").includes == ()


def test_typed_coverage_payor_includes_only_that_type(bgz: Repository) -> None:
    organizations = search(bgz, "Coverage?_include=Coverage:payor:Organization")
    assert ids(organizations.matches) == ["Coverage/cov-a1", "Coverage/cov-a2", "Coverage/cov-a3"]
    assert ids(organizations.includes) == ["Organization/org-insurer"]
    patients = search(bgz, "Coverage?_include=Coverage:payor:Patient")
    # cov-a3 is paid by patient B: B's Patient is never handed to A.
    assert ids(patients.includes) == ["Patient/pat-a"]
    both = search(
        bgz, "Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization"
    )
    assert ids(both.includes) == ["Organization/org-insurer", "Patient/pat-a"]
    untyped = search(bgz, "Coverage?_include=Coverage:payor")
    assert ids(untyped.includes) == ids(both.includes)


def test_medication_includes_are_deduplicated_and_resolve_absolute_urls(bgz: Repository) -> None:
    statement = search(
        bgz,
        "MedicationStatement?category=urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3|6"
        "&_include=MedicationStatement:medication",
    )
    assert ids(statement.includes) == ["Medication/med-a"]
    # mr-a by `Medication/med-a`, mr-a2 by an absolute URL with a version: one include.
    request = search(
        bgz,
        f"MedicationRequest?category={SNOMED}|16076005&_include=MedicationRequest:medication",
    )
    assert ids(request.matches) == ["MedicationRequest/mr-a", "MedicationRequest/mr-a2"]
    assert ids(request.includes) == ["Medication/med-a"]


def test_a_contained_reference_is_never_included(bgz: Repository) -> None:
    dispense = search(bgz, "MedicationDispense?_include=MedicationDispense:medication")
    assert ids(dispense.matches) == ["MedicationDispense/md-a"]
    assert dispense.includes == ()


def test_devices_shared_and_own(bgz: Repository) -> None:
    use = search(bgz, "DeviceUseStatement?_include=DeviceUseStatement:device")
    assert ids(use.includes) == ["Device/dev-shared", "Device/dev-a"]
    requested = search(bgz, "DeviceRequest?status=active&_include=DeviceRequest:device")
    assert ids(requested.includes) == ["Device/dev-a"]


def test_observation_related_target_and_specimen(bgz: Repository) -> None:
    result = search(
        bgz,
        "Observation?code=http://loinc.org|2069-3"
        "&_include=Observation:related-target&_include=Observation:specimen",
    )
    assert ids(result.matches) == ["Observation/lab-chloride"]
    # b-weight is a target too, but patient B's: left out. #contained-part is contained.
    assert ids(result.includes) == ["Observation/lab-part", "Specimen/spec-a"]


def test_includes_of_another_patient_stay_theirs(bgz: Repository) -> None:
    result = search(bgz, "MedicationStatement?_include=MedicationStatement:medication", "pat-b")
    assert ids(result.includes) == ["Medication/med-b-only"]
    coverage = search(bgz, "Coverage?_include=Coverage:payor", "pat-b")
    assert ids(coverage.includes) == ["Organization/org-b-only"]


def test_vaccinaties_patient_performer_location(vaccinaties: Repository) -> None:
    result = search(
        vaccinaties,
        "Immunization?_include=Immunization:patient&_include=Immunization:performer"
        "&_include=Immunization:location",
        patient="pat-r",
        endpoint=VACCINATIES,
    )
    assert ids(result.matches) == ["Immunization/imm-r1", "Immunization/imm-r2"]
    # imm-r1's Location is contained (#here): only imm-r2's Location comes along.
    assert ids(result.includes) == [
        "Patient/pat-r",
        "Organization/org-r",
        "PractitionerRole/role-r",
        "Location/loc-r",
    ]
    patient_only = search(
        vaccinaties, "Immunization?_include=Immunization:patient", "pat-r", VACCINATIES
    )
    assert ids(patient_only.includes) == ["Patient/pat-r"]


def test_the_decoy_gets_only_its_own(vaccinaties: Repository) -> None:
    result = search(
        vaccinaties,
        "Immunization?_include=Immunization:patient&_include=Immunization:performer",
        patient="pat-decoy",
        endpoint=VACCINATIES,
    )
    assert ids(result.matches) == ["Immunization/imm-decoy"]
    assert ids(result.includes) == ["Patient/pat-decoy", "Organization/org-decoy"]


def test_a_match_is_never_repeated_as_an_include(bgz: Repository) -> None:
    result = search(bgz, "Observation?_include=Observation:related-target")
    assert "Observation/lab-part" in ids(result.matches)
    assert result.includes == ()
