"""The synthetic BgZ (gegevensdienst 48, FHIR STU3): one record per person.

A record has a section per search of the BgZ (catalogue 48, by query name). The
Patient is always there; the others appear per person with a chance that follows how
common the data is, except for the first person, the predictable demo login, whose
record has every section. With `incomplete`, about half of each person's sections are
left out as well, to show a PGO how gaps look. Each section draws from its own seeded
random stream, so leaving one out changes no other section's resources or ids, only
what they can point at (a contact names a problem only when the record has problems).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date

from medmij_stack.protocol.persons import TestPerson

from . import (
    stu3_administrative,
    stu3_care,
    stu3_devices,
    stu3_directives,
    stu3_lifestyle,
    stu3_measurements,
    stu3_medication,
    stu3_problems,
)
from .context import Chart, make_id
from .fhir import Json
from .stu3_pool import BgzPool, Plan, build_pool, plan_for

__all__ = ["SECTIONS", "bgz_records"]

Section = Callable[[Chart, BgzPool, Plan, random.Random], None]

#: Query name (catalogue 48) → what writes it and how often a record has it.
SECTIONS: dict[str, tuple[Section, float]] = {
    "Patient": (stu3_administrative.patient, 1.0),
    "Payer": (stu3_administrative.payer, 0.95),
    "TreatmentDirective": (stu3_directives.treatment_directive, 0.3),
    "AdvanceDirective": (stu3_directives.advance_directive, 0.25),
    "FunctionalOrMentalStatus": (stu3_lifestyle.functional_or_mental_status, 0.4),
    "Problem": (stu3_problems.problem, 0.85),
    "LivingSituation": (stu3_lifestyle.living_situation, 0.6),
    "DrugUse": (stu3_lifestyle.drug_use, 0.3),
    "AlcoholUse": (stu3_lifestyle.alcohol_use, 0.7),
    "TobaccoUse": (stu3_lifestyle.tobacco_use, 0.7),
    "NutritionAdvice": (stu3_lifestyle.nutrition_advice, 0.2),
    "Alert": (stu3_problems.alert, 0.2),
    "AllergyIntolerance": (stu3_problems.allergy_intolerance, 0.35),
    "MedicationUse": (stu3_medication.medication_use, 0.65),
    "MedicationAgreement": (stu3_medication.medication_agreement, 0.6),
    "AdministrationAgreement": (stu3_medication.administration_agreement, 0.5),
    "MedicalDevice": (stu3_devices.medical_device, 0.25),
    "Vaccination": (stu3_care.vaccination, 0.6),
    "BloodPressure": (stu3_measurements.blood_pressure, 0.7),
    "BodyWeight": (stu3_measurements.body_weight, 0.7),
    "BodyHeight": (stu3_measurements.body_height, 0.6),
    "LaboratoryTestResult": (stu3_measurements.laboratory_test_result, 0.65),
    "Procedure": (stu3_care.procedure, 0.45),
    "Contact": (stu3_care.contact, 0.55),
    "PlannedCareActivity-ProcedureRequest": (stu3_care.planned_procedure, 0.25),
    "PlannedCareActivity-ImmunizationRecommendation": (
        stu3_care.vaccination_recommendation,
        0.15,
    ),
    "PlannedCareActivity-Appointment": (stu3_care.appointment, 0.35),
    "PlannedCareActivity-DeviceRequest": (stu3_devices.planned_device, 0.1),
}


def bgz_records(
    seed: int,
    zorgaanbieder: str,
    persons: Sequence[TestPerson],
    today: date,
    *,
    incomplete: bool,
) -> tuple[list[Json], list[tuple[str, str]]]:
    """The pool and every person's record, and (patient id, BSN) per person."""
    pool = build_pool(seed, zorgaanbieder)
    resources = list(pool.resources)
    patients: list[tuple[str, str]] = []
    for index, person in enumerate(persons):
        base = (str(seed), zorgaanbieder, "48", person.bsn)
        chart = Chart(
            person=person,
            today=today,
            base=base,
            patient_id=make_id(str(seed), zorgaanbieder, "Patient", person.bsn),
        )
        plan = plan_for(pool, chart.rng("plan"))
        chance = chart.rng("sections")
        leave_out = chart.rng("incomplete")
        for name, (write, likelihood) in SECTIONS.items():
            # Draw for every section, present or not, so each draw stays in its place.
            present = index == 0 or chance.random() < likelihood
            dropped = incomplete and leave_out.random() < 0.5
            if name != "Patient" and (not present or dropped):
                continue
            chart.section = name
            write(chart, pool, plan, chart.rng(name))
        resources.extend(chart.resources)
        patients.append((chart.patient_id, person.bsn))
    return resources, patients
