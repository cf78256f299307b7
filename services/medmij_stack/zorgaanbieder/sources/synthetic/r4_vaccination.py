"""The synthetic Vaccinaties (gegevensdienst 63, FHIR R4): vaccination histories.

Each person has a Patient (nl-core-Patient) and the vaccinations a Dutch person of
that age plausibly had (COVID-19 from 2021, influenza and pneumococcus from 60, DKTP
at nine, HPV for girls, hepatitis A before travel): imm-Vaccination-event
Immunizations, each with the administered product as its own Medication
(imm-PharmaceuticalProduct, with the batch) through the
``ext-imm-Vaccination.PharmaceuticalProduct`` extension, and the vaccinating
organisation and its location (nl-core-HealthcareProvider[-Organization]) that the
Vaccinaties search includes. With `incomplete`, about half of the vaccinations are
left out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from medmij_stack.protocol.persons import TestPerson

from . import codes, names
from .context import Chart, between, make_id, moment
from .fhir import (
    Json,
    Term,
    concept,
    extension,
    identifier,
    masked_bsn,
    new_resource,
    record_identifier,
    reference,
    ucum,
)
from .people import dutch_address, dutch_name
from .profiles import (
    ANATOMICAL_LOCATION_LATERALITY,
    HEALTHCARE_PROVIDER,
    HEALTHCARE_PROVIDER_ORGANIZATION,
    NL_CORE_PATIENT_R4,
    PHARMACEUTICAL_PRODUCT,
    PHARMACEUTICAL_PRODUCT_EXTENSION,
    VACCINATION_EVENT,
)

__all__ = ["vaccination_records"]


@dataclass(frozen=True)
class _Provider:
    organization: Json
    location: Json

    @property
    def name(self) -> str:
        return str(self.organization["name"])


def _providers(seed: int, zorgaanbieder: str) -> list[_Provider]:
    rng = random.Random(f"{seed}\x1f{zorgaanbieder}\x1f63\x1fpool")  # noqa: S311
    kinds = [(name, codes.PREVENTIVE_CARE_TYPE) for name in rng.sample(names.PREVENTIVE, 2)]
    kinds += [(name, codes.GP_PRACTICE_TYPE) for name in rng.sample(names.PRACTICES, 2)]
    providers = []
    for number, (name, kind) in enumerate(kinds):
        parts = (str(seed), zorgaanbieder, "63", "pool")
        organization = new_resource(
            "Organization",
            make_id(*parts, "Organization", str(number)),
            HEALTHCARE_PROVIDER_ORGANIZATION,
        )
        organization.update(
            identifier=[identifier(codes.URA, f"{rng.randrange(10**7, 10**8)}")],
            type=[concept(kind)],
            name=name,
        )
        place = names.address(rng)
        location = new_resource(
            "Location", make_id(*parts, "Location", str(number)), HEALTHCARE_PROVIDER
        )
        location.update(
            name=f"{name}, {place.town}",
            address=dutch_address(place, "work"),
            managingOrganization=reference(organization, name, typed=True),
        )
        providers.append(_Provider(organization, location))
    return providers


@dataclass(frozen=True)
class _Dose:
    vaccine: codes.Vaccine
    day: date
    number: int
    reason: Term


def _history(chart: Chart, rng: random.Random) -> list[_Dose]:
    """The vaccinations a person of this age plausibly had, oldest first."""
    born, today = chart.person.birth_date, chart.today
    doses: list[_Dose] = []

    def add(kind: str, start: date, end: date, number: int, reason: Term) -> None:
        if start < today and born < start:
            day = between(rng, start, min(end, today - timedelta(days=1)))
            doses.append(_Dose(codes.VACCINES_R4[kind], day, number, reason))

    if born + timedelta(days=365 * 18) < date(2021, 6, 1):
        for number, (start, end) in enumerate(
            ((date(2021, 3, 1), date(2021, 8, 31)), (date(2021, 12, 1), date(2022, 2, 28))),
            start=1,
        ):
            if number == 1 or rng.random() < 0.8:
                add("covid", start, end, number, codes.PROGRAMME)
    if chart.age >= 60:
        for year in range(today.year - 4, today.year + 1):
            if rng.random() < 0.7:
                add("influenza", date(year, 10, 1), date(year, 11, 30), 1, codes.FRAIL_ELDERLY)
        if rng.random() < 0.5:
            add("pneumococcus", today - timedelta(days=5 * 365), today, 1, codes.PROGRAMME)
    nine = born + timedelta(days=round(9.2 * 365.25))
    if rng.random() < 0.6:
        add("dktp", nine, nine + timedelta(days=120), 1, codes.NATIONAL_PROGRAMME)
    if chart.person.gender == "female" and born.year >= 1997:
        twelve = born + timedelta(days=round(12.5 * 365.25))
        add("hpv", twelve, twelve + timedelta(days=60), 1, codes.NATIONAL_PROGRAMME)
    if rng.random() < 0.25:
        trip = chart.past(rng, 10, adult=True)
        add("hepatitis_a", trip - timedelta(days=30), trip, 1, codes.TRAVEL)
    if not doses:  # a person in the GGD's records was vaccinated there at least once
        add("influenza", today - timedelta(days=400), today, 1, codes.PROGRAMME)
    return sorted(doses, key=lambda dose: dose.day)


def _vaccinate(chart: Chart, dose: _Dose, provider: _Provider, rng: random.Random) -> None:
    product = dose.vaccine.product
    medication = chart.new("Medication", PHARMACEUTICAL_PRODUCT)
    lot = f"{dose.vaccine.lot_prefix}{rng.randrange(1000, 10000)}{rng.choice('ABCDEFGH')}"
    medication.update(code=concept(product, text=product.display), batch={"lotNumber": lot})
    protocol: Json = {"doseNumberPositiveInt": dose.number}
    if dose.vaccine.disease is not None:
        protocol = {"targetDisease": [concept(dose.vaccine.disease)], **protocol}
    site = {
        "extension": [
            extension(
                ANATOMICAL_LOCATION_LATERALITY,
                "valueCodeableConcept",
                concept(rng.choice((codes.LEFT, codes.RIGHT))),
            )
        ],
        **concept(codes.UPPER_ARM),
    }
    immunization = chart.new("Immunization", VACCINATION_EVENT)
    immunization.update(
        extension=[
            extension(
                PHARMACEUTICAL_PRODUCT_EXTENSION,
                "valueReference",
                reference(medication, product.display, typed=True),
            )
        ],
        identifier=[record_identifier(immunization)],
        status="completed",
        vaccineCode=concept(product),
        patient=chart.patient_reference(typed=True),
        occurrenceDateTime=moment(dose.day, rng.randint(9, 16), rng.randrange(0, 60, 5)),
        location=reference(provider.location, provider.location["name"], typed=True),
        site=site,
        route=concept(codes.INTRAMUSCULAR),
        doseQuantity=ucum(0.5, "ml", "mL"),
        performer=[
            {
                "function": concept(codes.ADMINISTERING_PROVIDER),
                "actor": reference(provider.organization, provider.name, typed=True),
            }
        ],
        reasonCode=[concept(dose.reason)],
        protocolApplied=[protocol],
    )


def vaccination_records(
    seed: int,
    zorgaanbieder: str,
    persons: Sequence[TestPerson],
    today: date,
    *,
    incomplete: bool,
) -> tuple[list[Json], list[tuple[str, str]]]:
    """The vaccinating organisations and every person's record, and (patient id, BSN)."""
    providers = _providers(seed, zorgaanbieder)
    resources: list[Json] = []
    for provider in providers:
        resources += [provider.organization, provider.location]
    patients: list[tuple[str, str]] = []
    for person in persons:
        chart = Chart(
            person=person,
            today=today,
            base=(str(seed), zorgaanbieder, "63", person.bsn),
            patient_id=make_id(str(seed), zorgaanbieder, "Patient", person.bsn),
        )
        rng = chart.rng("patient")
        patient = chart.new_patient(NL_CORE_PATIENT_R4)
        patient.update(
            identifier=[masked_bsn()],
            name=[dutch_name(person.given_name, person.family_name)],
            gender=person.gender,
            birthDate=person.birth_date.isoformat(),
            address=[dutch_address(names.address(rng), "home")],
        )
        chart.section = "Vaccination"
        history = chart.rng("history")
        leave_out = chart.rng("incomplete")
        usual = rng.choice(providers)
        for dose in _history(chart, history):
            if incomplete and leave_out.random() < 0.5:
                continue
            dose_rng = chart.rng(f"{dose.day.isoformat()} {dose.vaccine.product.code}")
            provider = usual if dose_rng.random() < 0.8 else dose_rng.choice(providers)
            _vaccinate(chart, dose, provider, dose_rng)
        resources.extend(chart.resources)
        patients.append((chart.patient_id, person.bsn))
    return resources, patients
