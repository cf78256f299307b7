"""What a scripted patient needs to know of a running stack: ``<data-dir>/stack.json``.

``medmij up`` writes stack.json once every node is healthy and removes it when it stops
(:func:`medmij_stack.wiring.up.stack_json`): the PGO's URL, the dev root CA, the host
map (``*.localhost`` → the listen address), the DigiD test persons with the
zorgaanbieders that hold data for each, and the PGO's demo accounts (``pgo_accounts``,
one per test person). A patient needs nothing else: the rest it finds on the PGO's
pages, as a person does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PgoAccount", "StackError", "StackInfo", "TestPerson"]


class StackError(Exception):
    """stack.json is missing or unusable; the message says what to do."""


@dataclass(frozen=True)
class PgoAccount:
    gebruikersnaam: str
    wachtwoord: str
    bsn: str | None
    naam: str


@dataclass(frozen=True)
class TestPerson:
    __test__ = False  # a DigiD test person, not a test class for pytest to collect

    bsn: str
    name: str
    zorgaanbieders: tuple[str, ...]  # Zorgaanbiedernamen that hold data for this person


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise StackError(f"{where}: {key!r} is missing or not a text")
    return value


@dataclass(frozen=True)
class StackInfo:
    pgo: str  # the PGO's base URL, https://pgo.localhost:8443
    ca: Path  # the dev root CA every node's certificate chains to
    hosts: Mapping[str, str]  # hostname → address, for the stack's *.localhost names
    persons: tuple[TestPerson, ...]
    accounts: tuple[PgoAccount, ...]
    world: Path | None = None  # the effective world (JSON) the stack runs
    source: Path | None = None  # the stack.json read

    @classmethod
    def from_json(cls, data: Any, *, source: Path | None = None) -> StackInfo:
        where = str(source or "stack.json")
        if not isinstance(data, Mapping):
            raise StackError(f"{where} is not a JSON object")
        hosts = data.get("hosts") or {}
        if not isinstance(hosts, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in hosts.items()
        ):
            raise StackError(f"{where}: 'hosts' is not a map of hostnames to addresses")
        persons = []
        for item in data.get("digid_test_persons") or []:
            if not isinstance(item, Mapping):
                raise StackError(f"{where}: a DigiD test person is not an object")
            zorgaanbieders = item.get("zorgaanbieders") or []
            persons.append(
                TestPerson(
                    bsn=_text(item, "bsn", where),
                    name=str(item.get("name") or ""),
                    zorgaanbieders=tuple(str(z) for z in zorgaanbieders),
                )
            )
        accounts = []
        for item in data.get("pgo_accounts") or []:
            if not isinstance(item, Mapping):
                raise StackError(f"{where}: a PGO account is not an object")
            bsn = item.get("bsn")
            accounts.append(
                PgoAccount(
                    gebruikersnaam=_text(item, "gebruikersnaam", where),
                    wachtwoord=_text(item, "wachtwoord", where),
                    bsn=None if bsn is None else str(bsn),
                    naam=str(item.get("naam") or ""),
                )
            )
        world = data.get("world")
        return cls(
            pgo=_text(data, "pgo", where).rstrip("/"),
            ca=Path(_text(data, "ca", where)),
            hosts=dict(hosts),
            persons=tuple(persons),
            accounts=tuple(accounts),
            world=Path(world) if isinstance(world, str) and world else None,
            source=source,
        )

    @classmethod
    def load(cls, data_dir: Path) -> StackInfo:
        """The stack.json of ``data_dir``; StackError when there is none or it is unusable."""
        path = data_dir / "stack.json"
        if not path.is_file():
            raise StackError(
                f"no running stack at {data_dir}: there is no stack.json (medmij up writes it "
                f"once every node is healthy and removes it when it stops); start one with "
                f"`medmij up --data-dir {data_dir}`"
            )
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StackError(f"{path} cannot be read: {exc}") from exc
        return cls.from_json(data, source=path)

    def person(self, bsn: str) -> TestPerson | None:
        return next((p for p in self.persons if p.bsn == bsn), None)

    def account_for(self, bsn: str) -> PgoAccount | None:
        """The PGO demo account of the test person with this BSN."""
        return next((a for a in self.accounts if a.bsn == bsn), None)
