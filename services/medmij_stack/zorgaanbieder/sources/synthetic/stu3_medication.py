"""BgZ sections MedicationUse, MedicationAgreement and AdministrationAgreement.

MedicationStatement, MedicationRequest and MedicationDispense of the person's products,
with the categories the BgZ queries select on (medication use 6, SNOMED 16076005 and
422037009, fixed by the zib profiles); each points at the pool's Medication (zib-Product),
which ``_include=…:medication`` brings along.
"""

from __future__ import annotations

import random
from datetime import timedelta

from . import codes
from .context import Chart, moment, professional_reference
from .fhir import concept, extension, record_identifier, reference
from .profiles import (
    ADMINISTRATION_AGREEMENT,
    ADMINISTRATION_AGREEMENT_AUTHORED_ON,
    MEDICATION_AGREEMENT,
    MEDICATION_PERIOD_OF_USE,
    MEDICATION_USE,
    MEDICATION_USE_AS_AGREED,
    MEDICATION_USE_PRESCRIBER,
)
from .stu3_common import dosage
from .stu3_pool import BgzPool, Plan

__all__ = ["administration_agreement", "medication_agreement", "medication_use"]


def medication_use(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for product in plan.products:
        start = chart.past(rng, 6)
        prescriber = rng.choice((plan.general_practitioner, plan.specialist(pool, rng)))
        statement = chart.new("MedicationStatement", MEDICATION_USE)
        statement.update(
            extension=[
                extension(MEDICATION_USE_AS_AGREED, "valueBoolean", rng.random() < 0.9),
                extension(
                    MEDICATION_USE_PRESCRIBER,
                    "valueReference",
                    reference(prescriber.role, prescriber.specialism.display),
                ),
            ],
            identifier=[record_identifier(statement)],
            status="active",
            category=concept(codes.MEDICATION_USE),
            medicationReference=reference(pool.medications[product.atc.code], product.name),
            effectivePeriod={"start": start.isoformat()},
            dateAsserted=(start + timedelta(days=rng.randrange(0, 60))).isoformat(),
            informationSource=chart.patient_reference(),
            subject=chart.patient_reference(),
            taken="y",
            dosage=[dosage(product)],
        )


def medication_agreement(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for product in plan.products:
        start = chart.past(rng, 6)
        prescriber = rng.choice((plan.general_practitioner, plan.specialist(pool, rng)))
        request = chart.new("MedicationRequest", MEDICATION_AGREEMENT)
        request.update(
            extension=[
                extension(MEDICATION_PERIOD_OF_USE, "valuePeriod", {"start": start.isoformat()})
            ],
            identifier=[record_identifier(request)],
            status="active",
            intent="order",
            category=concept(codes.MEDICATION_AGREEMENT),
            medicationReference=reference(pool.medications[product.atc.code], product.name),
            subject=chart.patient_reference(),
            authoredOn=moment(start, rng.randint(8, 17), rng.randrange(0, 60, 5)),
            requester={"agent": professional_reference(prescriber)},
            dosageInstruction=[dosage(product)],
        )


def administration_agreement(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for product in plan.products:
        day = chart.past(rng, 2)
        dispense = chart.new("MedicationDispense", ADMINISTRATION_AGREEMENT)
        dispense.update(
            extension=[
                extension(
                    ADMINISTRATION_AGREEMENT_AUTHORED_ON,
                    "valueDateTime",
                    moment(day, rng.randint(8, 17), rng.randrange(0, 60, 5)),
                )
            ],
            identifier=[record_identifier(dispense)],
            status="completed",
            category=concept(codes.ADMINISTRATION_AGREEMENT),
            medicationReference=reference(pool.medications[product.atc.code], product.name),
            subject=chart.patient_reference(),
            performer=[{"actor": reference(plan.pharmacy, plan.pharmacy["name"])}],
            dosageInstruction=[dosage(product)],
        )
