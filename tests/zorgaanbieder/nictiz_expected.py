"""What the Nictiz qualification patients must yield: their tokens and their counts.

From docs/qualification.md#bgz-searches (BgZ) and docs/qualification.md#vaccinaties-searches
(Vaccinaties); one table for the store tests and the HTTP tests, so that both hold the
server to the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AtLeast:
    """A count the scripts check with ``count() >= n`` rather than ``= n``."""

    count: int


Expected = dict[str, int | AtLeast]


def unmet(found: Mapping[str, int], expected: Expected) -> dict[str, tuple[int, int | AtLeast]]:
    """The resource types whose count in ``found`` is not what ``expected`` asks: (found, asked)."""
    misses: dict[str, tuple[int, int | AtLeast]] = {}
    for resource_type, wanted in expected.items():
        have = found.get(resource_type, 0)
        ok = have >= wanted.count if isinstance(wanted, AtLeast) else have == wanted
        if not ok:
            misses[resource_type] = (have, wanted)
    return misses


# The qualification tokens (Configuration/QualificationTokens.json of the Nictiz material).
HELLEMAN = "93cde269-ce35-4077-a39d-19296670e949"  # BgZ Cert 1.1
MESKER = "6056a9eb-da6a-45dc-b557-e854e138af8f"  # BgZ Cert 1.2: a Patient only
RIJN = "7ce7c666-6f96-40a7-a8fa-922056cb18b4"  # BgZ Test 1
HOFF = "1ddbc5c4-9309-436d-b4c7-8416610c215c"  # BgZ Test 2: a Patient and one Coverage
BOEKWIJT = "43100d9c-e64b-4151-900d-9ce64b8151f5"  # Vaccinaties Cert 1.1
BERGGE = "446823b7-a0c3-4e0d-a823-b7a0c3ce0dbf"  # Vaccinaties Cert 1.2
BOETERS = "12437b6a-3ed2-4cb5-837b-6a3ed23cb549"  # the decoy of the Vaccinaties Cert set
BIEZEN = "bc6173b5-c47b-4181-a173-b5c47b918161"  # Vaccinaties Test 1.1
BEVERS = "431149a1-d761-4ff4-9149-a1d761fff45c"  # Vaccinaties Test 1.2

# The decoy: another patient's data in the same set, which no other token may ever see.
DECOY_PATIENT = "nl-core-Patient--0a184232-6b37-11ec-0000-020000000000"
DECOY_IMMUNIZATION = "d8db28de-6b74-11ec-0000-020000000000"

# docs/qualification.md#bgz-searches, "expected 1.1" (XXX_Helleman): per catalogue query of
# BgZ, the count per type.
HELLEMAN_COUNTS: dict[str, Expected] = {
    "Patient": {"Patient": 1, "Practitioner": 1},
    "Payer": {"Coverage": 2, "Organization": 1},
    "TreatmentDirective": {"Consent": 1},
    "AdvanceDirective": {"Consent": 1},
    "FunctionalOrMentalStatus": {"Observation": 1},
    "Problem": {"Condition": 6},
    "LivingSituation": {"Observation": 1},
    "DrugUse": {"Observation": 1},
    "AlcoholUse": {"Observation": 1},
    "TobaccoUse": {"Observation": 1},
    "NutritionAdvice": {"NutritionOrder": 1},
    "Alert": {"Flag": 1},
    "AllergyIntolerance": {"AllergyIntolerance": 1},
    "MedicationUse": {"MedicationStatement": 1, "Medication": 1},
    "MedicationAgreement": {"MedicationRequest": 1, "Medication": 1},
    "AdministrationAgreement": {"MedicationDispense": 1, "Medication": 1},
    "MedicalDevice": {"DeviceUseStatement": 2, "Device": 2},
    "Vaccination": {"Immunization": 1},
    "BloodPressure": {"Observation": 1},
    "BodyWeight": {"Observation": 1},
    "BodyHeight": {"Observation": 1},
    "LaboratoryTestResult": {"Observation": 1, "Specimen": 1},
    "Procedure": {"Procedure": 2},
    "Contact": {"Encounter": 2},
    "PlannedCareActivity-ProcedureRequest": {"ProcedureRequest": 1},
    "PlannedCareActivity-ImmunizationRecommendation": {"ImmunizationRecommendation": 1},
    "PlannedCareActivity-Appointment": {"Appointment": 1},
    "PlannedCareActivity-DeviceRequest": {"DeviceRequest": 1, "Device": 1},
}

# docs/qualification.md#bgz-searches, BgZ Test scenario 1 (XXX_Rijn). The Test scripts have
# no ImmunizationRecommendation or DeviceRequest request, and ask ProcedureRequest ``count() >= 1``.
RIJN_COUNTS: dict[str, Expected] = {
    **{
        name: counts
        for name, counts in HELLEMAN_COUNTS.items()
        if name
        not in {
            "PlannedCareActivity-ImmunizationRecommendation",
            "PlannedCareActivity-DeviceRequest",
        }
    },
    "Problem": {"Condition": 5},
    "TobaccoUse": {"Observation": 2},
    "MedicationUse": {"MedicationStatement": 2, "Medication": 2},
    "MedicationAgreement": {"MedicationRequest": 2, "Medication": 2},
    "AdministrationAgreement": {"MedicationDispense": 2, "Medication": 2},
    "MedicalDevice": {"DeviceUseStatement": 1, "Device": 1},
    "Vaccination": {"Immunization": 2},
    "LaboratoryTestResult": {"Observation": 4},
    "Procedure": {"Procedure": 1},
    "Contact": {"Encounter": 3},
    "PlannedCareActivity-ProcedureRequest": {"ProcedureRequest": AtLeast(1)},
}

# docs/qualification.md#vaccinaties-searches: the Vaccinaties search per patient, and how
# many Medications the script then reads (one per Immunization, through its
# PharmaceuticalProduct extension).
VACCINATIONS: dict[str, tuple[Expected, int]] = {
    BOEKWIJT: ({"Immunization": 2, "Patient": 1, "Organization": 2, "Location": 0}, 2),
    BERGGE: ({"Immunization": 1, "Patient": 1, "PractitionerRole": 1, "Location": 1}, 1),
    BIEZEN: ({"Immunization": 4, "Patient": 1, "Organization": 4, "Location": 0}, 4),
    BEVERS: (
        {
            "Immunization": 2,
            "Patient": 1,
            "Organization": 1,
            "PractitionerRole": 1,
            "Location": AtLeast(1),
        },
        2,
    ),
}
VACCINATION_SCENARIOS = {
    BOEKWIJT: "cert-1-1-boekwijt",
    BERGGE: "cert-1-2-bergge",
    BIEZEN: "test-1-1-biezen",
    BEVERS: "test-1-2-bevers",
}
