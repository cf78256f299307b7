"""The shared resources of one zorgaanbieder's BgZ: its hospital, departments and
specialists, the general practices of its patients, insurers, pharmacies and the
products it prescribes (nl-core-organization, nl-core-practitioner(role),
nl-core-location, zib-Product). Patients' records point at these.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import codes, names
from .context import Professional, make_id
from .fhir import Json, Term, concept, identifier, new_resource, reference
from .people import dutch_address, dutch_name
from .profiles import (
    NL_CORE_LOCATION,
    NL_CORE_ORGANIZATION,
    NL_CORE_PRACTITIONER,
    NL_CORE_PRACTITIONERROLE,
    PRODUCT,
)

__all__ = ["BgzPool", "Plan", "build_pool", "plan_for"]


@dataclass(frozen=True)
class BgzPool:
    resources: tuple[Json, ...]
    hospital: Json
    departments: dict[str, Json]  # by AGB specialism code
    specialists: dict[str, tuple[Professional, ...]]  # by AGB specialism code
    general_practitioners: tuple[Professional, ...]
    insurers: tuple[Json, ...]
    pharmacies: tuple[Json, ...]
    outpatient_clinic: Json
    medications: dict[str, Json]  # by ATC code


@dataclass(frozen=True)
class Plan:
    """What one person's record draws from the pool, chosen once for all its sections."""

    general_practitioner: Professional
    insurer: Json
    pharmacy: Json
    products: tuple[codes.Product, ...]
    specialisms: tuple[str, ...]  # AGB codes of the departments that treat the person

    def specialist(
        self, pool: BgzPool, rng: random.Random, code: str | None = None
    ) -> Professional:
        return rng.choice(pool.specialists[code or rng.choice(self.specialisms)])


def plan_for(pool: BgzPool, rng: random.Random) -> Plan:
    return Plan(
        general_practitioner=rng.choice(pool.general_practitioners),
        insurer=rng.choice(pool.insurers),
        pharmacy=rng.choice(pool.pharmacies),
        products=tuple(rng.sample(codes.PRODUCTS, rng.randint(1, 4))),
        specialisms=tuple(rng.sample([s.term.code for s in codes.SPECIALISMS], rng.randint(1, 3))),
    )


class _Writer:
    def __init__(self, seed: int, zorgaanbieder: str) -> None:
        self.base = (str(seed), zorgaanbieder, "48", "pool")
        self.resources: list[Json] = []
        self.counters: dict[str, int] = {}

    def new(self, resource_type: str, profile: str) -> Json:
        number = self.counters.get(resource_type, 0)
        self.counters[resource_type] = number + 1
        resource_id = make_id(*self.base, resource_type, str(number))
        resource = new_resource(resource_type, resource_id, profile)
        self.resources.append(resource)
        return resource


def _organization(writer: _Writer, name: str, kind: Term | None, ident: Json) -> Json:
    organization = writer.new("Organization", NL_CORE_ORGANIZATION)
    organization["identifier"] = [ident]
    if kind is not None:
        organization["type"] = [concept(kind)]
    organization["name"] = name
    return organization


def _ura(rng: random.Random) -> Json:
    return identifier(codes.URA, f"{rng.randrange(10**7, 10**8)}")


def _professional(
    writer: _Writer, rng: random.Random, organization: Json, specialism: Term
) -> Professional:
    person = names.professional(rng)
    practitioner = writer.new("Practitioner", NL_CORE_PRACTITIONER)
    # UZI numbers start with 0 here: nine digits that can never be a (9999…) test BSN.
    practitioner.update(
        identifier=[identifier(codes.UZI_PERSON, f"0{rng.randrange(10**7, 10**8)}")],
        name=[dutch_name(person.initials, person.family, initials=True)],
    )
    role = writer.new("PractitionerRole", NL_CORE_PRACTITIONERROLE)
    role.update(
        practitioner=reference(practitioner, person.text),
        organization=reference(organization, organization["name"]),
        specialty=[concept(specialism)],
    )
    return Professional(practitioner, role, organization, person.text, specialism)


def build_pool(seed: int, zorgaanbieder: str) -> BgzPool:
    rng = random.Random(f"{seed}\x1f{zorgaanbieder}\x1f48\x1fpool")  # noqa: S311
    writer = _Writer(seed, zorgaanbieder)
    hospital_name = rng.choice(names.HOSPITALS)
    hospital = _organization(writer, hospital_name, codes.HOSPITAL_TYPE, _ura(rng))
    hospital["address"] = [dutch_address(names.address(rng), "work")]
    departments: dict[str, Json] = {}
    specialists: dict[str, tuple[Professional, ...]] = {}
    for specialism in codes.SPECIALISMS:
        department = _organization(
            writer, f"{specialism.department} - {hospital_name}", specialism.term, _ura(rng)
        )
        department["partOf"] = reference(hospital, hospital_name)
        departments[specialism.term.code] = department
        specialists[specialism.term.code] = tuple(
            _professional(writer, rng, department, specialism.term) for _ in range(2)
        )
    general_practitioners: list[Professional] = []
    for practice_name in names.PRACTICES:
        practice = _organization(writer, practice_name, codes.GP_PRACTICE_TYPE, _ura(rng))
        practice["address"] = [dutch_address(names.address(rng), "work")]
        general_practitioners.extend(
            _professional(writer, rng, practice, codes.GENERAL_PRACTICE) for _ in range(2)
        )
    insurers = tuple(
        _organization(writer, name, None, identifier(codes.UZOVI, uzovi))
        for name, uzovi in names.INSURERS
    )
    pharmacies = tuple(
        _organization(writer, name, codes.PHARMACY_TYPE, _ura(rng)) for name in names.PHARMACIES
    )
    clinic = writer.new("Location", NL_CORE_LOCATION)
    clinic.update(
        name=f"Polikliniek {hospital_name}",
        managingOrganization=reference(hospital, hospital_name),
    )
    medications: dict[str, Json] = {}
    for product in codes.PRODUCTS:
        medication = writer.new("Medication", PRODUCT)
        medication["code"] = concept(product.atc, text=product.name)
        medications[product.atc.code] = medication
    return BgzPool(
        resources=tuple(writer.resources),
        hospital=hospital,
        departments=departments,
        specialists=specialists,
        general_practitioners=tuple(general_practitioners),
        insurers=insurers,
        pharmacies=pharmacies,
        outpatient_clinic=clinic,
        medications=medications,
    )
