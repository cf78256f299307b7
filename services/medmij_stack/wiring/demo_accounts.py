"""The PGO's demo accounts: one per DigiD test person of the world.

A newcomer logs in to the PGO as a demo account and then, at the DVA, with DigiD as the
test person it is named after (the DigiD simulator offers the same persons). The PGO
itself never learns the BSN: ``stack.json`` pairs each account with its person's BSN for
tools and tests (``pgo_accounts``), and the PGO's settings get the accounts without it.
Every demo account has the same published password: this is a local demo world.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .world import World

__all__ = ["DEMO_PASSWORD", "DemoLogin", "demo_logins"]

DEMO_PASSWORD = "medmij-demo"  # noqa: S105 - published on purpose: a local demo world


@dataclass(frozen=True)
class DemoLogin:
    gebruikersnaam: str
    wachtwoord: str
    bsn: str
    naam: str

    def to_json(self) -> dict[str, str]:
        return {
            "gebruikersnaam": self.gebruikersnaam,
            "wachtwoord": self.wachtwoord,
            "bsn": self.bsn,
            "naam": self.naam,
        }


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", ".", plain.lower()).strip(".")


def demo_logins(world: World) -> tuple[DemoLogin, ...]:
    """A PGO account per test person, named after the person (``anna.de.vries``)."""
    logins = []
    taken: set[str] = set()
    for person in world.persons_list():
        base = _slug(person.name) or "demo"
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base}{number}"
        taken.add(name)
        logins.append(DemoLogin(name, DEMO_PASSWORD, person.bsn, person.name))
    return tuple(logins)
