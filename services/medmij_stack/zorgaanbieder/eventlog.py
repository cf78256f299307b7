"""The resource server's ketenlog: its records, queued on the hot path, written in batches.

The Logging interface (https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface)
has the DVA's resource server record each resource request it receives and the answer it
sends: ``receive_resource_request``, then ``send_resource_response`` (2xx) or
``send_resource_error_response`` (anything else, a refusal by the Whitelist gate included).
``trace_id`` is the request's X-Correlation-ID and ``request.id`` its MedMij-Request-ID, as the
PGO records them on its side (``pgo.retrieval``), so that the two sides can be reconciled
(``medmij_stack.protocol.reporting.reconcile``). A back-channel request belongs to no person
session: ``session_id`` is null.

A search must not wait for the log: :meth:`ResourceKetenlog.add` only appends to an in-memory
queue; a background task writes what has queued up in one transaction every
``flush_seconds`` (or sooner when ``batch`` records wait), in a worker thread. The records go
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
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from pathlib import Path

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


def _rows(records: Sequence[Record]) -> list[dict[str, object]]:
    """The table rows of ``records``; each row's ``record`` is ``_compact(record.to_json())``.

    The two records of one answer share their request (``observation``), the largest part of
    each: its JSON is made once per request, not once per record."""
    requests: dict[int, str] = {}  # id() of a request → its JSON; ``records`` holds them all
    rows: list[dict[str, object]] = []
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
        rows.append(
            {
                "type": record.event.type.value,
                "occurred_at": record.event.datetime,
                "trace_id": record.event.trace_id,
                "request_id": request.id if request else None,
                "record": "".join(parts),
            }
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
        self._queue: deque[Record] = deque(maxlen=max_queued)
        self._engine: Engine | None = None
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
        room = (self._queue.maxlen or 0) - len(self._queue)
        if len(records) > room:
            self.dropped += len(records) - room
            log.error("ketenlog queue full: %d oldest record(s) dropped", len(records) - room)
        self._queue.extend(records)
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
            self._engine = engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def write(self, records: Sequence[Record]) -> None:
        """Insert records in one transaction. Blocking."""
        if not records:
            return
        with self.engine.connect().execution_options(**WRITE) as connection, connection.begin():
            # One executemany of plain rows on the table (Core, no ORM objects).
            connection.execute(insert(_TABLE), _rows(records))

    async def flush(self) -> int:
        """Write what is queued now; on failure it stays queued. Returns how many were written."""
        taken = [self._queue.popleft() for _ in range(len(self._queue))]
        if not taken:
            return 0
        try:
            await asyncio.to_thread(self.write, taken)
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
