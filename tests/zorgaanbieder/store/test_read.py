"""read: a patient's own resources, and shared resources their data references; never
another patient's, never a shared resource only another patient references."""

from __future__ import annotations

import pytest

from medmij_stack.zorgaanbieder.dataset import EndpointKey
from medmij_stack.zorgaanbieder.store import Repository

from .data import BGZ, VACCINATIES, bgz_dataset, vaccinatie_dataset


@pytest.fixture
def loaded(repository: Repository) -> Repository:
    assert repository.load(bgz_dataset())
    assert repository.load(vaccinatie_dataset())
    return repository


def readable(
    repository: Repository, patient: str, reference: str, endpoint: EndpointKey = BGZ
) -> bool:
    resource_type, _, resource_id = reference.partition("/")
    found = repository.read(endpoint, patient, resource_type, resource_id)
    if found is not None:
        assert (found.resource_type, found.id) == (resource_type, resource_id)
        assert found.content["id"] == resource_id
    return found is not None


def test_a_patient_reads_their_own_resources(loaded: Repository) -> None:
    for reference in ("Patient/pat-a", "Observation/weight-new", "Device/dev-a", "Specimen/spec-a"):
        assert readable(loaded, "pat-a", reference), reference


def test_never_another_patients_resources(loaded: Repository) -> None:
    for reference in ("Patient/pat-b", "Observation/b-weight", "Coverage/cov-b"):
        assert not readable(loaded, "pat-a", reference), reference
    for reference in ("Patient/pat-a", "Observation/weight-new", "Device/dev-a"):
        assert not readable(loaded, "pat-b", reference), reference


def test_shared_resources_that_the_patients_data_references(loaded: Repository) -> None:
    for reference in (
        "Practitioner/prac-gp",  # Patient.generalPractitioner
        "Organization/org-insurer",  # Coverage.payor
        "Medication/med-a",  # MedicationStatement.medicationReference
        "PractitionerRole/role-a",  # in an extension of Observation.performer
        "Organization/org-of-role",  # only through PractitionerRole/role-a
        "Location/loc-a",  # Appointment.participant.actor
        "Device/dev-shared",
    ):
        assert readable(loaded, "pat-a", reference), reference


def test_not_shared_resources_only_another_patient_references(loaded: Repository) -> None:
    assert readable(loaded, "pat-b", "Organization/org-b-only")
    assert readable(loaded, "pat-b", "Medication/med-b-only")
    assert not readable(loaded, "pat-a", "Organization/org-b-only")
    assert not readable(loaded, "pat-a", "Medication/med-b-only")
    assert not readable(loaded, "pat-b", "Medication/med-a")


def test_not_shared_resources_nobody_references(loaded: Repository) -> None:
    assert not readable(loaded, "pat-a", "Organization/org-unreferenced")


def test_contained_resources_are_not_resources_of_their_own(loaded: Repository) -> None:
    assert not readable(loaded, "pat-a", "Medication/contained-med")
    assert not readable(loaded, "pat-r", "Location/here", VACCINATIES)


def test_unknown_ids_types_and_endpoints(loaded: Repository) -> None:
    assert not readable(loaded, "pat-a", "Observation/does-not-exist")
    assert not readable(loaded, "pat-a", "Nonsense/weight-new")
    assert not readable(loaded, "pat-a", "Patient/pat-a", VACCINATIES)


def test_vaccinaties_medication_reads_and_the_decoy(loaded: Repository) -> None:
    # The Vaccinaties script reads each Medication the PharmaceuticalProduct extension names.
    assert readable(loaded, "pat-r", "Medication/med-r1", VACCINATIES)
    assert readable(loaded, "pat-r", "Medication/med-r2", VACCINATIES)
    assert readable(loaded, "pat-r", "Organization/org-r", VACCINATIES)
    for reference in ("Medication/med-decoy", "Organization/org-decoy", "Patient/pat-decoy"):
        assert not readable(loaded, "pat-r", reference, VACCINATIES), reference
    assert not readable(loaded, "pat-r", "Immunization/imm-decoy", VACCINATIES)
    # The same ids in the other endpoint's data are out of reach.
    assert not readable(loaded, "pat-a", "Medication/med-r1", VACCINATIES)
