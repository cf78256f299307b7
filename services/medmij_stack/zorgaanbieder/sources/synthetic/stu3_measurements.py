"""BgZ sections BloodPressure, BodyWeight, BodyHeight and LaboratoryTestResult.

The BgZ asks these with ``Observation/$lastn``, the latest per code, so a person often
has several measurements over time. Laboratory results carry the category the query
selects on (275711006) beside the zib's own (49581000146104); tests of one order share
a Specimen, and a panel Observation points at its tests (``related`` has-member), which
``_include=Observation:related-target`` brings along.
"""

from __future__ import annotations

import random
from datetime import date

from . import codes
from .context import Chart, moment
from .fhir import Json, Term, concept, record_identifier, reference, ucum
from .profiles import (
    BLOOD_PRESSURE,
    BODY_HEIGHT,
    BODY_WEIGHT,
    LABORATORY_TEST_RESULT,
    SPECIMEN,
)
from .stu3_pool import BgzPool, Plan

__all__ = ["blood_pressure", "body_height", "body_weight", "laboratory_test_result"]


def _measurement(chart: Chart, profile: str, code: Json, day: date, rng: random.Random) -> Json:
    observation = chart.new("Observation", profile)
    observation.update(
        identifier=[record_identifier(observation)],
        status="final",
        category=[concept(codes.VITAL_SIGNS)],
        code=code,
        subject=chart.patient_reference(),
        effectiveDateTime=moment(day, rng.randint(8, 17), rng.randrange(0, 60)),
    )
    return observation


def _days(chart: Chart, rng: random.Random, most: int) -> list[date]:
    return sorted(chart.past(rng, 4) for _ in range(rng.randint(1, most)))


def blood_pressure(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    systolic_base = rng.randint(105, 150) + max(0, chart.age - 50) // 3
    for day in _days(chart, rng, 4):
        systolic = systolic_base + rng.randint(-8, 8)
        diastolic = round(systolic * rng.uniform(0.55, 0.68))
        observation = _measurement(chart, BLOOD_PRESSURE, concept(codes.BLOOD_PRESSURE), day, rng)
        observation["component"] = [
            {"code": concept(codes.SYSTOLIC), "valueQuantity": ucum(systolic, "mmHg", "mm[Hg]")},
            {"code": concept(codes.DIASTOLIC), "valueQuantity": ucum(diastolic, "mmHg", "mm[Hg]")},
        ]


def _height_cm(chart: Chart) -> int:
    # Stable per person (not per measurement): a person does not grow between visits.
    rng = chart.rng("height")
    mean = 181 if chart.person.gender == "male" else 168
    return round(rng.gauss(mean, 7))


def body_weight(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    metres = _height_cm(chart) / 100
    bmi = rng.uniform(19, 33)
    for day in _days(chart, rng, 3):
        kilograms = round(bmi * metres * metres + rng.uniform(-2, 2), 1)
        observation = _measurement(chart, BODY_WEIGHT, concept(codes.BODY_WEIGHT), day, rng)
        observation["valueQuantity"] = ucum(kilograms, "kg", "kg")


def body_height(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    terms: tuple[Term, ...] = (codes.BODY_HEIGHT,)
    if rng.random() < 0.5:
        terms = (codes.BODY_HEIGHT, codes.BODY_HEIGHT_STANDING)
    observation = _measurement(chart, BODY_HEIGHT, concept(*terms), chart.past(rng, 4), rng)
    observation["valueQuantity"] = ucum(_height_cm(chart), "cm", "cm")


def _value(test: codes.LabTest, rng: random.Random) -> tuple[float, tuple[Term, Term]]:
    low, high = test.low, test.high
    normal = rng.random() < 0.75
    if low is not None and high is not None:
        span = high - low
        if normal:
            value, flag = rng.uniform(low, high), codes.NORMAL
        elif rng.random() < 0.5:
            value, flag = rng.uniform(high, high + span * 0.4), codes.HIGH
        else:
            value, flag = rng.uniform(max(low - span * 0.3, low * 0.5), low), codes.LOW
    elif high is not None:
        value, flag = (
            (rng.uniform(high * 0.3, high), codes.NORMAL)
            if normal
            else (rng.uniform(high, high * 1.8), codes.HIGH)
        )
    else:
        assert low is not None
        value, flag = (
            (rng.uniform(low, low * 1.6), codes.NORMAL)
            if normal
            else (rng.uniform(low * 0.5, low), codes.LOW)
        )
    return round(value, test.decimals) if test.decimals else round(value), flag


def _range(test: codes.LabTest) -> Json:
    bounds: Json = {}
    if test.low is not None:
        bounds["low"] = ucum(test.low, test.unit, test.ucum)
    if test.high is not None:
        bounds["high"] = ucum(test.high, test.unit, test.ucum)
    return bounds


def laboratory_test_result(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for panel in rng.sample(codes.LAB_PANELS, rng.randint(1, 3)):
        day = chart.past(rng, 3)
        collected = moment(day, rng.randint(7, 10), rng.randrange(0, 60))
        resulted = moment(day, rng.randint(12, 16), rng.randrange(0, 60))
        specimen = chart.new("Specimen", SPECIMEN)
        specimen.update(
            identifier=[record_identifier(specimen)],
            type=concept(panel.specimen),
            subject=chart.patient_reference(),
            receivedTime=collected,
            collection={"collectedDateTime": collected},
        )
        members: list[tuple[Json, Term]] = []
        for test in panel.tests:
            value, flag = _value(test, rng)
            result = _lab_observation(chart, test.term, resulted, specimen, panel.specimen)
            result.update(
                valueQuantity=ucum(value, test.unit, test.ucum),
                interpretation=concept(*flag),
                referenceRange=[_range(test)],
            )
            members.append((result, test.term))
        if panel.term is not None:
            result = _lab_observation(chart, panel.term, resulted, specimen, panel.specimen)
            result["related"] = [
                {"type": "has-member", "target": reference(member, term.display)}
                for member, term in members
            ]


def _lab_observation(
    chart: Chart, code: Term, effective: str, specimen: Json, material: Term
) -> Json:
    observation = chart.new("Observation", LABORATORY_TEST_RESULT)
    observation.update(
        identifier=[record_identifier(observation)],
        status="final",
        category=[concept(codes.LABORATORY_FINDING), concept(codes.LABORATORY_CHEMISTRY)],
        code=concept(code),
        subject=chart.patient_reference(),
        effectiveDateTime=effective,
        specimen=reference(specimen, material.display),
    )
    return observation
