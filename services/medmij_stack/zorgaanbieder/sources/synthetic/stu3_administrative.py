"""BgZ sections Patient and Payer (zib Patient via nl-core-patient, zib Payer)."""

from __future__ import annotations

import random

from . import codes, names
from .context import Chart, professional_reference
from .fhir import concept, masked_bsn, record_identifier, reference
from .people import dutch_address, dutch_name, email, mobile_phone
from .profiles import NL_CORE_PATIENT, PAYER
from .stu3_pool import BgzPool, Plan

__all__ = ["patient", "payer"]


def patient(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    person = chart.person
    resource = chart.new_patient(NL_CORE_PATIENT)
    resource.update(
        identifier=[masked_bsn()],
        active=True,
        name=[dutch_name(person.given_name, person.family_name)],
        telecom=[mobile_phone(rng), email(person.given_name, person.family_name)],
        gender=person.gender,
        birthDate=person.birth_date.isoformat(),
        address=[dutch_address(names.address(rng), "home")],
        generalPractitioner=[professional_reference(plan.general_practitioner)],
    )


def payer(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    year = chart.today.year
    insurer = reference(plan.insurer, plan.insurer["name"])
    member_number = f"1{rng.randrange(10**7, 10**8)}"  # starts with 1: never a BSN
    kinds = [codes.BASIC_INSURANCE]
    if rng.random() < 0.6:
        kinds.append(codes.SUPPLEMENTARY_INSURANCE)
    for kind in kinds:
        coverage = chart.new("Coverage", PAYER)
        coverage.update(
            identifier=[record_identifier(coverage)],
            status="active",
            type=concept(kind),
            subscriber=chart.patient_reference(),
            subscriberId=member_number,
            beneficiary=chart.patient_reference(),
            period={"start": f"{year}-01-01", "end": f"{year}-12-31"},
            payor=[insurer],
        )
