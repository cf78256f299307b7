"""BgZ sections on care given and planned: Vaccination, Procedure, Contact (Encounter)
and the planned care activities ProcedureRequest, ImmunizationRecommendation and
Appointment (zib2017, eAfspraak).

The BgZ queries select Immunization on status completed, Procedure on category
387713003, Encounter on class IMP/ACUTE/NONAC, ProcedureRequest on status active and
Appointment on booked/pending/proposed. A record may also hold what those filters leave
out (a diagnostic procedure, an outpatient contact), as a real record does.
"""

from __future__ import annotations

import random
from datetime import timedelta

from . import codes
from .context import Chart, moment, professional_reference
from .fhir import Json, concept, extension, record_identifier, reference
from .profiles import (
    APPOINTMENT,
    ENCOUNTER,
    PROCEDURE,
    PROCEDURE_REQUEST,
    VACCINATION,
    VACCINATION_RECOMMENDATION,
    VACCINATION_RECOMMENDATION_ORDER_STATUS,
)
from .stu3_pool import BgzPool, Plan

__all__ = [
    "appointment",
    "contact",
    "planned_procedure",
    "procedure",
    "vaccination",
    "vaccination_recommendation",
]


def _reasons(chart: Chart, rng: random.Random) -> list[Json]:
    if not chart.conditions:
        return []
    condition = rng.choice(chart.conditions)
    return [reference(condition, condition["code"]["coding"][0]["display"])]


def vaccination(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for vaccine in rng.sample(codes.VACCINES, rng.randint(1, 4)):
        immunization = chart.new("Immunization", VACCINATION)
        immunization.update(
            identifier=[record_identifier(immunization)],
            status="completed",
            notGiven=False,
            vaccineCode=concept(vaccine),
            patient=chart.patient_reference(),
            date=chart.past(rng, 20).isoformat(),
            primarySource=True,
            practitioner=[{"actor": professional_reference(plan.general_practitioner)}],
        )


def vaccination_recommendation(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    vaccine = rng.choice(codes.VACCINES)
    due = chart.future(rng, 180)
    recommendation = chart.new("ImmunizationRecommendation", VACCINATION_RECOMMENDATION)
    recommendation.update(
        extension=[
            extension(
                VACCINATION_RECOMMENDATION_ORDER_STATUS,
                "valueCodeableConcept",
                concept(codes.RECOMMENDATION_ORDER_STATUS),
            )
        ],
        identifier=[record_identifier(recommendation)],
        patient=chart.patient_reference(),
        recommendation=[
            {
                "date": chart.today.isoformat(),
                "vaccineCode": concept(vaccine),
                "forecastStatus": concept(codes.DUE),
                "dateCriterion": [{"code": concept(codes.RECOMMENDED), "value": moment(due, 9, 0)}],
            }
        ],
    )


def procedure(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    surgical = [op for op in codes.OPERATIONS if op.category == codes.SURGICAL_PROCEDURE]
    chosen = [rng.choice(surgical)]
    # Sometimes a second operation or a diagnostic procedure the BgZ query leaves out.
    chosen += [op for op in rng.sample(codes.OPERATIONS, 2) if op not in chosen][
        : rng.choice((0, 0, 1))
    ]
    for operation in chosen:
        day = chart.past(rng, 15)
        start = rng.randint(8, 14)
        performed = chart.new("Procedure", PROCEDURE)
        performed.update(
            identifier=[record_identifier(performed)],
            status="completed",
            category=concept(operation.category),
            code=concept(operation.term),
            subject=chart.patient_reference(),
            performedPeriod={
                "start": moment(day, start, 0),
                "end": moment(day, start + rng.randint(1, 3), 30),
            },
            performer=[
                {"actor": professional_reference(plan.specialist(pool, rng, operation.specialism))}
            ],
        )
        reasons = _reasons(chart, rng)
        if reasons:
            performed["reasonReference"] = reasons


def contact(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    inpatient = (codes.INPATIENT, codes.INPATIENT_ACUTE, codes.INPATIENT_NON_ACUTE)
    classes = [rng.choice(inpatient)]
    classes += [rng.choice((*inpatient, codes.AMBULATORY)) for _ in range(rng.randint(0, 2))]
    for kind in classes:
        specialist = plan.specialist(pool, rng)
        admitted = chart.past(rng, 10)
        days = 0 if kind == codes.AMBULATORY else rng.randint(1, 9)
        encounter = chart.new("Encounter", ENCOUNTER)
        encounter.update(
            identifier=[record_identifier(encounter)],
            status="finished",
            **{"class": {"system": kind.system, "code": kind.code, "display": kind.display}},
            subject=chart.patient_reference(),
            participant=[{"individual": professional_reference(specialist)}],
            period={
                "start": admitted.isoformat(),
                "end": min(admitted + timedelta(days=days), chart.today).isoformat(),
            },
            serviceProvider=reference(specialist.organization, specialist.organization["name"]),
        )
        reasons = _reasons(chart, rng)
        if reasons:
            encounter["diagnosis"] = [{"condition": reasons[0]}]
        if kind != codes.AMBULATORY:
            encounter["hospitalization"] = {
                "admitSource": concept(codes.HOME),
                "dischargeDisposition": concept(codes.HOME),
            }


def planned_procedure(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    operation = rng.choice(codes.PLANNED)
    specialist = plan.specialist(pool, rng, operation.specialism)
    request = chart.new("ProcedureRequest", PROCEDURE_REQUEST)
    request.update(
        identifier=[record_identifier(request)],
        status="active",
        intent="plan",
        code=concept(operation.term),
        subject=chart.patient_reference(),
        occurrenceDateTime=chart.future(rng, 120).isoformat(),
        authoredOn=chart.past(rng, 0.2).isoformat(),
        requester={"agent": professional_reference(plan.general_practitioner)},
        performer=reference(specialist.organization, specialist.organization["name"]),
    )
    reasons = _reasons(chart, rng)
    if reasons:
        request["reasonReference"] = reasons


def appointment(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    specialist = plan.specialist(pool, rng)
    day = chart.future(rng, 60)
    hour, minute = rng.randint(8, 16), rng.choice((0, 15, 30, 45))
    clinic = pool.outpatient_clinic
    booked = chart.new("Appointment", APPOINTMENT)
    booked.update(
        identifier=[record_identifier(booked)],
        status="booked",
        specialty=[concept(specialist.specialism)],
        description=f"Controle {specialist.specialism.display.lower()}",
        start=moment(day, hour, minute),
        end=moment(day, hour, minute + 15) if minute < 45 else moment(day, hour + 1, 0),
        participant=[
            {"actor": chart.patient_reference(), "status": "accepted"},
            {"actor": professional_reference(specialist), "status": "accepted"},
            {"actor": reference(clinic, clinic["name"]), "status": "accepted"},
        ],
    )
