"""BgZ sections on how a person lives: functional or mental status, living situation,
drug, alcohol and tobacco use (Observations) and nutrition advice (NutritionOrder).

The BgZ queries find the Observations by category (118228005, 384821006) or code
(365508006, 228366006, 228273003, 365980008), fixed by the zib profiles.
"""

from __future__ import annotations

import random

from . import codes
from .context import Chart, moment, professional_reference
from .fhir import Json, concept, extension, record_identifier, ucum
from .profiles import (
    ALCOHOL_USE,
    DRUG_USE,
    FUNCTIONAL_OR_MENTAL_STATUS,
    LIVING_SITUATION,
    NUTRITION_ADVICE,
    NUTRITION_ADVICE_EXPLANATION,
    TOBACCO_USE,
)
from .stu3_pool import BgzPool, Plan

__all__ = [
    "alcohol_use",
    "drug_use",
    "functional_or_mental_status",
    "living_situation",
    "nutrition_advice",
    "tobacco_use",
]


def _observation(chart: Chart, profile: str) -> Json:
    observation = chart.new("Observation", profile)
    observation.update(identifier=[record_identifier(observation)], status="final")
    return observation


def functional_or_mental_status(
    chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random
) -> None:
    for status in rng.sample(codes.FUNCTIONAL_STATUSES, rng.randint(1, 2)):
        # Sometimes a second, later finding on the same subject: $lastn returns that one.
        for _ in range(rng.choice((1, 1, 2))):
            observation = _observation(chart, FUNCTIONAL_OR_MENTAL_STATUS)
            observation.update(
                category=[concept(status.category)],
                code=concept(status.code),
                subject=chart.patient_reference(),
                effectivePeriod={"start": chart.past(rng, 8).isoformat()},
                valueCodeableConcept=concept(rng.choice(status.values)),
            )


def living_situation(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    observation = _observation(chart, LIVING_SITUATION)
    observation.update(
        code=concept(codes.LIVING_SITUATION),
        subject=chart.patient_reference(),
        effectiveDateTime=chart.past(rng, 5).isoformat(),
        valueCodeableConcept=concept(rng.choice(codes.HOUSING)),
    )


def drug_use(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    status = rng.choice(codes.DRUG_STATUSES)
    observation = _observation(chart, DRUG_USE)
    start = chart.past(rng, 30, adult=True)
    observation.update(
        code=concept(codes.DRUG_USE),
        subject=chart.patient_reference(),
        effectivePeriod={"start": str(start.year)},
        valueCodeableConcept=concept(status),
    )
    if status.code != "228368007":  # who never used drugs has no drug to name
        drug = rng.choice(codes.DRUGS)
        observation["component"] = [
            {"code": concept(codes.DRUG_OR_MEDICINE), "valueCodeableConcept": concept(drug)}
        ]


def alcohol_use(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    status = rng.choices(codes.ALCOHOL_STATUSES, weights=(6, 2, 1, 2))[0]
    observation = _observation(chart, ALCOHOL_USE)
    observation.update(
        code=concept(codes.ALCOHOL_USE),
        subject=chart.patient_reference(),
        effectiveDateTime=chart.past(rng, 3).isoformat(),
        valueCodeableConcept=concept(status),
    )
    if status.code == "219006":
        glasses = rng.randint(1, 21)
        observation["component"] = [
            {
                "code": concept(codes.ALCOHOL_AMOUNT),
                "valueQuantity": ucum(glasses, "glazen per week", "{glazen}/wk"),
            }
        ]


def tobacco_use(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    status = rng.choices(codes.TOBACCO_STATUSES, weights=(3, 1, 3, 5))[0]
    observation = _observation(chart, TOBACCO_USE)
    start = chart.past(rng, 40, adult=True)
    observation.update(
        code=concept(codes.TOBACCO_USE),
        subject=chart.patient_reference(),
        effectivePeriod={"start": str(start.year)},
        valueCodeableConcept=concept(status),
    )
    if status.code in ("449868002", "230059006", "8517006"):
        per_day = rng.randint(2, 25)
        years = max(1, chart.today.year - start.year)
        observation["component"] = [
            {
                "code": concept(codes.TOBACCO_TYPE),
                "valueCodeableConcept": concept(rng.choice(codes.TOBACCO_TYPES)),
            },
            {
                "code": concept(codes.TOBACCO_AMOUNT),
                "valueQuantity": ucum(per_day, "sigaretten per dag", "{sigaretten}/d"),
            },
            {
                "code": concept(codes.PACK_YEARS),
                "valueQuantity": ucum(round(per_day / 20 * years, 1), "pakjaren", "{PackYears}"),
            },
        ]


def nutrition_advice(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    advice = rng.choice(codes.NUTRITION_ADVICE)
    order = chart.new("NutritionOrder", NUTRITION_ADVICE)
    if rng.random() < 0.5:
        order["extension"] = [
            extension(NUTRITION_ADVICE_EXPLANATION, "valueString", "Advies van de diëtist")
        ]
    day = chart.past(rng, 4)
    order.update(
        identifier=[record_identifier(order)],
        status="active",
        patient=chart.patient_reference(),
        dateTime=moment(day, rng.randint(8, 16), rng.choice((0, 15, 30, 45))),
        orderer=professional_reference(plan.specialist(pool, rng)),
        oralDiet={"type": [{"text": advice}]},
    )
