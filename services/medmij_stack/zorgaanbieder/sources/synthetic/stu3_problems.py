"""BgZ sections Problem (Condition), Alert (Flag) and AllergyIntolerance (zib2017)."""

from __future__ import annotations

import random

from . import codes
from .context import Chart, between, professional_reference
from .fhir import concept, record_identifier
from .profiles import ALERT, ALLERGY_INTOLERANCE, PROBLEM
from .stu3_common import code_specification
from .stu3_pool import BgzPool, Plan

__all__ = ["alert", "allergy_intolerance", "problem"]


def problem(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for item in rng.sample(codes.PROBLEMS, rng.randint(1, 5)):
        onset = chart.past(rng, 25)
        active = item.chronic or rng.random() < 0.3
        condition = chart.new("Condition", PROBLEM)
        condition.update(
            identifier=[record_identifier(condition)],
            clinicalStatus="active" if active else "resolved",
            _clinicalStatus=code_specification(
                codes.ACTIVE_PROBLEM if active else codes.INACTIVE_PROBLEM
            ),
            verificationStatus="confirmed",
            category=[concept(item.kind)],
            code=concept(item.term),
            subject=chart.patient_reference(),
            onsetDateTime=onset.isoformat(),
        )
        if not active:
            condition["abatementDateTime"] = between(rng, onset, chart.today).isoformat()
        condition["asserter"] = professional_reference(
            rng.choice((plan.general_practitioner, plan.specialist(pool, rng)))
        )
        chart.conditions.append(condition)


def alert(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    kind, term = rng.choice(codes.ALERTS)
    flag = chart.new("Flag", ALERT)
    flag.update(
        identifier=[record_identifier(flag)],
        status="active",
        category=concept(kind),
        code=concept(term),
        subject=chart.patient_reference(),
        period={"start": chart.past(rng, 10).isoformat()},
    )


def allergy_intolerance(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for allergen in rng.sample(codes.ALLERGENS, rng.randint(1, 2)):
        severity = rng.choices(("mild", "moderate", "severe"), weights=(4, 3, 1))[0]
        onset = chart.past(rng, 30)
        allergy = chart.new("AllergyIntolerance", ALLERGY_INTOLERANCE)
        allergy.update(
            identifier=[record_identifier(allergy)],
            clinicalStatus="active",
            verificationStatus="confirmed",
            category=[allergen.category],
            _category=[code_specification(allergen.category_term)],
            criticality="high" if severity == "severe" else "low",
            code=concept(allergen.term),
            patient=chart.patient_reference(),
            onsetDateTime=onset.isoformat(),
            lastOccurrence=between(rng, onset, chart.today).isoformat(),
            reaction=[
                {
                    "manifestation": [concept(rng.choice(codes.REACTIONS))],
                    "severity": severity,
                    "_severity": code_specification(codes.SEVERITIES[severity]),
                }
            ],
        )
