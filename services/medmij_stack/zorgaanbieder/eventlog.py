"""The resource server's ketenlog: its records, queued on the hot path, written in batches.

The Logging interface (https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface)
has the DVA's resource server record each resource request it receives and the answer it
sends: ``receive_resource_request``, then ``send_resource_response`` (2xx) or
``send_resource_error_response`` (anything else, a refusal by the Whitelist gate included).
``trace_id`` is the request's X-Correlation-ID and ``request.id`` its MedMij-Request-ID, as the
PGO records them on its side (``pgo.retrieval``), so that the two sides can be reconciled
(``medmij_stack.protocol.reporting.reconcile``). A back-channel request belongs to no person
session: ``session_id`` is null.

A search must not wait for the log: :meth:`ResourceKetenlog.add` (records) and
:meth:`ResourceKetenlog.add_answer` (the two records of one answer, the hot path) only append
table rows to an in-memory queue; a background task writes what has queued up in one
transaction every ``flush_seconds`` (or sooner when ``batch`` records wait), in a worker
thread. A record is durable once that transaction has committed (at most ``flush_seconds``
after its answer, as before); what is still queued when the process is killed is lost.

The rows are made without the record classes on the hot path: :meth:`add_answer` writes each
record's compact JSON from plain values (the text ``Record.to_json`` would give, which
``tests/zorgaanbieder/test_eventlog.py`` checks), and on SQLite the batch goes to the
driver's ``executemany`` as plain tuples (other databases: a Core insert). The records go
to the ``ketenlog`` table of the resource server's own store (``store.tables.KetenlogRow``,
migration ``store/migrations/versions/0002_ketenlog.py``), whose ids are the sequence the
ketenlog delivery (``medmij_stack.runtime.ketenlog_delivery``) sends to the collector from.
When the database cannot be written the records stay queued (up to ``max_queued``; beyond
that the oldest are dropped, with an error in the log) and the next flush tries again;
stopping flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.runtime.database import WRITE, make_engine, migrate
from medmij_stack.runtime.ketenlog_delivery import (
    KetenlogDeliverer,
    TableOutbox,
    delivering,
)

from .settings import ZorgaanbiederSettings
from .store.tables import KetenlogRow

__all__ = ["ResourceKetenlog"]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent / "store" / "migrations"
_TABLE = KetenlogRow.metadata.tables[KetenlogRow.__tablename__]


# json.dumps(separators=(",", ":"), ensure_ascii=False), without a new encoder per record.
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# A JSON string as _compact writes it (ensure_ascii=False), without the encoder's per-call
# set-up: the C function it calls for a str.
_string: Callable[[str], str] = json.encoder.encode_basestring


def _flat_json(members: Mapping[str, str | int]) -> str:
    """``_compact(members)`` for an object of strings and whole numbers only: a dict goes
    through the encoder's generic machinery (an encoder made per call), this does not."""
    return (
        "{"
        + ",".join(
            [
                _string(name) + ":" + (_string(value) if type(value) is str else str(int(value)))
                for name, value in members.items()
            ]
        )
        + "}"
    )


_Row = tuple[str, datetime, str, str | None, str]
"""A queued table row: type, occurred_at, trace_id, request_id, record (its JSON text)."""

_COLUMNS = ("type", "occurred_at", "trace_id", "request_id", "record")
_SQLITE_INSERT = (
    "INSERT INTO ketenlog (type, occurred_at, trace_id, request_id, record) VALUES (?, ?, ?, ?, ?)"
)

_RECEIVE = EventType.RECEIVE_RESOURCE_REQUEST.value
_SENT = EventType.SEND_RESOURCE_RESPONSE.value
_SENT_ERROR = EventType.SEND_RESOURCE_ERROR_RESPONSE.value


def _rows(records: Sequence[Record]) -> list[_Row]:
    """The table rows of ``records``; each row's ``record`` is ``_compact(record.to_json())``.

    Records that share their request object (the two of one answer) have its JSON made
    once, not once per record."""
    requests: dict[int, str] = {}  # id() of a request → its JSON; ``records`` holds them all
    rows: list[_Row] = []
    for record in records:
        parts = ['{"event":', _compact(record.event.to_json())]
        request = record.request
        if request is not None:
            text = requests.get(id(request))
            if text is None:
                text = requests[id(request)] = _compact(request.to_json())
            parts += [',"request":', text]
        if record.response is not None:
            parts += [',"response":', _compact(record.response.to_json())]
        if record.error is not None:
            parts += [',"error":', _compact(record.error.to_json())]
        parts.append("}")
        event = record.event
        rows.append(
            (
                event.type.value,
                event.datetime,
                event.trace_id,
                request.id if request else None,
                "".join(parts),
            )
        )
    return rows


class ResourceKetenlog:
    """The queue, its writer, and the reader of one resource server's ketenlog."""

    def __init__(
        self,
        url: str,
        *,
        flush_seconds: float = 0.5,
        batch: int = 500,
        max_queued: int = 100_000,
    ) -> None:
        self.url = url
        self.flush_seconds = flush_seconds
        self.batch = batch
        self._queue: deque[_Row] = deque(maxlen=max_queued)
        self._engine: Engine | None = None
        # SQLite: the driver's executemany, the datetime written as SQLAlchemy writes it.
        self._sqlite_time: Callable[[datetime], Any] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.dropped = 0

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the ketenlog is not open")
        return self._engine

    # -- the hot path --------------------------------------------------------------------

    def add(self, records: Sequence[Record]) -> None:
        """Queue records; never blocks, never touches the database."""
        self._enqueue(_rows(records))

    def add_answer(
        self,
        *,
        location: str,
        trace_id: str,
        request: Mapping[str, str | int],
        received: datetime,
        answered: datetime,
        status: int,
        error_code: str | None,
    ) -> None:
        """Queue the two records of one answered resource request: ``receive_resource_request``
        at ``received``, then ``send_resource_response`` (2xx) or, with ``error_code``,
        ``send_resource_error_response`` at ``answered``. ``request`` is the
        ``RequestInfo.to_json()`` of the request (its None members left out), ``location``
        and ``trace_id`` as in ``Event``; both datetimes carry their UTC offset.

        The JSON of each is what ``Record.to_json`` gives, made without the record
        classes: this runs on every request."""
        given = request.get("id")
        request_id = given if isinstance(given, str) else None
        request_text = _flat_json(request)
        head = '{"type":"%s","location":' + _string(location) + ',"datetime":"'
        tail = '","session_id":null,"trace_id":' + _string(trace_id) + '},"request":'
        first = '{"event":' + head % _RECEIVE + received.isoformat() + tail + request_text + "}"
        response = _flat_json(
            {"status": status} if request_id is None else {"id": request_id, "status": status}
        )
        if error_code is None:
            kind = _SENT
            last_parts = [',"response":', response, "}"]
        else:
            kind = _SENT_ERROR
            error: dict[str, str | int] = {"code": error_code}
            if request_id is not None:
                error["request_id"] = request_id
            error["status"] = status
            last_parts = [',"response":', response, ',"error":', _flat_json(error), "}"]
        last = "".join(
            ['{"event":', head % kind, answered.isoformat(), tail, request_text, *last_parts]
        )
        self._enqueue(
            [
                (_RECEIVE, received, trace_id, request_id, first),
                (kind, answered, trace_id, request_id, last),
            ]
        )

    def _enqueue(self, rows: Sequence[_Row]) -> None:
        room = (self._queue.maxlen or 0) - len(self._queue)
        if len(rows) > room:
            self.dropped += len(rows) - room
            log.error("ketenlog queue full: %d oldest record(s) dropped", len(rows) - room)
        self._queue.extend(rows)
        if len(self._queue) >= self.batch:
            self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- writing -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the database and bring it to the newest revision. Blocking."""
        if self._engine is None:
            engine = make_engine(self.url)
            migrate(engine, _MIGRATIONS)
            if engine.dialect.name == "sqlite":
                occurred_at = _TABLE.c.occurred_at.type.dialect_impl(engine.dialect)
                self._sqlite_time = occurred_at.bind_processor(engine.dialect)
            self._engine = engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sqlite_time = None

    def write(self, records: Sequence[Record]) -> None:
        """Insert records in one transaction. Blocking."""
        self._write_rows(_rows(records))

    def _write_rows(self, rows: Sequence[_Row]) -> None:
        """Insert queued rows in one transaction. Blocking."""
        if not rows:
            return
        engine = self.engine
        with engine.connect().execution_options(**WRITE) as connection, connection.begin():
            stamp = self._sqlite_time
            if stamp is not None:
                # The driver's executemany of plain tuples: no statement compilation, no
                # per-row parameter processing but the datetime's (SQLAlchemy's own format,
                # which its reads parse).
                connection.exec_driver_sql(
                    _SQLITE_INSERT,
                    [
                        (kind, stamp(at), trace, request, text)
                        for kind, at, trace, request, text in rows
                    ],
                )
            else:
                # One executemany of plain rows on the table (Core, no ORM objects).
                connection.execute(
                    insert(_TABLE), [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
                )

    async def flush(self) -> int:
        """Write what is queued now; on failure it stays queued. Returns how many were written."""
        taken = [self._queue.popleft() for _ in range(len(self._queue))]
        if not taken:
            return 0
        try:
            await asyncio.to_thread(self._write_rows, taken)
        except Exception as exc:  # the database: kept for the next flush
            log.warning("ketenlog not written yet (%s: %s)", type(exc).__name__, exc)
            self._queue.extendleft(reversed(taken))
            return 0
        return len(taken)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            await self.flush()

    @contextlib.asynccontextmanager
    async def running(
        self, settings: ZorgaanbiederSettings, whitelist: Callable[[], Collection[str] | None]
    ) -> AsyncIterator[None]:
        """Open, write in the background and deliver to the collector while the block runs
        (``whitelist``: the node's current Whitelist, for the delivery); flush at the end."""
        await asyncio.to_thread(self.open)
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="resource ketenlog writer")
        deliverer = KetenlogDeliverer.for_node(
            settings, TableOutbox(self.engine), whitelist=whitelist
        )
        self.deliverer = deliverer
        try:
            async with delivering(deliverer):
                yield
        finally:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
            await self.flush()
            await asyncio.to_thread(self.close)

    deliverer: KetenlogDeliverer | None = None

    # -- reading -------------------------------------------------------------------------

    def records(self, *, type: EventType | None = None) -> list[Record]:
        """The written records in the order they were written. Blocking."""
        query = select(KetenlogRow.record).order_by(KetenlogRow.id)
        if type is not None:
            query = query.where(KetenlogRow.type == type.value)
        with self.engine.connect() as connection:
            return [Record.from_json(json.loads(text)) for text in connection.scalars(query)]
