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

from sqlalchemy import Insert, func, insert, select
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
        by_sender: dict[str, list[int]] = {}
        for sender, sequence in keys:
            by_sender.setdefault(sender, []).append(sequence)
        # One sender at a time, so that the lookup is a search of the (sender, sequence)
        # index: SQLite answers a row-value IN over both columns with a scan of the whole
        # table, which made every delivery slower as the collector filled (quadratic).
        for sender, sequences in by_sender.items():
            for start in range(0, len(sequences), _LOOKUP_CHUNK):
                chunk = sequences[start : start + _LOOKUP_CHUNK]
                query = select(table.sequence, table.record).where(
                    table.sender == sender, table.sequence.in_(chunk)
                )
                for sequence, text in session.execute(query):
                    held[(sender, sequence)] = text
        return held

    def _insert(self, session: Session, rows: list[dict[str, Any]]) -> set[tuple[str, int]] | None:
        """Insert ``rows`` except those whose delivery id is held; the ids inserted, or None
        where the database cannot skip held ids (then every row was inserted)."""
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
            return None
        # RETURNING gives the rows really inserted: the others were held already (delivered
        # before, or by a concurrent delivery).
        inserted = session.connection().execute(
            statement.returning(table.c.sender, table.c.sequence), rows
        )
        return {(str(sender), int(sequence)) for sender, sequence in inserted}

    @staticmethod
    def _row(entry: Entry, received_at: datetime) -> dict[str, Any]:
        event = entry.record.event
        return {
            "sender": entry.sender,
            "sequence": entry.sequence,
            "received_at": received_at,
            "type": event.type.value,
            "occurred_at": event.datetime,
            "location": event.location.lower(),
            "session_id": event.session_id,
            "trace_id": event.trace_id,
            "record": entry.document,
        }

    def deliver(self, entries: Sequence[Entry], received_at: datetime) -> Stored:
        """Store the batch's new records; :class:`Conflict` (nothing stored) when an id is held
        with another record."""
        if not entries:
            return Stored(0, 0)
        keys = [(e.sender, e.sequence) for e in entries]
        skips_held = self.engine.dialect.name in ("sqlite", "postgresql")
        with self._writing() as session:
            if skips_held:
                # Insert first and look up only the ids that were not inserted: a batch of
                # new records (nearly every batch) costs one statement, no lookup.
                inserted = self._insert(session, [self._row(e, received_at) for e in entries])
                assert inserted is not None
                held_keys = [key for key in keys if key not in inserted]
            else:
                before = self._held(session, keys)
                new = [e for e in entries if (e.sender, e.sequence) not in before]
                if new:
                    self._insert(session, [self._row(e, received_at) for e in new])
                inserted = {(e.sender, e.sequence) for e in new}
                held_keys = list(before)
            if held_keys:
                # Held before, or stored by a concurrent delivery meanwhile: the same records?
                # A different one refuses the batch, and the transaction stores nothing.
                held = self._held(session, held_keys)
                for index, entry in enumerate(entries):
                    key = (entry.sender, entry.sequence)
                    if key not in inserted and held.get(key, entry.document) != entry.document:
                        raise Conflict(index, entry.sender, entry.sequence)
        return Stored(stored=len(inserted), duplicates=len(entries) - len(inserted))

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
