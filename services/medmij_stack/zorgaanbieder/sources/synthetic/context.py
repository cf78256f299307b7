"""Identity, randomness and time for the generator: what makes its output reproducible.

Every id is a UUID 5 of the seed, the zorgaanbieder, the gegevensdienst, the person's
BSN (never written out: a UUID 5 cannot be reversed) and the resource's place in the
record, and every random choice comes from a ``random.Random`` seeded the same way, so
the same inputs give byte-identical output, and adding a person or leaving out a
section changes nobody else's ids. Dates count back from a reference date fixed by the
seed, not from the clock.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from medmij_stack.protocol.persons import TestPerson

from .fhir import Json, Term, new_resource, reference
from .profiles import PRACTITIONERROLE_REFERENCE

__all__ = [
    "Chart",
    "Professional",
    "between",
    "make_id",
    "moment",
    "professional_reference",
    "reference_date",
]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:medmij-reference-stack:synthetic").bytes
_EPOCH = date(2025, 1, 1)


def make_id(*parts: str) -> str:
    """A FHIR id for the resource these parts name: ``uuid.uuid5`` of them, spelled out.

    Written out because the generator makes tens of thousands per second and the UUID
    object is most of uuid5's cost; the result is the same string.
    """
    digest = bytearray(
        hashlib.sha1(_NAMESPACE + "\x1f".join(parts).encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def reference_date(seed: int) -> date:
    """The "today" of a seed's data: within the year after 1 January 2025."""
    return _EPOCH + timedelta(days=seed % 365)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def moment(day: date, hour: int, minute: int) -> str:
    """A FHIR dateTime at this local time in the Netherlands (CET, CEST in summer)."""
    summer = _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)
    offset = "+02:00" if summer else "+01:00"
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00{offset}"


def between(rng: random.Random, start: date, end: date) -> date:
    """A day in [start, end]; `start` when the range is empty."""
    days = (end - start).days
    return start + timedelta(days=rng.randrange(days + 1)) if days > 0 else start


@dataclass(frozen=True)
class Professional:
    """A health professional of the pool, in the role the references point at."""

    practitioner: Json
    role: Json
    organization: Json
    name: str
    specialism: Term


def professional_reference(professional: Professional) -> Json:
    """A reference to the Practitioner that also names the PractitionerRole (zib2017)."""
    role = reference(professional.role, professional.specialism.display)
    return {
        "extension": [{"url": PRACTITIONERROLE_REFERENCE, "valueReference": role}],
        **reference(professional.practitioner, professional.name),
    }


@dataclass
class Chart:
    """One person's record at one zorgaanbieder for one gegevensdienst, being written."""

    person: TestPerson
    today: date
    base: tuple[str, ...]  # seed, zorgaanbieder, gegevensdienst, BSN
    patient_id: str
    resources: list[Json] = field(default_factory=list)
    section: str = ""
    conditions: list[Json] = field(default_factory=list)
    _counters: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.person.name

    @property
    def age(self) -> int:
        born = self.person.birth_date
        before_birthday = (self.today.month, self.today.day) < (born.month, born.day)
        return self.today.year - born.year - int(before_birthday)

    def rng(self, purpose: str) -> random.Random:
        return random.Random("\x1f".join((*self.base, purpose)))  # noqa: S311 - synthetic data

    def new(self, resource_type: str, profile: str) -> Json:
        """A new resource of the current section, added to the record."""
        key = (self.section, resource_type)
        number = self._counters.get(key, 0)
        self._counters[key] = number + 1
        resource_id = make_id(*self.base, self.section, resource_type, str(number))
        resource = new_resource(resource_type, resource_id, profile)
        self.resources.append(resource)
        return resource

    def new_patient(self, profile: str) -> Json:
        patient = new_resource("Patient", self.patient_id, profile)
        self.resources.append(patient)
        return patient

    def patient_reference(self, *, typed: bool = False) -> Json:
        patient = {"resourceType": "Patient", "id": self.patient_id}
        return reference(patient, self.display, typed=typed)

    def past(self, rng: random.Random, years: float, *, adult: bool = False) -> date:
        """A day in the last `years` years before today, after birth (or the 18th birthday)."""
        born = self.person.birth_date
        earliest = max(born, self.today - timedelta(days=round(365.25 * years)))
        if adult:
            earliest = max(earliest, born + timedelta(days=round(365.25 * 18)))
        latest = self.today - timedelta(days=1)
        return between(rng, min(earliest, latest), latest)

    def future(self, rng: random.Random, days: int) -> date:
        return self.today + timedelta(days=1 + rng.randrange(days))
