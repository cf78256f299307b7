"""The ketenlog deliverer: batches, the cursor, retries, refusals and gaps.

The collector here is a stand-in behind httpx's mock transport that does what the real one
does with a batch (tests/collector covers the real one, and the two together over mutual TLS):
it keeps each (sender, sequence) once, refuses a batch naming the first bad record, and can be
down, failing or too small. The outbox is a list, or a SQLite table.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from medmij_stack.protocol.ketenlog import Event, EventType, Record
from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.config import NodeSettings
from medmij_stack.runtime.database import make_engine
from medmij_stack.runtime.ketenlog_delivery import (
    CURSOR_FILE,
    DELIVERY_PATH,
    FileCursor,
    KetenlogDeliverer,
    OutboxRecord,
    Outcome,
    TableOutbox,
    delivering,
    delivery_health,
)

SENDER = "pgo.localhost"
URL = f"https://collector.localhost:8447{DELIVERY_PATH}"


def document(sequence: int) -> dict[str, Any]:
    moment = datetime(2026, 1, 15, 12, 0, sequence % 60, tzinfo=UTC)
    event = Event(EventType.SEND_TOKEN_REQUEST, SENDER, moment, None, f"trace-{sequence}")
    return Record(event).to_json()


@dataclass
class FakeCollector:
    """What the collector does with a batch, minus TLS and the database."""

    held: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    posts: list[list[int]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    down: bool = False
    status: int | None = None  # answer every batch with this status instead
    refuse: set[int] = field(default_factory=set)  # sequences refused as invalid
    name_the_record: bool = True
    max_records: int | None = None
    foreign_name: bool = False  # the certificate is not the sender's

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.path == DELIVERY_PATH
        assert request.headers["content-type"] == "application/json"
        self.bodies.append(request.content)
        entries = json.loads(request.content)["records"]
        self.posts.append([e["sequence"] for e in entries])
        if self.status is not None:
            return httpx.Response(self.status, json={"error": "server_error"})
        if self.max_records is not None and len(entries) > self.max_records:
            return httpx.Response(413, json={"error": "too_large"})
        if self.foreign_name:
            body = {"error": "access_denied", "error_description": "not this certificate's host"}
            return httpx.Response(403, json=body | {"record": 0, "member": "sender"})
        for index, item in enumerate(entries):
            assert item["sender"] == SENDER
            Record.from_json(item["record"])
            if item["sequence"] in self.refuse:
                body = {"error": "invalid_record", "error_description": "no good"}
                if self.name_the_record:
                    body |= {"record": index, "member": "record.event"}
                return httpx.Response(422, json=body)
        stored = 0
        for item in entries:
            key = (item["sender"], item["sequence"])
            if key not in self.held:
                self.held[key] = item["record"]
                stored += 1
        return httpx.Response(
            200,
            json={"received": len(entries), "stored": stored, "duplicates": len(entries) - stored},
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def sequences(self) -> list[int]:
        return sorted(sequence for _, sequence in self.held)


@dataclass
class ListOutbox:
    """An outbox in memory: ``records`` in sequence order."""

    records: list[OutboxRecord] = field(default_factory=list)

    def add(self, *sequences: int) -> None:
        self.records += [OutboxRecord(s, document(s)) for s in sequences]
        self.records.sort(key=lambda r: r.sequence)

    def __call__(self, after: int, limit: int) -> list[OutboxRecord]:
        return [r for r in self.records if r.sequence > after][:limit]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def deliverer(
    outbox: Callable[[int, int], list[OutboxRecord]],
    cursor_path: Path,
    collector: FakeCollector,
    **options: Any,
) -> KetenlogDeliverer:
    return KetenlogDeliverer(
        sender=SENDER,
        url=URL,
        outbox=outbox,
        cursor=FileCursor(cursor_path, collector=URL, sender=SENDER),
        client_factory=collector.client,
        whitelist=lambda: frozenset({"collector.localhost", SENDER}),
        **options,
    )


@pytest.fixture
def cursor_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / CURSOR_FILE


def saved_cursor(path: Path) -> int:
    through = json.loads(path.read_text("utf-8"))["delivered_through"]
    assert isinstance(through, int)
    return through


# --- delivering ------------------------------------------------------------------------------


async def test_everything_goes_in_bounded_batches_and_the_cursor_follows(
    cursor_path: Path,
) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(*range(1, 24))
    sending = deliverer(outbox, cursor_path, collector, max_records=10)
    async with collector.client() as client:
        assert await sending.drain(client) is Outcome.IDLE
    assert collector.posts == [list(range(1, 11)), list(range(11, 21)), [21, 22, 23]]
    assert collector.sequences() == list(range(1, 24))
    assert collector.held[(SENDER, 7)] == document(7)
    assert saved_cursor(cursor_path) == 23
    assert sending.status.delivered == 23
    assert sending.status.delivered_through == 23
    # Later records go from where it stopped.
    outbox.add(24, 25)
    async with collector.client() as client:
        await sending.drain(client)
    assert collector.posts[-1] == [24, 25]


async def test_a_batch_stays_under_the_byte_bound(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(*range(1, 31))
    one = len(json.dumps({"sender": SENDER, "sequence": 10, "record": document(10)}))
    bound = 4 * one + 40
    sending = deliverer(outbox, cursor_path, collector, max_bytes=bound)
    async with collector.client() as client:
        await sending.drain(client)
    assert collector.sequences() == list(range(1, 31))
    assert all(1 <= len(post) <= 4 for post in collector.posts)
    assert len(collector.posts) >= 30 // 4


async def test_collector_down_then_up_loses_nothing(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector(down=True)
    outbox.add(*range(1, 8))
    sending = deliverer(
        outbox, cursor_path, collector, backoff_initial=1.0, backoff_max=8.0, jitter=lambda: 0.999
    )
    async with collector.client() as client:
        pauses = []
        for _ in range(5):
            assert await sending.step(client) is Outcome.FAILED
            pauses.append(sending.pause(Outcome.FAILED))
        assert not cursor_path.exists()
        assert sending.status.failures == 5
        assert "did not answer" in (sending.status.last_problem or "")
        # Doubling from 1 s up to the ceiling, with the jitter near its top.
        assert [round(p) for p in pauses] == [1, 2, 4, 8, 8]
        collector.down = False
        assert await sending.drain(client) is Outcome.IDLE
    assert collector.sequences() == list(range(1, 8))
    assert sending.status.failures == 0
    assert sending.status.last_problem is None
    assert saved_cursor(cursor_path) == 7


@pytest.mark.parametrize("status", [500, 503, 403, 401, 404, 429, 400, 415])
async def test_failures_and_refusals_naming_no_record_are_sent_again(
    cursor_path: Path, status: int
) -> None:
    # 403 without a record named: the collector's gate (its Whitelist may still be loading).
    outbox, collector = ListOutbox(), FakeCollector(status=status)
    outbox.add(1, 2, 3)
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        for _ in range(3):
            assert await sending.step(client) is Outcome.FAILED
        assert sending.status.skipped == 0
        assert f"HTTP {status}" in (sending.status.last_problem or "")
        collector.status = None
        await sending.drain(client)
    assert collector.posts == [[1, 2, 3]] * 4
    assert collector.sequences() == [1, 2, 3]


async def test_sending_again_stores_nothing_twice(cursor_path: Path, tmp_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(*range(1, 6))
    async with collector.client() as client:
        await deliverer(outbox, cursor_path, collector).drain(client)
        # The cursor is lost: everything goes again, and the collector counts duplicates.
        again = deliverer(outbox, tmp_path / "elsewhere.json", collector)
        await again.drain(client)
    assert collector.posts == [[1, 2, 3, 4, 5]] * 2
    assert collector.sequences() == [1, 2, 3, 4, 5]
    assert again.status.duplicates == 5


class Crash(BaseException):
    """The process dies: nothing after this point runs."""


class CrashingCursor(FileCursor):
    def save(self, sequence: int) -> None:
        raise Crash


async def test_a_crash_between_send_and_cursor_save_duplicates_nothing(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(1, 2, 3)
    dying = KetenlogDeliverer(
        sender=SENDER,
        url=URL,
        outbox=outbox,
        cursor=CrashingCursor(cursor_path, collector=URL, sender=SENDER),
        client_factory=collector.client,
        whitelist=None,
    )
    async with collector.client() as client:
        with pytest.raises(Crash):
            await dying.step(client)
        assert collector.sequences() == [1, 2, 3]  # the collector has them ...
        assert not cursor_path.exists()  # ... but the cursor never moved
        outbox.add(4)
        restarted = deliverer(outbox, cursor_path, collector)
        assert await restarted.drain(client) is Outcome.IDLE
    assert collector.posts == [[1, 2, 3], [1, 2, 3, 4]]
    assert collector.sequences() == [1, 2, 3, 4]
    assert restarted.status.duplicates == 3
    assert saved_cursor(cursor_path) == 4


async def test_a_cursor_that_cannot_be_saved_sends_the_batch_again(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(1, 2)
    cursor_path.parent.mkdir(parents=True)
    cursor_path.mkdir()  # a folder where the file should go: every save fails
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        assert await sending.step(client) is Outcome.FAILED
        assert "cursor" in (sending.status.last_problem or "")
        cursor_path.rmdir()
        await sending.drain(client)
    assert collector.posts == [[1, 2], [1, 2]]
    assert collector.sequences() == [1, 2]


# --- refusals --------------------------------------------------------------------------------


async def test_a_refused_record_is_skipped_not_retried_forever(
    cursor_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox, collector = ListOutbox(), FakeCollector(refuse={5})
    outbox.add(*range(1, 11))
    sending = deliverer(outbox, cursor_path, collector)
    with caplog.at_level(logging.ERROR, "medmij_stack.ketenlog.delivery"):
        async with collector.client() as client:
            assert await sending.drain(client) is Outcome.IDLE
    # Refused naming record 4 (sequence 5): the four before it go, then 5 alone is refused
    # and skipped, then the rest.
    assert collector.posts == [
        list(range(1, 11)),
        [1, 2, 3, 4],
        list(range(5, 11)),
        [6, 7, 8, 9, 10],
    ]
    assert collector.sequences() == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert sending.status.skipped == 1
    assert [s.sequence for s in sending.status.recent_skips] == [5]
    assert "HTTP 422: no good" in sending.status.recent_skips[0].reason
    assert saved_cursor(cursor_path) == 10
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["ketenlog record 5 not delivered, skipped: refused with HTTP 422: no good"]


async def test_a_refusal_of_the_nodes_own_name_skips_nothing(cursor_path: Path) -> None:
    # Every record would be refused alike: setting them aside would lose them all centrally.
    outbox, collector = ListOutbox(), FakeCollector(foreign_name=True)
    outbox.add(1, 2)
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        assert await sending.step(client) is Outcome.FAILED
        assert await sending.step(client) is Outcome.FAILED
        assert sending.status.skipped == 0
        assert "this node's name" in (sending.status.last_problem or "")
        collector.foreign_name = False
        await sending.drain(client)
    assert collector.sequences() == [1, 2]


async def test_a_refusal_naming_no_record_is_narrowed_down_by_halves(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector(refuse={7}, name_the_record=False)
    outbox.add(*range(1, 9))
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        await sending.drain(client)
    assert collector.sequences() == [1, 2, 3, 4, 5, 6, 8]
    assert [s.sequence for s in sending.status.recent_skips] == [7]
    assert len(collector.posts) < 10


async def test_too_large_is_halved_and_a_single_record_too_large_is_skipped(
    cursor_path: Path,
) -> None:
    outbox, collector = ListOutbox(), FakeCollector(max_records=3)
    outbox.add(*range(1, 11))
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        await sending.drain(client)
    assert collector.sequences() == list(range(1, 11))
    assert collector.posts[:3] == [list(range(1, 11)), [1, 2, 3, 4, 5], [1, 2]]
    assert sending.status.skipped == 0

    collector.max_records = 0  # nothing fits any more
    outbox.add(11)
    async with collector.client() as client:
        await sending.drain(client)
    assert [s.sequence for s in sending.status.recent_skips] == [11]


async def test_a_stored_text_that_is_no_record_is_skipped_without_sending_it(
    cursor_path: Path,
) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(1, 2, 4)
    outbox.records.insert(2, OutboxRecord(3, "{not json"))
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        await sending.drain(client)
    assert collector.sequences() == [1, 2, 4]
    assert all(3 not in post for post in collector.posts)
    assert [s.sequence for s in sending.status.recent_skips] == [3]


async def test_a_stored_text_is_sent_as_it_is_not_encoded_again(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    texts = [
        json.dumps(document(1), ensure_ascii=False, indent=1),  # spaces and new lines
        json.dumps(dict(reversed(document(2).items())), separators=(",", ":")),  # another order
    ]
    outbox.records += [OutboxRecord(1, texts[0]), OutboxRecord(2, texts[1])]
    sending = deliverer(outbox, cursor_path, collector)
    async with collector.client() as client:
        assert await sending.step(client) is Outcome.DELIVERED
    entries = [
        f'{{"sender":"{SENDER}","sequence":{n},"record":{text}}}' for n, text in enumerate(texts, 1)
    ]
    assert collector.bodies == [('{"records":[' + ",".join(entries) + "]}").encode()]
    assert collector.sequences() == [1, 2]


async def test_a_collector_off_the_whitelist_is_not_asked(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(1)
    sending = KetenlogDeliverer(
        sender=SENDER,
        url=URL,
        outbox=outbox,
        cursor=FileCursor(cursor_path, collector=URL, sender=SENDER),
        client_factory=collector.client,
        whitelist=lambda: frozenset({SENDER}),
    )
    async with collector.client() as client:
        assert await sending.step(client) is Outcome.FAILED
    assert collector.posts == []
    assert "not asked" in (sending.status.last_problem or "")


async def test_an_outbox_or_cursor_that_fails_is_tried_again_not_fatal(
    cursor_path: Path, tmp_path: Path
) -> None:
    outbox, collector = ListOutbox(), FakeCollector(refuse={1})
    outbox.add(1, 2)
    broken = {"outbox": True}

    def flaky(after: int, limit: int) -> list[OutboxRecord]:
        if broken["outbox"]:
            raise RuntimeError("database is locked")
        return outbox(after, limit)

    sending = deliverer(flaky, cursor_path, collector)
    async with collector.client() as client:
        assert await sending.step(client) is Outcome.FAILED
        assert "database is locked" in (sending.status.last_problem or "")
        broken["outbox"] = False
        cursor_path.parent.mkdir(parents=True)
        cursor_path.mkdir()  # skipping record 1 must save the cursor, which fails
        assert await sending.step(client) is Outcome.FAILED
        cursor_path.rmdir()
        assert await sending.drain(client) is Outcome.IDLE
    assert collector.sequences() == [2]
    assert [s.sequence for s in sending.status.recent_skips] == [1]


# --- gaps in the outbox ----------------------------------------------------------------------


async def test_a_gap_is_waited_for_and_filled_in_order(cursor_path: Path) -> None:
    outbox, collector, clock = ListOutbox(), FakeCollector(), Clock()
    outbox.add(1, 2, 4, 5)
    sending = deliverer(outbox, cursor_path, collector, gap_grace=30.0, clock=clock)
    async with collector.client() as client:
        assert await sending.drain(client) is Outcome.WAITING
        assert collector.posts == [[1, 2]]
        clock.now += 10
        assert await sending.step(client) is Outcome.WAITING
        assert 0 < sending.pause(Outcome.WAITING) <= sending.interval
        outbox.add(3)  # the slower transaction commits
        assert await sending.drain(client) is Outcome.IDLE
    assert collector.posts == [[1, 2], [3, 4, 5]]


async def test_a_gap_that_never_fills_is_passed_after_the_grace(
    cursor_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox, collector, clock = ListOutbox(), FakeCollector(), Clock()
    outbox.add(1, 4, 5)
    sending = deliverer(outbox, cursor_path, collector, gap_grace=30.0, clock=clock)
    async with collector.client() as client:
        await sending.drain(client)
        clock.now += 31
        with caplog.at_level(logging.WARNING, "medmij_stack.ketenlog.delivery"):
            assert await sending.drain(client) is Outcome.IDLE
    assert collector.posts == [[1], [4, 5]]
    assert "records 2 to 3 never appeared" in caplog.text


# --- the cursor and the outbox ---------------------------------------------------------------


def test_the_cursor_file_belongs_to_one_collector_and_sender(tmp_path: Path) -> None:
    path = tmp_path / CURSOR_FILE
    cursor = FileCursor(path, collector=URL, sender=SENDER)
    assert cursor.load() == 0
    cursor.save(41)
    assert cursor.load() == 41
    assert not path.with_name(path.name + ".tmp").exists()
    assert FileCursor(path, collector="https://elders.localhost/v1/logs", sender=SENDER).load() == 0
    assert FileCursor(path, collector=URL, sender="other.localhost").load() == 0
    negative = {"collector": URL, "sender": SENDER, "delivered_through": -1}
    for damaged in ("{", "[]", json.dumps(negative)):
        path.write_text(damaged, "utf-8")
        assert cursor.load() == 0  # from the start: costs a redelivery, loses nothing


def test_a_table_outbox_reads_the_ids_and_texts_in_order(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    metadata = MetaData()
    table = Table(
        "ketenlog",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("record", Text, nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        for sequence in range(1, 8):
            connection.execute(insert(table).values(record=json.dumps(document(sequence))))
    outbox = TableOutbox(engine)
    assert [r.sequence for r in outbox(0, 3)] == [1, 2, 3]
    assert [r.sequence for r in outbox(5, 10)] == [6, 7]
    assert json.loads(str(outbox(6, 1)[0].record)) == document(7)
    assert outbox(7, 10) == []
    engine.dispose()


def node_settings(tmp_path: Path, collector_url: str | None) -> NodeSettings:
    return NodeSettings(
        hostname="PGO.localhost",
        cert=tmp_path / "cert.pem",
        key=tmp_path / "key.pem",
        trust=(tmp_path / "root.pem",),
        lists={kind: f"https://stelselnode.localhost/{kind.filename}" for kind in ListKind},
        data_dir=tmp_path / "pgo",
        collector_url=collector_url,
    )


def test_a_node_without_a_collector_delivers_nothing(tmp_path: Path) -> None:
    assert (
        KetenlogDeliverer.for_node(node_settings(tmp_path, None), ListOutbox(), whitelist=None)
        is None
    )
    with pytest.raises(ValueError, match="collector_url"):
        node_settings(tmp_path, "http://collector.localhost/v1/logs")


def test_a_node_delivers_as_itself_with_its_cursor_in_its_data_dir(tmp_path: Path) -> None:
    sending = KetenlogDeliverer.for_node(
        node_settings(tmp_path, URL), ListOutbox(), whitelist=None, max_records=7
    )
    assert sending is not None
    assert (sending.sender, sending.url, sending.max_records) == (SENDER, URL, 7)
    cursor = sending._cursor
    assert isinstance(cursor, FileCursor)
    assert cursor.path == tmp_path / "pgo" / CURSOR_FILE


async def test_the_background_loop_outlives_a_client_that_cannot_be_made(
    cursor_path: Path,
) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(1)
    attempts = {"made": 0}

    def client_factory() -> httpx.AsyncClient:
        attempts["made"] += 1
        if attempts["made"] == 1:
            raise FileNotFoundError("cert.pem")
        return collector.client()

    sending = KetenlogDeliverer(
        sender=SENDER,
        url=URL,
        outbox=outbox,
        cursor=FileCursor(cursor_path, collector=URL, sender=SENDER),
        client_factory=client_factory,
        whitelist=None,
        interval=0.01,
        backoff_initial=0.01,
    )
    async with delivering(sending):
        for _ in range(500):
            if collector.sequences() == [1]:
                break
            await asyncio.sleep(0.01)
    assert collector.sequences() == [1]
    assert attempts["made"] == 2
    assert delivery_health(sending)["ketenlog_delivery"]["delivered_through"] == 1


async def test_without_a_deliverer_delivering_does_nothing() -> None:
    async with delivering(None):
        pass
    assert delivery_health(None) == {}


async def test_running_in_the_background_delivers_until_stopped(cursor_path: Path) -> None:
    outbox, collector = ListOutbox(), FakeCollector()
    outbox.add(1, 2, 3)
    sending = deliverer(outbox, cursor_path, collector, interval=0.01)
    async with sending.lifespan(None):
        for _ in range(500):
            if collector.sequences() == [1, 2, 3]:
                break
            await asyncio.sleep(0.01)
        outbox.add(4)  # written while it runs: picked up at the next poll
        for _ in range(500):
            if collector.sequences() == [1, 2, 3, 4]:
                break
            await asyncio.sleep(0.01)
    assert collector.sequences() == [1, 2, 3, 4]
    assert sending.status.to_json()["delivered_through"] == 4
    posts = len(collector.posts)
    await asyncio.sleep(0.1)
    assert len(collector.posts) == posts  # stopped
    await sending.stop()  # a second stop is harmless
