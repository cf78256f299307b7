"""Synthetic DigiD test persons, deterministic from a seed.

The DigiD simulator of the authorisation server offers these persons, the resource
server holds data for them, and `stack.json` lists them for tools and tests. Every
service derives the same persons from the world's seed, so no service reads another's
database to know who exists.

BSNs are test numbers in the 9999xxxxx range that pass the elfproef (the BSN check
digit rule: sum of the first eight digits times 9..2, minus the ninth, divisible by 11),
so that software validating a BSN accepts them, while they can never be a real person's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

__all__ = ["MAX_PERSONS", "TestPerson", "assign_zorgaanbieders", "elfproef", "test_persons"]

#: How many numbers of the form 9999xxxxx pass the elfproef: no more distinct persons exist.
MAX_PERSONS = 9091

_GIVEN_F = ("Anna", "Sanne", "Fatima", "Emma", "Noor", "Julia", "Sophie", "Lotte", "Yara", "Eva")
_GIVEN_M = ("Daan", "Sem", "Mohammed", "Lucas", "Levi", "Bram", "Thijs", "Jesse", "Milan", "Finn")
_FAMILY = (
    "de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
    "Brouwer", "de Wit", "Dijkstra", "Yilmaz", "El Amrani", "Kramer", "Verhoeven", "Postma",
)  # fmt: skip


def elfproef(bsn: str) -> bool:
    """True when `bsn` is nine digits and passes the BSN elfproef."""
    # isascii: str.isdigit also accepts other scripts' digits, which int() reads as 0-9.
    if len(bsn) != 9 or not (bsn.isascii() and bsn.isdigit()):
        return False
    digits = [int(c) for c in bsn]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0


@dataclass(frozen=True)
class TestPerson:
    """A synthetic person that can log in with the DigiD simulator."""

    __test__ = False  # not a pytest test class, despite the name

    bsn: str
    given_name: str
    family_name: str
    gender: str  # FHIR administrative gender: "female" | "male"
    birth_date: date

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def _test_bsns(rng: random.Random) -> Iterator[str]:
    seen: set[str] = set()
    while True:
        candidate = f"9999{rng.randrange(100000):05d}"
        if candidate not in seen and elfproef(candidate):
            seen.add(candidate)
            yield candidate


def test_persons(seed: int, count: int) -> tuple[TestPerson, ...]:
    """`count` distinct persons; the same seed always gives the same persons in the same order."""
    if count < 0:
        raise ValueError("count must not be negative")
    if count > MAX_PERSONS:
        # Beyond this the search for another unused test BSN would never end.
        raise ValueError(f"at most {MAX_PERSONS} test persons exist (9999xxxxx BSNs)")
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    bsns = _test_bsns(rng)
    persons = []
    for _ in range(count):
        gender = rng.choice(("female", "male"))
        given = rng.choice(_GIVEN_F if gender == "female" else _GIVEN_M)
        born = date(rng.randrange(1935, 2008), rng.randrange(1, 13), rng.randrange(1, 29))
        persons.append(TestPerson(next(bsns), given, rng.choice(_FAMILY), gender, born))
    return tuple(persons)


test_persons.__test__ = False  # type: ignore[attr-defined]


def assign_zorgaanbieders(
    seed: int, persons: Sequence[TestPerson], zorgaanbieders: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """Which of `zorgaanbieders` hold data for each person (by BSN), deterministically.

    The first person is known everywhere (a predictable demo login); every other person
    is known at each zorgaanbieder with probability 0.7 and at least at one of them.
    """
    rng = random.Random(seed ^ 0x5EED)  # noqa: S311 - synthetic data, not security
    result: dict[str, tuple[str, ...]] = {}
    for index, person in enumerate(persons):
        if index == 0 or not zorgaanbieders:
            chosen = tuple(zorgaanbieders)
        else:
            chosen = tuple(z for z in zorgaanbieders if rng.random() < 0.7)
            if not chosen:
                chosen = (rng.choice(tuple(zorgaanbieders)),)
        result[person.bsn] = chosen
    return result
