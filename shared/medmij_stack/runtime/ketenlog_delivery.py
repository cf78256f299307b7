"""Delivering a service's ketenlog to the central collector: outbox, cursor, batches, retries.

The Logging interface (https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface)
and the Loggingbeleid (https://vzvz.atlassian.net/wiki/spaces/MACM/pages/134921625) have every
participant deliver its ketenlog records "zo hoog mogelijke frequentie", in batches of JSON, to
MedMij's central log, from which the monthly figures are made. In this stack that central log is
the collector (``medmij_stack.collector``). Each service keeps writing its records to its own
database, as before; this module reads them from there and delivers them:

* **Outbox.** The service's own ketenlog table is the outbox: its rows have a monotonically
  increasing id (the *sequence*). An :data:`Outbox` is any blocking callable "at most ``limit``
  records after sequence ``n``, in order"; :class:`TableOutbox` is one for a table with an integer
  id and the record's JSON text, which is what the authorisation server's and the PGO's
  ``ketenlog`` tables are.
* **Cursor.** The highest sequence the collector has confirmed, persisted
  (:class:`FileCursor`: a small JSON file in the service's data dir, replaced atomically). It is
  advanced only after the collector confirmed a batch.
* **Delivery.** :class:`KetenlogDeliverer` sends what lies after the cursor in bounded batches
  (records and bytes) over mutual TLS with the node's own certificate, to a collector whose host
  must be on the current Whitelist (:func:`medmij_stack.runtime.backchannel.post_async`), and
  backs off (doubling, with jitter, up to a ceiling) while the collector is down, not yet
  admitting this node, or answering 5xx.

Exactly once. Every entry carries a delivery id, the node's host name (``sender``, which the
collector checks against the client certificate) and the record's ``sequence``; the collector
stores each (sender, sequence) once. So a crash between a confirmed send and the cursor's save
costs nothing: the batch goes again, and the collector counts it as duplicates. Nothing is lost
either: the cursor never passes a record the collector did not confirm, except a record it
refused for good (below).

A refused record is not retried forever. The collector refuses a whole batch and names the first
bad record (``{"record": i, ...}``, docs in ``medmij_stack.collector.batch``). The deliverer then
sends the records before it (they were fine), and when the bad record is first in a batch it is
*skipped*: logged as an error with its sequence and the collector's reason, counted in
:attr:`DeliveryStatus.skipped`, and the cursor moves past it. The record stays in the service's
own table. A batch that is too large (413), or refused as 409/422 without a record named, is
halved until the record at fault is alone, and that one is skipped the same way. A record whose
stored text is not a JSON object is skipped without being sent. What is no record's fault is
never skipped but sent again after a pause, however long it lasts (logged now and then, and in
:attr:`DeliveryStatus.last_problem`): a refusal of the node's own name (``member`` "sender"),
400 or 415 without a record named, 401/403 from the Whitelist gate, 5xx, no answer.

Gaps. On PostgreSQL a sequence number is taken when a row is inserted, not when it is committed,
so a row with a lower id can become visible after one with a higher id. The deliverer sends only
the contiguous run after the cursor; at a gap it waits up to ``gap_grace`` seconds for the
missing row to appear before it takes the gap as a rolled-back transaction and moves on. (SQLite
hands out ids in commit order and reuses the id of a rolled-back insert: there a gap only comes
from deleted rows.)

Plugging it into a service (the five lines; nothing else changes). The deliverer is built from the
node's settings, whose ``collector_url`` the wiring fills from the world; without one
:meth:`KetenlogDeliverer.for_node` returns None and nothing is delivered:

1. ``from medmij_stack.runtime.ketenlog_delivery import KetenlogDeliverer, TableOutbox,
   delivering``
2. ``self.delivery = KetenlogDeliverer.for_node(settings, TableOutbox(db.engine),
   whitelist=subscription.whitelist)`` where the service makes its database and its
   :class:`~medmij_stack.runtime.node.ListSubscription` (None when no collector is named);
3. ``async with delivering(self.delivery):`` around the ``yield`` of the service's lifespan,
   inside its ``async with subscription.lifespan(app):`` (so the Whitelist is being fetched,
   and the database is still open when delivery stops);
4. optionally ``**delivery_health(self.delivery)`` in its ``/health`` body.

Per service: the PGO does 2 in ``pgo.runtime.Pgo.__init__`` (``self.db.engine``,
``self.lists.whitelist``) and 3 in ``Pgo.lifespan``; the authorisation server 2 in
``authserver.runtime.Dva.build`` (``db.engine``, ``lists.whitelist``) and 3 as
``await self.delivery.start()`` in ``Dva.acquire`` / ``await self.delivery.stop()`` in
``Dva.release`` when not None, since its two channel apps share one Dva; the resource
server does 2 and 3 in ``zorgaanbieder.eventlog.ResourceKetenlog.running`` (its ``ketenlog``
table is in its store). The cursor file is ``<data_dir>/ketenlog-delivery.json``. Run one
deliverer per database: two would both deliver everything (the collector keeps one copy, but
the work is doubled).

Limits. If a service's database is wiped while its cursor file is kept, its new records reuse
sequences the collector already holds; the collector refuses them as conflicting (409) rather
than merging them, and they are skipped here with an error each. Wipe both together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine, column, select, table

from medmij_stack.runtime.backchannel import (
    CallFailed,
    Whitelist,
    node_async_client,
    post_async,
)
from medmij_stack.runtime.config import NodeSettings

__all__ = [
    "CURSOR_FILE",
    "DELIVERY_KEEPALIVE",
    "DELIVERY_PATH",
    "MAX_SEQUENCE",
    "RECORDS_PATH",
    "Cursor",
    "DeliveryStatus",
    "FileCursor",
    "KetenlogDeliverer",
    "Outbox",
    "OutboxRecord",
    "Outcome",
    "TableOutbox",
    "delivering",
    "delivery_entry",
    "delivery_health",
]

log = logging.getLogger("medmij_stack.ketenlog.delivery")

DELIVERY_PATH = "/v1/logs"
"""Where the collector takes batches (POST), after EagleEye's ``/eagleeye/v1/logs``."""

RECORDS_PATH = "/v1/records"
"""Where the collector gives back what it holds (GET)."""

MAX_SEQUENCE = 2**63 - 1
"""The highest sequence a delivery id may carry (a signed 64-bit column at the collector)."""

CURSOR_FILE = "ketenlog-delivery.json"
"""The cursor's file name in a node's data dir (:meth:`KetenlogDeliverer.for_node`)."""

DELIVERY_KEEPALIVE = 3.5
"""Seconds the deliverer keeps its idle connection to the collector: longer than a round's
pause (``interval``, 2 s), so that rounds while records keep coming reuse one mutual-TLS
connection instead of a handshake each (the back-channel default, 2 s, expired just before
every next round), and 1.5 s short of the collector's 5 s, so that it is never sent on a
connection the collector is closing. After a quiet spell the next round connects anew."""

# At most this many skipped records are kept for the status report; the count goes on.
_SKIPPED_SHOWN = 50


def delivery_entry(sender: str, sequence: int, record: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of a batch: the delivery id (``sender``, ``sequence``) and the record."""
    return {"sender": sender, "sequence": sequence, "record": record}


# --- the outbox ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRecord:
    """A stored ketenlog record: its sequence in the outbox, and its JSON (object or text)."""

    sequence: int
    record: Mapping[str, Any] | str


Outbox = Callable[[int, int], Sequence[OutboxRecord]]
"""``outbox(after, limit)``: at most ``limit`` records with a sequence above ``after``, in
ascending order. Blocking: the deliverer calls it in a worker thread."""


class TableOutbox:
    """The outbox of a table with an integer id and a text column holding the record's JSON.

    The table is named, not imported, so the runtime needs none of a service's models; the
    defaults fit the ``ketenlog`` tables of the authorisation server and the PGO.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        table_name: str = "ketenlog",
        id_column: str = "id",
        record_column: str = "record",
    ) -> None:
        self._engine = engine
        self._table = table(table_name, column(id_column), column(record_column))
        self._id = self._table.c[id_column]
        self._record = self._table.c[record_column]

    def __call__(self, after: int, limit: int) -> list[OutboxRecord]:
        query = (
            select(self._id, self._record).where(self._id > after).order_by(self._id).limit(limit)
        )
        with self._engine.connect() as connection:
            return [
                OutboxRecord(int(sequence), text) for sequence, text in connection.execute(query)
            ]


# --- the cursor ------------------------------------------------------------------------------


class Cursor(Protocol):
    """The highest sequence the collector confirmed, kept across restarts."""

    def load(self) -> int: ...

    def save(self, sequence: int) -> None: ...


class FileCursor:
    """The cursor in a JSON file, written atomically (temporary file, fsync, rename).

    The file names the collector and the sender it holds the cursor for: delivering to
    another collector, or as another host, starts again from the first record. A file that
    cannot be read also starts again from the first record; that only costs a redelivery,
    which the collector counts as duplicates.
    """

    def __init__(self, path: Path, *, collector: str, sender: str) -> None:
        self.path = path
        self.collector = collector
        self.sender = sender

    def load(self) -> int:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            log.warning("cursor %s unreadable (%s): delivering from the start", self.path, exc)
            return 0
        if not isinstance(data, dict):
            log.warning("cursor %s is not a JSON object: delivering from the start", self.path)
            return 0
        if data.get("collector") != self.collector or data.get("sender") != self.sender:
            log.info("cursor %s is for another collector or sender: from the start", self.path)
            return 0
        through = data.get("delivered_through")
        if not isinstance(through, int) or isinstance(through, bool) or through < 0:
            log.warning("cursor %s holds no sequence: delivering from the start", self.path)
            return 0
        return through

    def save(self, sequence: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "collector": self.collector,
            "sender": self.sender,
            "delivered_through": sequence,
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(document, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


# --- the deliverer ---------------------------------------------------------------------------


class Outcome(StrEnum):
    """What one delivery step did."""

    IDLE = "idle"
    """Nothing after the cursor."""
    DELIVERED = "delivered"
    """A batch was confirmed and the cursor moved past it."""
    SHRUNK = "shrunk"
    """Refused in part: the next batch is smaller (the records before a bad one, or half)."""
    SKIPPED = "skipped"
    """One record was refused for good; the cursor moved past it."""
    WAITING = "waiting"
    """A gap in the outbox: waiting for the missing record to be committed."""
    FAILED = "failed"
    """No confirmation (no answer, 5xx, not admitted…): the batch goes again after a pause."""


@dataclass(frozen=True)
class Skipped:
    sequence: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "reason": self.reason}


@dataclass
class DeliveryStatus:
    """How delivery is going, for a service's ``/health`` and for tests."""

    collector: str
    delivered_through: int | None = None
    """The cursor (None until it was loaded)."""
    delivered: int = 0
    """Records the collector confirmed since this process started (duplicates included)."""
    duplicates: int = 0
    """Of those, records the collector already held (a redelivery)."""
    skipped: int = 0
    recent_skips: list[Skipped] = field(default_factory=list)
    failures: int = 0
    """Consecutive steps without a confirmation."""
    last_problem: str | None = None
    last_delivery: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "collector": self.collector,
            "delivered_through": self.delivered_through,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "recent_skips": [s.to_json() for s in self.recent_skips],
            "failures": self.failures,
            "last_problem": self.last_problem,
            "last_delivery": None if self.last_delivery is None else self.last_delivery.isoformat(),
        }


@dataclass(frozen=True)
class _Prepared:
    """A batch ready to send: the outbox records and their entries' JSON, in the same order."""

    records: tuple[OutboxRecord, ...]
    entries: tuple[bytes, ...]
    more: bool
    """More records may follow at once: the outbox filled the whole limit, or the batch was
    cut short (by its byte bound or a gap)."""

    def body(self) -> bytes:
        """The batch as the collector takes it: ``{"records":[entry,…]}``."""
        return b'{"records":[' + b",".join(self.entries) + b"]}"


class KetenlogDeliverer:
    """Delivers an outbox to the collector in the background (see the module docstring)."""

    def __init__(
        self,
        *,
        sender: str,
        url: str,
        outbox: Outbox,
        cursor: Cursor,
        client_factory: Callable[[], httpx.AsyncClient],
        whitelist: Whitelist | None,
        max_records: int = 500,
        max_bytes: int = 1_048_576,
        interval: float = 2.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        gap_grace: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("a batch must allow at least one record and one byte")
        self.sender = sender.lower()
        self.url = url
        self._outbox = outbox
        self._cursor = cursor
        self._client_factory = client_factory
        self._whitelist = whitelist
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.interval = interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.gap_grace = gap_grace
        self._clock = clock
        self._jitter = jitter
        self._limit = max_records
        # Every entry starts alike: {"sender":"<host>","sequence":
        self._entry_head = _compact({"sender": self.sender})[:-1] + b',"sequence":'
        # The sequence a gap at the head of the outbox is waiting for, and since when.
        self._gap: tuple[int, float] | None = None
        self._more = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.status = DeliveryStatus(collector=url)

    @classmethod
    def for_node(
        cls,
        settings: NodeSettings,
        outbox: Outbox,
        *,
        whitelist: Whitelist | None,
        **options: Any,
    ) -> KetenlogDeliverer | None:
        """The deliverer of a node, or None when its settings name no collector.

        Sends as the node (its certificate, trust and host map) to ``settings.collector_url``,
        with the cursor in ``settings.data_dir``. ``whitelist`` is the node's current Whitelist
        (``ListSubscription.whitelist``); ``options`` go to the constructor.
        """
        if settings.collector_url is None:
            return None
        url = settings.collector_url
        cursor = FileCursor(
            Path(settings.data_dir) / CURSOR_FILE, collector=url, sender=settings.hostname.lower()
        )
        return cls(
            sender=settings.hostname,
            url=url,
            outbox=outbox,
            cursor=cursor,
            client_factory=lambda: node_async_client(
                settings, timeout=30.0, keepalive_expiry=DELIVERY_KEEPALIVE
            ),
            whitelist=whitelist,
            **options,
        )

    # -- one step -------------------------------------------------------------------------

    def _load_cursor(self) -> int:
        through = self._cursor.load()
        self.status.delivered_through = through
        return through

    def _advance(self, sequence: int) -> None:
        self._cursor.save(sequence)
        self.status.delivered_through = sequence

    def _skip(self, record: OutboxRecord, reason: str) -> Outcome:
        log.error("ketenlog record %d not delivered, skipped: %s", record.sequence, reason)
        self._advance(record.sequence)
        self.status.skipped += 1
        self.status.recent_skips = [
            *self.status.recent_skips[-(_SKIPPED_SHOWN - 1) :],
            Skipped(record.sequence, reason),
        ]
        self._limit = self.max_records
        return Outcome.SKIPPED

    def _contiguous(self, through: int, records: Sequence[OutboxRecord]) -> list[OutboxRecord]:
        """The records that follow ``through`` without a gap (a gap at the head waits a while)."""
        if not records:
            self._gap = None
            return []
        expected = through + 1
        head = records[0].sequence
        if head != expected:
            now = self._clock()
            if self._gap is None or self._gap[0] != expected:
                self._gap = (expected, now)
            if now - self._gap[1] < self.gap_grace:
                return []
            log.warning(
                "ketenlog records %d to %d never appeared; delivering from %d",
                expected,
                head - 1,
                head,
            )
        self._gap = None
        run = [records[0]]
        for record in records[1:]:
            if record.sequence != run[-1].sequence + 1:
                break
            run.append(record)
        return run

    def _prepare(self, through: int, records: Sequence[OutboxRecord]) -> _Prepared | Outcome:
        run = self._contiguous(through, records)
        if not run:
            return Outcome.WAITING if records else Outcome.IDLE
        chosen: list[OutboxRecord] = []
        entries: list[bytes] = []
        size = len(b'{"records":[]}')
        for record in run:
            entry = self._entry(record)
            if entry is None:
                if not chosen:
                    return self._skip(record, "its stored text is not a JSON object")
                break
            entry_size = len(entry) + 1  # and its comma
            if chosen and size + entry_size > self.max_bytes:
                break
            chosen.append(record)
            entries.append(entry)
            size += entry_size
        more = len(records) >= self._limit or len(chosen) < len(records)
        return _Prepared(tuple(chosen), tuple(entries), more=more)

    def _entry(self, record: OutboxRecord) -> bytes | None:
        """The record's entry as sent (:func:`delivery_entry`, compact JSON), or None when its
        stored text is not a JSON object. The stored text goes in as it is: it is checked
        (parsed), not encoded again."""
        stored = record.record
        if isinstance(stored, str):
            if _document(stored) is None:
                return None
            try:
                encoded = stored.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate, which JSON text cannot carry
                return None
        else:
            encoded = _compact(stored)
        return b'%s%d,"record":%s}' % (self._entry_head, record.sequence, encoded)

    async def step(self, client: httpx.AsyncClient) -> Outcome:
        """Read after the cursor, send one batch, and act on the answer."""
        try:
            return await self._step(client)
        except Exception as exc:  # a disk or a database: tried again later, never fatal
            return self._failed(f"delivery failed ({type(exc).__name__}: {exc})")

    async def _step(self, client: httpx.AsyncClient) -> Outcome:
        try:
            through = await asyncio.to_thread(self._load_cursor)
            records = await asyncio.to_thread(self._outbox, through, self._limit)
        except Exception as exc:  # the service's database
            return self._failed(f"the outbox could not be read ({type(exc).__name__}: {exc})")
        prepared = self._prepare(through, records)
        if isinstance(prepared, Outcome):
            return prepared
        try:
            answer = await post_async(
                client,
                self.url,
                content=prepared.body(),
                headers={"Content-Type": "application/json"},
                whitelist=self._whitelist,
                expect=range(100, 600),
            )
        except CallFailed as failure:
            return self._failed(f"the collector {failure}")
        if 200 <= answer.status < 300:
            return await self._confirmed(prepared, answer.content)
        return self._refused(prepared, answer.status, answer.content)

    async def _confirmed(self, prepared: _Prepared, content: bytes) -> Outcome:
        last = prepared.records[-1].sequence
        try:
            await asyncio.to_thread(self._advance, last)
        except OSError as exc:
            # Confirmed but not remembered: the batch goes again and the collector de-dups it.
            return self._failed(f"the cursor could not be saved ({exc})")
        body = _json_object(content)
        duplicates = body.get("duplicates") if body is not None else None
        if isinstance(duplicates, int) and not isinstance(duplicates, bool):
            self.status.duplicates += duplicates
        self.status.delivered += len(prepared.records)
        self.status.failures = 0
        self.status.last_problem = None
        self.status.last_delivery = datetime.now(UTC)
        self._limit = self.max_records
        self._more = prepared.more
        log.debug("ketenlog delivered through %d (%d records)", last, len(prepared.records))
        return Outcome.DELIVERED

    def _refused(self, prepared: _Prepared, status: int, content: bytes) -> Outcome:
        body = _json_object(content) or {}
        description = body.get("error_description") or body.get("error") or f"HTTP {status}"
        index = body.get("record")
        named = (
            isinstance(index, int)
            and not isinstance(index, bool)
            and 0 <= index < len(prepared.records)
        )
        if body.get("member") == "sender":
            # Not this record's fault but the node's: the certificate is not the sender's.
            # Skipping would set every record aside, so it is tried again after a pause.
            return self._failed(f"the collector refuses this node's name: {description}")
        if 400 <= status < 500 and named:
            assert isinstance(index, int)
            if index == 0:
                return self._skip(prepared.records[0], f"refused with HTTP {status}: {description}")
            self._limit = index  # the records before it are fine: send those first
            return Outcome.SHRUNK
        if status in (409, 413, 422):
            # A record's fault without the record named: narrow it down by halves.
            if len(prepared.records) == 1:
                return self._skip(prepared.records[0], f"refused with HTTP {status}: {description}")
            self._limit = max(1, len(prepared.records) // 2)
            return Outcome.SHRUNK
        # 401/403 (not admitted yet: the collector's lists may still be loading), 400 or 415
        # (the batch as a whole: no record is to blame), 404, 408, 429, 5xx, anything else:
        # the same batch goes again after a pause.
        return self._failed(f"the collector answered HTTP {status}: {description}")

    def _failed(self, problem: str) -> Outcome:
        self.status.failures += 1
        self.status.last_problem = problem
        # Loud on the first failure and now and then after, not on every retry of an outage.
        loud = self.status.failures == 1 or self.status.failures % 20 == 0
        log.log(
            logging.WARNING if loud else logging.DEBUG,
            "ketenlog delivery failed %d time(s) in a row: %s",
            self.status.failures,
            problem,
        )
        return Outcome.FAILED

    def backoff(self) -> float:
        """The pause after ``status.failures`` failures: doubling from ``backoff_initial`` up to
        ``backoff_max``, times a jitter in [0.5, 1) so that nodes do not retry in step."""
        exponent = min(max(self.status.failures - 1, 0), 30)
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0**exponent)
        return ceiling * (0.5 + self._jitter() / 2)

    def pause(self, outcome: Outcome) -> float:
        """How long to wait before the next step after ``outcome``."""
        if outcome is Outcome.FAILED:
            return self.backoff()
        if outcome in (Outcome.SHRUNK, Outcome.SKIPPED) or (
            outcome is Outcome.DELIVERED and self._more
        ):
            return 0.0
        if outcome is Outcome.WAITING and self._gap is not None:
            waited = self._clock() - self._gap[1]
            return max(0.0, min(self.interval, self.gap_grace - waited))
        return self.interval

    # -- running ----------------------------------------------------------------------------

    async def drain(self, client: httpx.AsyncClient, *, max_steps: int = 10_000) -> Outcome:
        """Step until nothing is left to send, or a step fails or waits; returns that outcome."""
        outcome = Outcome.IDLE
        for _ in range(max_steps):
            outcome = await self.step(client)
            if outcome in (Outcome.IDLE, Outcome.FAILED, Outcome.WAITING):
                return outcome
        return outcome

    async def run(self) -> None:
        """Deliver until :meth:`stop`; every problem is logged and retried, none ends the loop."""
        while not self._stopping.is_set():
            try:
                async with self._client_factory() as client:
                    while not self._stopping.is_set():
                        await self._rest(self.pause(await self.step(client)))
            except Exception as exc:  # e.g. the node's certificate files: tried again later
                self._failed(f"no client to deliver with ({type(exc).__name__}: {exc})")
                await self._rest(self.backoff())

    async def _rest(self, seconds: float) -> None:
        """Wait ``seconds``, or less when stopped meanwhile."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def start(self) -> None:
        """Start delivering in the background (idempotent)."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="ketenlog delivery")

    async def stop(self) -> None:
        """Stop delivering; what was not confirmed goes at the next start."""
        if self._task is None:
            return
        self._stopping.set()
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """An ASGI lifespan: deliver while the app runs."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()


@contextlib.asynccontextmanager
async def delivering(deliverer: KetenlogDeliverer | None) -> AsyncIterator[None]:
    """Deliver in the background while the block runs; nothing when ``deliverer`` is None (the
    node's settings name no collector)."""
    if deliverer is None:
        yield
        return
    await deliverer.start()
    try:
        yield
    finally:
        await deliverer.stop()


def delivery_health(deliverer: KetenlogDeliverer | None) -> dict[str, Any]:
    """The part of a node's ``/health`` body that says how delivery goes (empty without one)."""
    return {} if deliverer is None else {"ketenlog_delivery": deliverer.status.to_json()}


def _compact(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _document(record: Mapping[str, Any] | str) -> Mapping[str, Any] | None:
    if not isinstance(record, str):
        return record
    try:
        parsed = json.loads(record)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None
