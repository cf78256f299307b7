"""The PGO's measurement record: funnel events and ketenlog records, in its own database.

Two kinds of event, joined by the attempt's X-Correlation-ID:

* funnel events (:class:`medmij_stack.protocol.funnel.FunnelEvent`): where a person is in
  an attempt, and how it ended, with exactly one failure reason when it failed;
* ketenlog records (:class:`medmij_stack.protocol.ketenlog.Record`): every step the PGO
  takes on the MedMij network, with the Logging-interface names and ``trace_id`` = the
  flow's X-Correlation-ID, ``session_id`` = the person's PGO session (null for a
  retrieval the PGO starts by itself).

Every time comes from the app's injectable clock, so a simulation can let months pass.
A :class:`Trail` collects the records of one stretch of work (the resource requests of a
gegevensdienst arrive through the retrieval engine's sink) and they are written together
with the state change they belong to, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from medmij_stack.protocol.funnel import Clock, FunnelEvent
from medmij_stack.protocol.ketenlog import (
    ErrorInfo,
    Event,
    EventType,
    Record,
    RequestInfo,
    ResponseInfo,
)

from .db import Database
from .tables import FunnelEntry, KetenlogEntry

__all__ = ["Measurements", "Trail", "add_funnel", "add_ketenlog"]


def _compact(document: object) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


# Both are written as one executemany INSERT of plain rows on the table (Core), not as ORM
# objects nor through the ORM's bulk path: a retrieval writes some sixty ketenlog records
# at once, and the ORM's bookkeeping per row cost more than the rows themselves. The ids
# still follow the order given, which the ketenlog's delivery to the collector reads by.
_FUNNEL = cast(Table, FunnelEntry.__table__)
_KETENLOG = cast(Table, KetenlogEntry.__table__)


def add_funnel(session: Session, events: Sequence[FunnelEvent]) -> None:
    rows = [
        {
            "name": event.name.value,
            "at": event.at,
            "flow_id": event.flow_id,
            "person": event.person,
            "event": _compact(event.to_json()),
        }
        for event in events
    ]
    if rows:
        session.execute(insert(_FUNNEL), rows)


def add_ketenlog(session: Session, records: Sequence[Record]) -> None:
    rows = [
        {
            "type": record.event.type.value,
            "occurred_at": record.event.datetime,
            "session_id": record.event.session_id,
            "trace_id": record.event.trace_id,
            "request_id": record.request.id if record.request else None,
            "record": _compact(record.to_json()),
        }
        for record in records
    ]
    if rows:
        session.execute(insert(_KETENLOG), rows)


@dataclass
class Trail:
    """Ketenlog records of one attempt, stamped by the clock, kept until written."""

    clock: Clock
    location: str  # the PGO's own hostname
    trace_id: str
    session_id: str | None
    pending: list[Record] = field(default_factory=list)

    def add(
        self,
        type: EventType,
        *,
        request: RequestInfo | None = None,
        response: ResponseInfo | None = None,
        error: ErrorInfo | None = None,
    ) -> Record:
        event = Event(type, self.location, self.clock(), self.session_id, self.trace_id)
        record = Record(event, request, response, error)
        self.pending.append(record)
        return record

    def sink(self, record: Record) -> None:
        """The retrieval engine's ketenlog sink: its records join this trail as they are."""
        self.pending.append(record)

    def take(self) -> list[Record]:
        records, self.pending = self.pending, []
        return records


class Measurements:
    """Reads the measurement record back (for reports and tests)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def funnel(self, *, flow_id: str | None = None, person: str | None = None) -> list[FunnelEvent]:
        query = select(FunnelEntry.event).order_by(FunnelEntry.id)
        if flow_id is not None:
            query = query.where(FunnelEntry.flow_id == flow_id)
        if person is not None:
            query = query.where(FunnelEntry.person == person)
        with self._db.read() as session:
            return [FunnelEvent.from_json(json.loads(text)) for text in session.scalars(query)]

    def ketenlog(
        self, *, trace_id: str | None = None, type: EventType | None = None
    ) -> list[Record]:
        query = select(KetenlogEntry.record).order_by(KetenlogEntry.id)
        if trace_id is not None:
            query = query.where(KetenlogEntry.trace_id == trace_id)
        if type is not None:
            query = query.where(KetenlogEntry.type == type.value)
        with self._db.read() as session:
            return [Record.from_json(json.loads(text)) for text in session.scalars(query)]
