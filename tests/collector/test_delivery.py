"""The whole delivery over real mutual TLS: nodes' outboxes → the deliverer → the collector.

Each node here is a small SQLite outbox of its own (a ``ketenlog`` table as the services keep
it) with a :class:`KetenlogDeliverer` made by ``for_node`` from the node's settings, as a
service would make it: its own certificate, its own list subscription at the world's real
Stelselnode for the Whitelist, its cursor in its data dir. The collector is the one
``medmij_stack.wiring.roles`` builds for the world, and is read back the way a report would:
from its database, and over ``GET /v1/records``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, insert

from medmij_stack.collector.settings import database_url_in
from medmij_stack.collector.store import CollectorStore
from medmij_stack.protocol.ketenlog import (
    Event,
    EventType,
    Record,
    RequestInfo,
    ResponseInfo,
)
from medmij_stack.protocol.reporting import Period, compute
from medmij_stack.protocol.reporting.reconcile import reconcile
from medmij_stack.runtime.backchannel import node_async_client
from medmij_stack.runtime.config import NodeSettings
from medmij_stack.runtime.database import make_engine
from medmij_stack.runtime.ketenlog_delivery import (
    CURSOR_FILE,
    FileCursor,
    KetenlogDeliverer,
    TableOutbox,
)
from medmij_stack.runtime.node import ListSubscription
from medmij_stack.wiring.roles import Role, listeners_for

from .conftest import (
    AUTHSERVER,
    FRONT,
    PGO,
    READER,
    CollectorWorld,
    Served,
    make_world,
    serve_together,
)

ZORGAANBIEDER = "ziekenhuistest@medmij"
JANUARY = Period.parse("2026-01")
QUICK = {"interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.2, "max_records": 7}


# --- a node: its outbox, its settings, its deliverer -------------------------------------------


@dataclass
class Node:
    hostname: str
    settings: NodeSettings
    engine: Engine
    table: Table
    lists: ListSubscription

    def write(self, records: list[Record]) -> None:
        """Store records as a service does: one row each, the id rising."""
        with self.engine.begin() as connection:
            for item in records:
                text = json.dumps(item.to_json(), separators=(",", ":"))
                connection.execute(insert(self.table).values(record=text))

    def stored(self) -> list[Record]:
        rows = TableOutbox(self.engine)(0, 1_000_000)
        return [Record.from_json(json.loads(str(r.record))) for r in rows]

    def last_id(self) -> int:
        rows = TableOutbox(self.engine)(0, 1_000_000)
        return rows[-1].sequence if rows else 0

    def deliverer(self, **options: Any) -> KetenlogDeliverer:
        made = KetenlogDeliverer.for_node(
            self.settings,
            TableOutbox(self.engine),
            whitelist=self.lists.whitelist,
            **{**QUICK, **options},
        )
        assert made is not None
        return made


def make_node(world: CollectorWorld, hostname: str) -> Node:
    data_dir = world.data_dir / hostname
    settings = NodeSettings(
        **world.node_settings(hostname, data_dir), collector_url=world.delivery_url
    )
    engine = make_engine(f"sqlite:///{data_dir / 'service.sqlite3'}")
    metadata = MetaData()
    table = Table(
        "ketenlog",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("record", Text, nullable=False),
    )
    metadata.create_all(engine)
    return Node(hostname, settings, engine, table, ListSubscription.for_node(settings))


@dataclass
class Network:
    world: CollectorWorld
    stelselnode: Served
    collector: Served
    pgo: Node
    dva: Node

    def collector_running(self) -> Any:
        return serve_together([self.collector], self.world.pki)

    def held(self) -> CollectorStore:
        # How a report reads the collector without HTTP: its database in its data dir.
        return CollectorStore(database_url_in(self.world.data_dir / "collector"))


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[Network]:
    world = make_world(tmp_path)
    (listener,) = listeners_for(Role.COLLECTOR, world.world, world.pki, world.data_dir)
    collector = world.collector(listener.app)  # type: ignore[arg-type]
    with serve_together([world.stelselnode()], world.pki):
        pgo, dva = make_node(world, PGO), make_node(world, AUTHSERVER)
        for node in (pgo, dva):
            await node.lists.start()
            assert await node.lists.wait_ready(20)
        try:
            yield Network(world, world.stelselnode(), collector, pgo, dva)
        finally:
            for node in (pgo, dva):
                await node.lists.stop()
                node.engine.dispose()


# --- a month of flows, as both sides record them ------------------------------------------------


def _record(
    type: EventType,
    location: str,
    at: datetime,
    flow: int,
    *,
    request: RequestInfo | None = None,
    response: ResponseInfo | None = None,
) -> Record:
    return Record(Event(type, location, at, f"sessie-{flow}", f"flow-{flow}"), request, response)


def month_of_flows(flows: int = 6) -> tuple[list[Record], list[Record]]:
    """(the DVA's records, the PGO's): per flow the authorization and the token exchange;
    in the last flow the PGO never records the token answer."""
    dva: list[Record] = []
    pgo: list[Record] = []
    for flow in range(1, flows + 1):
        start = datetime(2026, 1, 2 + 4 * flow, 10, 0, tzinfo=UTC)
        request_id = f"request-{flow}"
        provider = RequestInfo(provider_id=ZORGAANBIEDER, service_id=48)

        def at(seconds: int, start: datetime = start) -> datetime:
            return start + timedelta(seconds=seconds)

        pgo.append(
            _record(EventType.SEND_AUTHORIZATION_REQUEST, PGO, at(0), flow, request=provider)
        )
        dva += [
            _record(EventType.RECEIVE_AUTHORIZATION_REQUEST, FRONT, at(1), flow, request=provider),
            _record(EventType.SHOW_LANDING_PAGE, FRONT, at(2), flow),
            _record(EventType.SEND_AUTHORIZATION_RESPONSE, FRONT, at(60), flow),
        ]
        pgo += [
            _record(EventType.RECEIVE_AUTHORIZATION_RESPONSE, PGO, at(61), flow),
            _record(
                EventType.SEND_TOKEN_REQUEST, PGO, at(62), flow, request=RequestInfo(id=request_id)
            ),
        ]
        dva += [
            _record(
                EventType.RECEIVE_TOKEN_REQUEST,
                AUTHSERVER,
                at(63),
                flow,
                request=RequestInfo(id=request_id),
            ),
            _record(
                EventType.SEND_TOKEN_RESPONSE,
                AUTHSERVER,
                at(64),
                flow,
                response=ResponseInfo(id=request_id, status=200),
            ),
        ]
        if flow < flows:
            pgo.append(
                _record(
                    EventType.RECEIVE_TOKEN_RESPONSE,
                    PGO,
                    at(65),
                    flow,
                    response=ResponseInfo(id=request_id, status=200),
                )
            )
    return dva, pgo


async def until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


# --- the tests ---------------------------------------------------------------------------------


async def test_collector_down_then_up_then_the_figures_from_it_equal_the_services_own(
    network: Network,
) -> None:
    dva_records, pgo_records = month_of_flows()
    network.dva.write(dva_records)
    network.pgo.write(pgo_records)
    deliverers = [network.dva.deliverer(), network.pgo.deliverer()]
    for deliverer in deliverers:
        await deliverer.start()
    try:
        # The collector is not running yet: every attempt fails, nothing is given up.
        await until(lambda: all(d.status.failures >= 3 for d in deliverers), "retried thrice")
        for deliverer in deliverers:
            assert deliverer.status.delivered_through == 0
            assert "did not answer" in (deliverer.status.last_problem or "")
        with network.collector_running():
            await until(
                lambda: (
                    deliverers[0].status.delivered_through == network.dva.last_id()
                    and deliverers[1].status.delivered_through == network.pgo.last_id()
                ),
                "everything was delivered",
            )
            # Over HTTP, the authorisation server reads back exactly what it delivered.
            with network.world.client(AUTHSERVER) as client:
                page = client.get(network.world.records_url).json()
            assert [Record.from_json(item["record"]) for item in page["records"]] == dva_records
            assert {item["sender"] for item in page["records"]} == {AUTHSERVER}
    finally:
        for deliverer in deliverers:
            await deliverer.stop()

    assert all(d.status.skipped == 0 for d in deliverers)
    assert deliverers[0].status.delivered == len(dva_records)  # in batches of at most 7
    store = network.held()
    try:
        held = store.records()
        central = [h.record for h in held]
        central_dva = [h.record for h in store.records(senders=[AUTHSERVER])]
    finally:
        store.close()
    assert len(held) == len(dva_records) + len(pgo_records)  # each exactly once
    assert {(h.sender, h.sequence) for h in held} == {
        *((AUTHSERVER, n) for n in range(1, len(dva_records) + 1)),
        *((PGO, n) for n in range(1, len(pgo_records) + 1)),
    }

    # The DVA's figures from the collector alone equal those from its own store ...
    own_dva = reconcile(network.dva.stored(), JANUARY).to_json()
    assert reconcile(central_dva, JANUARY).to_json() == own_dva
    tokens = next(t for t in own_dva["totals"] if t["kind"] == "tokens")
    codes = next(t for t in own_dva["totals"] if t["kind"] == "codes")
    assert (tokens["dva"], codes["dva"]) == (6, 6)
    # ... and so does the whole report over both sides, mismatch included.
    own = network.dva.stored() + network.pgo.stored()
    assert compute([], central, JANUARY).to_json() == compute([], own, JANUARY).to_json()
    both = reconcile(central, JANUARY)
    tokens_line = next(t for t in both.totals if t.kind == "tokens")
    assert (tokens_line.dva, tokens_line.pgo, tokens_line.only_dva) == (6, 5, 1)


class Crash(BaseException):
    """The process dies: nothing after this point runs."""


class CrashingCursor(FileCursor):
    def save(self, sequence: int) -> None:
        raise Crash


async def test_a_crash_or_a_lost_cursor_sends_again_and_nothing_is_doubled(
    network: Network,
) -> None:
    _, pgo_records = month_of_flows(3)
    network.pgo.write(pgo_records)
    node = network.pgo
    with network.collector_running():
        network.world.wait_healthy()
        dying = node.deliverer()
        dying._cursor = CrashingCursor(
            node.settings.data_dir / CURSOR_FILE, collector=dying.url, sender=PGO
        )
        with pytest.raises(Crash):
            await _deliver_once(dying, node)
        cursor = node.settings.data_dir / CURSOR_FILE
        assert not cursor.exists()

        restarted = node.deliverer()
        await _drain(restarted, node)
        assert restarted.status.delivered_through == node.last_id()
        assert restarted.status.duplicates == min(len(pgo_records), QUICK["max_records"])

        cursor.unlink()  # the cursor is lost altogether: everything goes again
        again = node.deliverer()
        await _drain(again, node)
        assert again.status.duplicates == len(pgo_records)
    store = network.held()
    try:
        assert store.count() == len(pgo_records)
    finally:
        store.close()


async def test_a_record_the_collector_refuses_is_set_aside_and_the_rest_goes(
    network: Network,
) -> None:
    dva_records, _ = month_of_flows(2)
    # The resource server's host is not the authorisation server's to speak for.
    foreign = _record(EventType.SEND_RESOURCE_RESPONSE, READER, dva_records[0].event.datetime, 9)
    network.dva.write([*dva_records[:3], foreign, *dva_records[3:]])
    with network.collector_running():
        network.world.wait_healthy()
        sending = network.dva.deliverer()
        await _drain(sending, network.dva)
    assert sending.status.delivered_through == len(dva_records) + 1
    assert [s.sequence for s in sending.status.recent_skips] == [4]
    assert "403" in sending.status.recent_skips[0].reason
    assert READER in sending.status.recent_skips[0].reason
    store = network.held()
    try:
        assert [h.record for h in store.records()] == dva_records
        assert 4 not in {h.sequence for h in store.records()}
    finally:
        store.close()


async def _deliver_once(deliverer: KetenlogDeliverer, node: Node) -> None:
    async with _client(node) as client:
        await deliverer.step(client)


async def _drain(deliverer: KetenlogDeliverer, node: Node) -> None:
    async with _client(node) as client:
        assert await deliverer.drain(client) is not None


def _client(node: Node) -> httpx.AsyncClient:
    return node_async_client(node.settings)
