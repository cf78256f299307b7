"""Token searches: category, code, status and class, in every token form, confined to the
token's patient, in dataset order."""

from __future__ import annotations

import pytest

from medmij_stack.zorgaanbieder.store import Repository

from .data import ACTCODE, LOINC, MEDICATION_USE, SNOMED, bgz_dataset
from .helpers import match_ids, search


@pytest.fixture
def bgz(repository: Repository) -> Repository:
    assert repository.load(bgz_dataset())
    return repository


def test_a_search_without_parameters_finds_all_of_the_patients_resources_of_that_type(
    bgz: Repository,
) -> None:
    assert match_ids(bgz, "Condition") == ["Condition/cond-a1", "Condition/cond-a2"]
    assert match_ids(bgz, "Condition", patient="pat-b") == ["Condition/cond-b"]
    assert match_ids(bgz, "Patient") == ["Patient/pat-a"]
    assert match_ids(bgz, "Flag") == ["Flag/flag-a"]


def test_system_and_code(bgz: Repository) -> None:
    assert match_ids(bgz, f"Consent?category={SNOMED}|11291000146105") == [
        "Consent/consent-treatment"
    ]
    assert match_ids(bgz, f"Consent?category={SNOMED}|11341000146107") == [
        "Consent/consent-advance"
    ]
    assert match_ids(bgz, f"Observation?code={LOINC}|8302-2") == ["Observation/height"]


def test_code_alone_matches_any_system(bgz: Repository) -> None:
    assert match_ids(bgz, "Observation?code=29463-7") == [
        "Observation/weight-old",
        "Observation/weight-new",
        "Observation/weight-mid",
    ]
    assert match_ids(bgz, "Observation?code=local-1") == ["Observation/no-system"]


def test_bar_code_matches_only_codings_without_a_system(bgz: Repository) -> None:
    assert match_ids(bgz, "Observation?code=|local-1") == ["Observation/no-system"]
    assert match_ids(bgz, "Observation?code=|29463-7") == []


def test_system_bar_matches_any_code_of_that_system(bgz: Repository) -> None:
    assert match_ids(bgz, f"Observation?code={LOINC}|") == [
        "Observation/weight-old",
        "Observation/weight-new",
        "Observation/weight-mid",
        "Observation/height",
        "Observation/lab-chloride",
        "Observation/lab-part",
    ]


def test_a_wrong_system_does_not_match(bgz: Repository) -> None:
    assert match_ids(bgz, f"Observation?code={SNOMED}|29463-7") == []


def test_comma_is_or(bgz: Repository) -> None:
    found = match_ids(
        bgz, f"Observation?code={LOINC}|8302-2,{LOINC}|8306-3,{LOINC}|8308-9,{SNOMED}|365508006"
    )
    assert found == ["Observation/height", "Observation/living"]


def test_a_repeated_parameter_is_and(bgz: Repository) -> None:
    both = f"Observation?category={SNOMED}|275711006&code={LOINC}|2075-0"
    assert match_ids(bgz, both) == ["Observation/lab-part"]
    assert match_ids(bgz, f"Observation?code={LOINC}|2075-0&code={LOINC}|2069-3") == []


def test_observation_category_finds_either_of_several_categories(bgz: Repository) -> None:
    assert match_ids(bgz, f"Observation?category={SNOMED}|118228005,{SNOMED}|384821006") == [
        "Observation/living"
    ]
    assert match_ids(bgz, f"Observation?category={SNOMED}|275711006") == [
        "Observation/lab-chloride",
        "Observation/lab-part",
    ]


def test_status_is_a_code_without_system(bgz: Repository) -> None:
    assert match_ids(bgz, "Immunization?status=completed") == ["Immunization/imm-a"]
    assert match_ids(bgz, "Appointment?status=booked,pending,proposed") == ["Appointment/app-a"]
    assert match_ids(bgz, "ProcedureRequest?status=active") == ["ProcedureRequest/preq-a"]
    assert match_ids(bgz, "DeviceRequest?status=active") == ["DeviceRequest/dr-a"]
    assert match_ids(bgz, "Observation?status=preliminary,amended") == [
        "Observation/living",
        "Observation/free-text",
    ]
    assert match_ids(bgz, "Immunization?status=http://hl7.org/fhir/event-status|completed") == []


def test_stu3_encounter_class_is_a_coding(bgz: Repository) -> None:
    found = match_ids(bgz, f"Encounter?class={ACTCODE}|IMP,{ACTCODE}|ACUTE,{ACTCODE}|NONAC")
    assert found == ["Encounter/enc-imp"]
    assert match_ids(bgz, "Encounter?class=AMB") == ["Encounter/enc-amb"]


def test_medication_category_is_one_codeable_concept(bgz: Repository) -> None:
    assert match_ids(bgz, f"MedicationStatement?category={MEDICATION_USE}|6") == [
        "MedicationStatement/ms-a"
    ]
    assert match_ids(bgz, f"MedicationRequest?category={SNOMED}|16076005") == [
        "MedicationRequest/mr-a",
        "MedicationRequest/mr-a2",
    ]
    assert match_ids(bgz, f"MedicationDispense?category={SNOMED}|422037009") == [
        "MedicationDispense/md-a"
    ]


def test_procedure_category(bgz: Repository) -> None:
    assert match_ids(bgz, f"Procedure?category={SNOMED}|387713003") == ["Procedure/proc-a"]


def test_allergy_category_is_a_code(bgz: Repository) -> None:
    assert match_ids(bgz, "AllergyIntolerance?category=food") == ["AllergyIntolerance/allergy-a"]


def test_escaped_comma_and_bar_are_part_of_the_value(bgz: Repository) -> None:
    # No such codes exist: what matters is that they are one value, not two.
    assert match_ids(bgz, "Observation?code=29463-7\\,8302-2") == []
    assert match_ids(bgz, f"Observation?code={LOINC}\\|29463-7") == []


def test_the_same_codes_of_another_patient_never_match(bgz: Repository) -> None:
    assert match_ids(bgz, "Observation?code=29463-7", patient="pat-b") == ["Observation/b-weight"]
    assert match_ids(bgz, f"Encounter?class={ACTCODE}|IMP", patient="pat-b") == ["Encounter/enc-b"]
    assert match_ids(bgz, "Immunization?status=completed", patient="pat-b") == [
        "Immunization/imm-b"
    ]


def test_a_search_on_a_shared_type_finds_nothing(bgz: Repository) -> None:
    for resource_type in ("Organization", "Practitioner", "PractitionerRole", "Medication"):
        assert match_ids(bgz, resource_type) == []


def test_a_patients_own_device_is_in_their_compartment(bgz: Repository) -> None:
    assert match_ids(bgz, "Device") == ["Device/dev-a"]
    assert match_ids(bgz, "Device", patient="pat-b") == []


def test_an_unknown_patient_or_endpoint_finds_nothing(bgz: Repository) -> None:
    assert match_ids(bgz, "Observation", patient="pat-unknown") == []
    assert search(bgz, "Patient", endpoint=bgz_dataset().endpoint.__class__("x@medmij", "48")) == (
        search(bgz, "Patient", patient="nobody")
    )


def test_results_keep_the_content_exactly_as_loaded(bgz: Repository) -> None:
    loaded = {(r["resourceType"], r["id"]): r for r in bgz_dataset().resources}
    result = search(bgz, "Observation")
    assert result.matches
    for match in result.matches:
        assert match.content == loaded[(match.resource_type, match.id)]
    weight = next(m for m in result.matches if m.id == "weight-new")
    assert weight.content["effectiveDateTime"] == "2020-06-01T10:00:00+02:00"
    assert weight.content["valueQuantity"] == {"value": 72.5, "unit": "kg"}
