"""The authorisation server's ketenlog: its records, stored in its own database.

Every step of the flow is recorded with its Logging-interface name (medmij_stack.protocol.ketenlog;
docs/protocol.md#the-ketenlog), in the ``ketenlog`` table, so that reports can be computed
later from the server's own events and nothing is ever counted from log text. Delivery to MedMij's
central EagleEye is a separate concern that reads this table.

A :class:`Trail` gathers the records of one request under one location, session and
trace, and writes them in one transaction when the request is done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Table, insert, select

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, Record, RequestInfo, ResponseInfo

from .db import Database
from .tables import KetenlogEntry

__all__ = ["Ketenlog", "Trail"]

_KETENLOG: Table = KetenlogEntry.__table__  # type: ignore[assignment]
_APPEND = insert(_KETENLOG)  # built once (a statement keeps its cache key)


class Ketenlog:
    """Appends records and reads them back for reports."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, records: Sequence[Record]) -> None:
        if not records:
            return
        rows = [
            {
                "type": record.event.type.value,
                "occurred_at": record.event.datetime,
                "location": record.event.location,
                "session_id": record.event.session_id,
                "trace_id": record.event.trace_id,
                "request_id": record.request.id if record.request else None,
                "record": json.dumps(record.to_json(), separators=(",", ":")),
            }
            for record in records
        ]
        with self._db.connection() as connection:
            # A Core insert of all rows: the ORM's unit of work adds nothing here.
            connection.execute(_APPEND, rows)

    def records(
        self,
        *,
        type: EventType | None = None,
        trace_id: str | None = None,
        session_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Record]:
        """Records in the order they were written, filtered; ``until`` is exclusive."""
        query = select(KetenlogEntry.record).order_by(KetenlogEntry.id)
        if type is not None:
            query = query.where(KetenlogEntry.type == type.value)
        if trace_id is not None:
            query = query.where(KetenlogEntry.trace_id == trace_id)
        if session_id is not None:
            query = query.where(KetenlogEntry.session_id == session_id)
        if since is not None:
            query = query.where(KetenlogEntry.occurred_at >= since)
        if until is not None:
            query = query.where(KetenlogEntry.occurred_at < until)
        with self._db.transaction(write=False) as session:
            return [Record.from_json(json.loads(text)) for text in session.scalars(query)]


@dataclass
class Trail:
    """The records of one request, sharing location, session and trace."""

    location: str
    trace_id: str
    session_id: str | None = None
    pending: list[Record] = field(default_factory=list)
    # The Logging interface's events need a session id even before a browser session is
    # known (or when none is opened: a request refused before a flow began); until
    # bind_session they carry this one, the request's own.
    provisional_session: str = field(default_factory=new_id)
    # The server's clock (medmij_stack.runtime.clock: virtual in a simulation world), so the
    # records fall in the same months as the PGO's.
    clock: Clock = system_clock

    def add(
        self,
        type: EventType,
        *,
        request: RequestInfo | None = None,
        response: ResponseInfo | None = None,
        error: ErrorInfo | None = None,
    ) -> None:
        self.pending.append(
            Record.now(
                type,
                location=self.location,
                session_id=self.session_id
                or (self.provisional_session if type.requires_session else None),
                trace_id=self.trace_id,
                request=request,
                response=response,
                error=error,
                at=self.clock(),
            )
        )

    def bind_session(self, session_id: str | None) -> None:
        """Set the session once it is known; records already made without one get it too."""
        if session_id is None:
            return
        self.session_id = session_id
        self.pending = [
            record
            if record.event.session_id not in (None, self.provisional_session)
            else replace(record, event=replace(record.event, session_id=session_id))
            for record in self.pending
        ]

    def flush(self, log: Ketenlog) -> None:
        records, self.pending = self.pending, []
        log.append(records)
