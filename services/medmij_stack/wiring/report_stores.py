"""The stores a report reads: found in a stack's data dir, read without changing them.

``medmij up --data-dir D`` gives every role a folder of its own under ``D``
(``wiring.roles``): the PGO's database in ``D/pgo`` (a further PGO's in ``D/pgo-<hostname>``),
each authorisation server's in ``D/authserver-<dva>``, each resource server's store in
``D/zorgaanbieder-<dva>`` and the collector's in ``D/collector``, with the file names the
services' settings default to. They are read whether the stack runs or not (SQLite's WAL
lets a reader in beside the running writer), opened read-only and never migrated.

A world names no database URLs, but a service takes one from its environment
(``MEDMIJ_PGO_DATABASE_URL``, ``MEDMIJ_AUTHSERVER_DATABASE_URL``,
``MEDMIJ_ZORGAANBIEDER_DATABASE_URL``, ``MEDMIJ_COLLECTOR_DATABASE_URL``; ``medmij up`` passes
its environment on), e.g. a PostgreSQL URL. The same variables, in the environment of
``medmij report``, or ``--database ROLE=URL``, replace the files of that role: the report
then reads that database (with ordinary selects; nothing is written).

The tables are read by name and column (``funnel_events``, ``ketenlog``, ``web_sessions``,
``consents``; the collector's ``ketenlog`` with its ``sender``), so a report needs none of
the services' models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, column, create_engine, inspect, select, table
from sqlalchemy.engine import make_url

from medmij_stack.protocol.funnel import Device, FunnelEvent
from medmij_stack.protocol.ketenlog import Record
from medmij_stack.protocol.reporting import LongTermConsent, Visit

__all__ = [
    "NotAStack",
    "StackStores",
    "Store",
    "StoreContents",
    "find_stores",
    "read_store",
    "urls_from_environment",
]


class NotAStack(Exception):
    """The data dir holds no stack's stores; the message says what was looked for."""


@dataclass(frozen=True)
class Store:
    """One service's database: its role, the instance (a DVA id or a PGO folder) and file."""

    role: str  # pgo, authserver, zorgaanbieder, collector
    instance: str
    path: Path | None
    """The SQLite file, or None for a database named by URL."""
    url: str | None = None
    """The SQLAlchemy URL of a database not in the data dir (PostgreSQL)."""

    @property
    def where(self) -> str:
        """The file, or the URL without its password."""
        if self.url is not None:
            return make_url(self.url).render_as_string(hide_password=True)
        return str(self.path)

    @property
    def label(self) -> str:
        return self.role if self.instance == self.role else f"{self.role}:{self.instance}"


@dataclass(frozen=True)
class StackStores:
    data_dir: Path
    stores: tuple[Store, ...]

    def of(self, role: str) -> tuple[Store, ...]:
        return tuple(s for s in self.stores if s.role == role)


@dataclass
class StoreContents:
    """What one store holds that a report uses."""

    store: Store
    funnel: list[FunnelEvent] = field(default_factory=list)
    ketenlog: list[Record] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    consents: list[LongTermConsent] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    """Collector only: the sender of each record in ``ketenlog``, in the same order."""
    unreadable: int = 0
    """Rows whose stored JSON is not a funnel event or ketenlog record (left out)."""


_LAYOUT: tuple[tuple[str, str, str], ...] = (
    # role, folder pattern, file
    ("pgo", "pgo", "pgo.sqlite3"),
    ("pgo", "pgo-*", "pgo.sqlite3"),
    ("authserver", "authserver-*", "authserver.sqlite3"),
    ("zorgaanbieder", "zorgaanbieder-*", "zorgaanbieder.sqlite3"),
    ("collector", "collector", "collector.sqlite3"),
)


ROLES = ("pgo", "authserver", "zorgaanbieder", "collector")


def urls_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The database URLs the services' own settings would take from ``environ``, by role."""
    found = {role: environ.get(f"MEDMIJ_{role.upper()}_DATABASE_URL", "") for role in ROLES}
    return {role: url for role, url in found.items() if url}


def find_stores(data_dir: Path, urls: Mapping[str, str] | None = None) -> StackStores:
    """The stores of the stack at ``data_dir``; :class:`NotAStack` when it has none.

    ``urls``: a database URL per role, instead of that role's files."""
    if not data_dir.is_dir():
        raise NotAStack(f"{data_dir} is not a directory")
    named = dict(urls or {})
    unknown = sorted(set(named) - set(ROLES))
    if unknown:
        raise NotAStack(f"--database: no role {', '.join(unknown)} (roles: {', '.join(ROLES)})")
    found: list[Store] = [Store(role, role, None, url) for role, url in named.items()]
    for role, pattern, name in _LAYOUT:
        if role in named:
            continue
        for folder in sorted(data_dir.glob(pattern)):
            path = folder / name
            if path.is_file():
                instance = folder.name.removeprefix(f"{role}-") if "-" in pattern else role
                found.append(Store(role, instance, path))
    if not any(s.role in ("pgo", "authserver") for s in found):
        raise NotAStack(
            f"{data_dir} is not the data dir of a stack: it has no pgo/pgo.sqlite3 and no "
            "authserver-<dva>/authserver.sqlite3 (start one with: medmij up --data-dir "
            f"{data_dir})"
        )
    return StackStores(data_dir, tuple(found))


@contextmanager
def _read_only(store: Store) -> Iterator[Engine]:
    if store.url is not None:
        engine = create_engine(store.url, pool_pre_ping=True)
    else:
        assert store.path is not None
        engine = create_engine(f"sqlite:///file:{store.path.resolve()}?mode=ro&uri=true")
    try:
        yield engine
    finally:
        engine.dispose()


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _rows(engine: Engine, name: str, *columns: str) -> list[tuple[Any, ...]]:
    if not inspect(engine).has_table(name):
        return []
    chosen = table(name, *(column(c) for c in columns), column("id"))
    # Rows in the order they were written (an integer id), where the table has one.
    query = select(*(chosen.c[c] for c in columns)).order_by(chosen.c["id"])
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


T = TypeVar("T")


def _parsed(texts: list[str], parse: Callable[[Any], T], contents: StoreContents) -> list[T]:
    result: list[T] = []
    for text in texts:
        try:
            result.append(parse(json.loads(text)))
        except ValueError:
            contents.unreadable += 1
    return result


def read_store(store: Store) -> StoreContents:
    """Everything of ``store`` a report uses. Blocking."""
    contents = StoreContents(store)
    with _read_only(store) as engine:
        if store.role == "collector":
            rows = _rows(engine, "ketenlog", "sender", "record")
            for sender, text in rows:
                try:
                    contents.ketenlog.append(Record.from_json(json.loads(text)))
                except ValueError:
                    contents.unreadable += 1
                    continue
                contents.senders.append(str(sender))
            return contents
        contents.ketenlog = _parsed(
            [r[0] for r in _rows(engine, "ketenlog", "record")], Record.from_json, contents
        )
        if store.role != "pgo":
            return contents
        contents.funnel = _parsed(
            [r[0] for r in _rows(engine, "funnel_events", "event")],
            FunnelEvent.from_json,
            contents,
        )
        # A session in which a person logged in is a visit (medmij_stack.protocol.reporting
        # .visits); sessions the PGO has since purged are no longer counted.
        for session_id, account_id, device, created_at in _rows(
            engine, "web_sessions", "id", "account_id", "device", "created_at"
        ):
            if account_id is None:
                continue
            try:
                kind = Device(device)
            except ValueError:
                kind = Device.WEB
            contents.visits.append(Visit(str(account_id), _utc(created_at), str(session_id), kind))
        for account_id, zorgaanbieder, granted_at, ended_at in _rows(
            engine, "consents", "account_id", "zorgaanbieder", "granted_at", "ended_at"
        ):
            contents.consents.append(
                LongTermConsent(
                    str(account_id),
                    str(zorgaanbieder),
                    _utc(granted_at),
                    None if ended_at is None else _utc(ended_at),
                )
            )
    return contents
