"""The resource server on a virtual clock: its ketenlog and its token checks follow it.

In a simulation world every role reads one virtual clock (medmij_stack.runtime.clock). Here
the resource server gets a clock that stands years ahead of the system clock: its ketenlog
records carry that time, a token the authorisation server issued on the same clock opens
data, and one whose ``exp`` has passed on it is refused even while the system clock would
still call it valid.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medmij_stack.protocol.dva_contract import Introspection
from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.eventlog import ResourceKetenlog

from .authserver_fake import PGO, FakeAuthserver
from .conftest import Running, Start

ZA = "ziekenhuis@medmij"
VIRTUAL_NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)


def _stand_still() -> datetime:
    return VIRTUAL_NOW


@pytest.fixture(scope="module")
def running(
    start_resource_server: Start, tiny_datasets: list[Dataset], fake_authserver: FakeAuthserver
) -> Iterator[Running]:
    with start_resource_server(
        datasets=tiny_datasets, introspection_url=fake_authserver.url, clock=_stand_still
    ) as server:
        yield server


def _token(fake: FakeAuthserver, bsn: str, issued: datetime, ttl: int = 900) -> str:
    token = f"virtual-{uuid.uuid4()}"
    fake.tokens[token] = Introspection(
        active=True,
        client_id=PGO,
        scope="ziekenhuis",
        exp=int(issued.timestamp()) + ttl,
        iat=int(issued.timestamp()),
        zorgaanbieder=ZA,
        gegevensdiensten=("48", "63"),
        bsn=bsn,
    )
    return token


def _ketenlog(running: Running) -> ResourceKetenlog:
    app: Any = running.app
    while not hasattr(app, "state"):  # tracing → gate → … → FastAPI
        app = app.app
    ketenlog = app.state.ketenlog
    assert isinstance(ketenlog, ResourceKetenlog)
    return ketenlog


def _records(running: Running, trace_id: str, count: int) -> list[Record]:
    ketenlog = _ketenlog(running)
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in ketenlog.records() if r.event.trace_id == trace_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _search(running: Running, token: str, correlation_id: str) -> int:
    headers = {
        "Authorization": f"Bearer {token}",
        "MedMij-Request-ID": str(uuid.uuid4()),
        "X-Correlation-ID": correlation_id,
    }
    with running.client() as client:
        return client.get(f"{running.base(ZA, '48')}/Condition", headers=headers).status_code


def test_the_ketenlog_carries_the_virtual_time(
    running: Running, fake_authserver: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    token = _token(fake_authserver, persons[0].bsn, VIRTUAL_NOW - timedelta(minutes=1))
    correlation_id = str(uuid.uuid4())
    assert _search(running, token, correlation_id) == 200
    received, answered = _records(running, correlation_id, 2)
    assert received.event.type is EventType.RECEIVE_RESOURCE_REQUEST
    assert answered.event.type is EventType.SEND_RESOURCE_RESPONSE
    assert received.event.datetime == answered.event.datetime == VIRTUAL_NOW


def test_a_token_expired_on_the_virtual_clock_is_refused(
    running: Running, fake_authserver: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    # Issued by the system clock's time: still valid by it, long expired by the virtual one.
    stale = _token(fake_authserver, persons[0].bsn, datetime.now(UTC))
    assert stale in fake_authserver.tokens
    correlation_id = str(uuid.uuid4())
    assert _search(running, stale, correlation_id) == 401
    _, refused = _records(running, correlation_id, 2)
    assert refused.event.type is EventType.SEND_RESOURCE_ERROR_RESPONSE
    assert refused.event.datetime == VIRTUAL_NOW
