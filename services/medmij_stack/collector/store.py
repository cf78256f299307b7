"""The collector's store: every delivered record once, and the records read back for reports.

SQLite in the data dir by default, PostgreSQL by URL (:mod:`medmij_stack.runtime.database`,
migrated when opened). A batch is stored in one transaction: all its new records, or, when one
delivery id is held already with a different record, none (:class:`Conflict`). A delivery id
held with the same record is a redelivery and stores nothing.

Two deliveries of the same batch at once cannot both store it: the insert skips ids that are
held (``ON CONFLICT DO NOTHING``), and what is held afterwards is compared with what was sent.

Reading for a report without the HTTP API (e.g. ``medmij report --data-dir``)::

    store = CollectorStore(database_url_in(data_dir / "collector"))
    records = [held.record for held in store.records(since=..., until=...)]
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Insert, func, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from medmij_stack.protocol.ketenlog import Record
from medmij_stack.runtime import database

from .batch import Entry
from .tables import Base, DeliveredRecord

__all__ = ["MIGRATIONS", "CollectorStore", "Conflict", "Held", "Stored"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Delivery ids looked up per query: well below every database's bound on parameters.
_LOOKUP_CHUNK = 400


class Conflict(Exception):
    """A delivery id is held already, with another record; ``index`` is its entry's."""

    def __init__(self, index: int, sender: str, sequence: int) -> None:
        super().__init__(
            f"record {index}: {sender} delivered sequence {sequence} before, with another record"
        )
        self.index = index


@dataclass(frozen=True)
class Stored:
    """What a batch did: records new to the collector, and records it held already."""

    stored: int
    duplicates: int


@dataclass(frozen=True)
class Held:
    """A record as the collector holds it."""

    id: int
    sender: str
    sequence: int
    received_at: datetime
    document: dict[str, Any]

    @property
    def record(self) -> Record:
        return Record.from_json(self.document)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "sequence": self.sequence,
            "received_at": self.received_at.isoformat(),
            "record": self.document,
        }


class CollectorStore:
    """The collector's database, migrated on opening."""

    def __init__(self, url: str) -> None:
        self._db = database.Database(url, MIGRATIONS)
        self.engine = self._db.engine

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Session]:
        options: dict[str, Any] = dict(database.WRITE)
        if self.engine.dialect.name == "postgresql":
            # The check after the insert must see what a concurrent delivery committed.
            options["isolation_level"] = "READ COMMITTED"
        with (
            self.engine.connect().execution_options(**options) as connection,
            connection.begin(),
            Session(bind=connection, expire_on_commit=False) as session,
        ):
            yield session
            session.flush()

    def _held(
        self, session: Session, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], str]:
        held: dict[tuple[str, int], str] = {}
        table = DeliveredRecord
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            query = select(table.sender, table.sequence, table.record).where(
                tuple_(table.sender, table.sequence).in_(chunk)
            )
            for sender, sequence, text in session.execute(query):
                held[(sender, sequence)] = text
        return held

    def _insert(self, session: Session, rows: list[dict[str, Any]]) -> int:
        """Insert ``rows`` except those whose delivery id is held; how many were inserted."""
        table = Base.metadata.tables[DeliveredRecord.__tablename__]
        name = self.engine.dialect.name
        statement: Insert
        if name == "sqlite":
            statement = sqlite.insert(table).on_conflict_do_nothing(
                index_elements=["sender", "sequence"]
            )
        elif name == "postgresql":
            statement = postgresql.insert(table).on_conflict_do_nothing(
                index_elements=["sender", "sequence"]
            )
        else:
            # Elsewhere a concurrent duplicate fails the transaction (a 500), and the sender
            # sends again.
            session.connection().execute(insert(table), rows)
            return len(rows)
        # RETURNING gives the rows really inserted: a concurrent delivery may have stored some.
        inserted = session.connection().execute(statement.returning(table.c.id), rows)
        return len(inserted.all())

    def deliver(self, entries: Sequence[Entry], received_at: datetime) -> Stored:
        """Store the batch's new records; :class:`Conflict` (nothing stored) when an id is held
        with another record."""
        if not entries:
            return Stored(0, 0)
        keys = [(e.sender, e.sequence) for e in entries]
        with self._writing() as session:
            before = self._held(session, keys)
            for index, entry in enumerate(entries):
                text = before.get((entry.sender, entry.sequence))
                if text is not None and text != entry.document:
                    raise Conflict(index, entry.sender, entry.sequence)
            new = [e for e in entries if (e.sender, e.sequence) not in before]
            if not new:
                return Stored(stored=0, duplicates=len(entries))
            stored = self._insert(
                session,
                [
                    {
                        "sender": e.sender,
                        "sequence": e.sequence,
                        "received_at": received_at,
                        "type": e.record.event.type.value,
                        "occurred_at": e.record.event.datetime,
                        "location": e.record.event.location.lower(),
                        "session_id": e.record.event.session_id,
                        "trace_id": e.record.event.trace_id,
                        "record": e.document,
                    }
                    for e in new
                ],
            )
            if stored < len(new):
                # Another delivery stored some of these ids in the meantime: the same records?
                after = self._held(session, [(e.sender, e.sequence) for e in new])
                for index, entry in enumerate(entries):
                    if after.get((entry.sender, entry.sequence), entry.document) != entry.document:
                        raise Conflict(index, entry.sender, entry.sequence)
        return Stored(stored=stored, duplicates=len(entries) - stored)

    def records(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        senders: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Held]:
        """Held records in order of arrival, after collector id ``after``; ``senders`` (None:
        all) and the event time (``since`` inclusive, ``until`` exclusive) filter them."""
        table = DeliveredRecord
        query = select(table).where(table.id > after).order_by(table.id)
        if senders is not None:
            query = query.where(table.sender.in_(sorted({s.lower() for s in senders})))
        if since is not None:
            query = query.where(table.occurred_at >= since)
        if until is not None:
            query = query.where(table.occurred_at < until)
        if limit is not None:
            query = query.limit(limit)
        with self._db.transaction() as session:
            return [
                Held(
                    id=row.id,
                    sender=row.sender,
                    sequence=row.sequence,
                    received_at=row.received_at,
                    document=json.loads(row.record),
                )
                for row in session.scalars(query)
            ]

    def count(self) -> int:
        """How many records the collector holds."""
        with self._db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(DeliveredRecord)) or 0)
