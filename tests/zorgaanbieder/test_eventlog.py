"""The resource server's own ketenlog and metrics, over real HTTPS and mutual TLS.

Every resource request a node sends is recorded as ``receive_resource_request`` and
``send_resource_response`` or ``send_resource_error_response``, under the request's
X-Correlation-ID and MedMij-Request-ID, in the server's own database; /metrics counts it
without naming the person.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from medmij_stack.protocol.ketenlog import (
    ErrorInfo,
    EventType,
    Record,
    RequestInfo,
    ResponseInfo,
)
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.eventlog import ResourceKetenlog
from medmij_stack.zorgaanbieder.store.tables import Base, KetenlogRow

from . import tiny
from .conftest import PGO, Running, Start

ZA = "ziekenhuis@medmij"


@pytest.fixture(scope="module")
def running(start_resource_server: Start, tiny_datasets: list[Dataset]) -> Iterator[Running]:
    with start_resource_server(datasets=tiny_datasets, introspection_url=None) as server:
        yield server


def ketenlog_of(running: Running) -> ResourceKetenlog:
    ketenlog = running.framework.state.ketenlog
    assert isinstance(ketenlog, ResourceKetenlog)
    return ketenlog


def records_of(running: Running, trace_id: str, count: int) -> list[Record]:
    """The records of one flow, once the background writer has written ``count`` of them."""
    ketenlog = ketenlog_of(running)
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in ketenlog.records() if r.event.trace_id == trace_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def traced(request_id: str, correlation_id: str, token: str | None) -> dict[str, str]:
    headers = {"MedMij-Request-ID": request_id, "X-Correlation-ID": correlation_id}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def test_a_search_is_received_and_answered_in_the_ketenlog(running: Running) -> None:
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    with running.client() as client:
        response = client.get(
            f"{running.base(ZA, '48')}/Patient",
            headers=traced(request_id, correlation_id, tiny.TOKEN_A_48),
        )
    assert response.status_code == 200
    received, answered = records_of(running, correlation_id, 2)
    assert received.event.type is EventType.RECEIVE_RESOURCE_REQUEST
    assert answered.event.type is EventType.SEND_RESOURCE_RESPONSE
    for record in (received, answered):
        assert record.event.trace_id == correlation_id
        assert record.event.session_id is None  # the back channel has no person session
        assert record.event.location == running.settings.hostname
        assert record.request == RequestInfo(
            id=request_id,
            method="GET",
            uri="/ziekenhuis/48/fhir/Patient",
            client_id=PGO,
            server_id=running.settings.hostname,
            provider_id=ZA,
            service_id=48,
        )
    assert answered.response is not None
    assert (answered.response.id, answered.response.status) == (request_id, 200)
    assert received.event.datetime <= answered.event.datetime


def test_a_refused_token_is_an_error_response_with_its_oauth_code(running: Running) -> None:
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    with running.client() as client:
        response = client.get(
            f"{running.base(ZA, '48')}/Condition",
            headers=traced(request_id, correlation_id, "unknown-token-1234"),
        )
    assert response.status_code == 401
    received, answered = records_of(running, correlation_id, 2)
    assert received.event.type is EventType.RECEIVE_RESOURCE_REQUEST
    assert answered.event.type is EventType.SEND_RESOURCE_ERROR_RESPONSE
    assert answered.error is not None
    assert (answered.error.code, answered.error.status) == ("invalid_token", 401)
    assert answered.error.request_id == request_id


def test_an_address_that_is_no_fhir_base_is_recorded_without_a_provider(
    running: Running,
) -> None:
    correlation_id = str(uuid.uuid4())
    with running.client() as client:
        response = client.get(
            f"{running.url}/nergens/48/fhir/Patient",
            headers=traced(str(uuid.uuid4()), correlation_id, tiny.TOKEN_A_48),
        )
    assert response.status_code == 404
    _, answered = records_of(running, correlation_id, 2)
    assert answered.event.type is EventType.SEND_RESOURCE_ERROR_RESPONSE
    assert answered.request is not None
    assert answered.request.provider_id is None
    assert answered.error is not None
    assert answered.error.code == "other"


def test_health_and_metrics_are_not_resource_requests(running: Running) -> None:
    before = len(ketenlog_of(running).records())
    with running.client() as client:
        assert client.get(f"{running.url}/health").status_code == 200
        assert client.get(f"{running.url}/metrics").status_code == 200
    time.sleep(3 * ketenlog_of(running).flush_seconds)
    assert len(ketenlog_of(running).records()) == before


def test_metrics_count_requests_and_time_them_without_naming_anyone(
    running: Running, persons: tuple[TestPerson, ...]
) -> None:
    with running.client() as client:
        ok = client.get(
            f"{running.base(ZA, '48')}/Patient",
            headers={"Authorization": f"Bearer {tiny.TOKEN_A_48}"},
        )
        assert ok.status_code == 200
    # A scraper has no node certificate: /metrics answers it all the same.
    with running.client(None) as scraper:
        metrics = scraper.get(f"{running.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("medmij_resource_requests_total{")
        and 'status="200"' in line
        and 'gegevensdienst="48"' in line
    )
    assert f'zorgaanbieder="{ZA}"' in line
    assert float(line.rsplit(" ", 1)[1]) >= 1
    assert "medmij_resource_request_duration_seconds_bucket{" in text
    for person in persons:
        assert person.bsn not in text
    assert "pat-a" not in text


def test_the_queue_keeps_what_the_database_refused_and_writes_it_later(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    ketenlog = ResourceKetenlog(url)
    record = Record.now(
        EventType.RECEIVE_RESOURCE_REQUEST, location="dva.example", session_id=None, trace_id="t"
    )
    ketenlog.add([record, record])  # the hot path: no database needed
    assert ketenlog.queued == 2
    assert asyncio.run(ketenlog.flush()) == 0  # not open yet: kept
    assert ketenlog.queued == 2
    ketenlog.open()
    try:
        assert asyncio.run(ketenlog.flush()) == 2
        assert ketenlog.queued == 0
        assert ketenlog.records() == [record, record]
    finally:
        ketenlog.close()


def test_each_stored_text_is_its_record_in_compact_json(tmp_path: Path) -> None:
    """The writer encodes a request shared by an answer's two records once; every stored
    text is still exactly its own record's JSON, which the delivery sends as it is."""
    request = RequestInfo(id="r-1", method="GET", uri="/fhir/Patient", server_id="dva.example")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    records = [
        Record.now(
            EventType.RECEIVE_RESOURCE_REQUEST,
            location="dva.example",
            session_id=None,
            trace_id="t",
            request=request,
            at=at,
        ),
        Record.now(
            EventType.SEND_RESOURCE_ERROR_RESPONSE,
            location="dva.example",
            session_id=None,
            trace_id="t",
            request=request,
            response=ResponseInfo(id="r-1", status=401),
            error=ErrorInfo(code="invalid_token", request_id="r-1", status=401),
            at=at,
        ),
        Record.now(
            EventType.RECEIVE_RESOURCE_REQUEST, location="é.example", session_id=None, trace_id="u"
        ),
    ]
    ketenlog = ResourceKetenlog(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    ketenlog.open()
    try:
        ketenlog.write(records)
        with ketenlog.engine.connect() as connection:
            stored = list(connection.scalars(select(KetenlogRow.record).order_by(KetenlogRow.id)))
    finally:
        ketenlog.close()
    compact = [
        json.dumps(record.to_json(), separators=(",", ":"), ensure_ascii=False)
        for record in records
    ]
    assert stored == compact


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    ketenlog = ResourceKetenlog("sqlite://", max_queued=3)
    records = [
        Record.now(
            EventType.RECEIVE_RESOURCE_REQUEST, location="dva.example", session_id=None, trace_id=t
        )
        for t in "abcde"
    ]
    ketenlog.add(records)
    assert ketenlog.queued == 3
    assert ketenlog.dropped == 2


def test_a_search_does_not_wait_for_the_ketenlog_to_be_written(running: Running) -> None:
    """While another writer holds the database's write lock the searches answer at once
    (they only read); their records are written once the lock is free."""
    database = running.settings.effective_database_url.removeprefix("sqlite:///")
    correlation_id = str(uuid.uuid4())
    blocker = sqlite3.connect(database, isolation_level=None, timeout=1)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with running.client() as client:
            started = time.perf_counter()
            for _ in range(5):
                response = client.get(
                    f"{running.base(ZA, '48')}/Patient",
                    headers=traced(str(uuid.uuid4()), correlation_id, tiny.TOKEN_A_48),
                )
                assert response.status_code == 200
            elapsed = time.perf_counter() - started
        time.sleep(2 * ketenlog_of(running).flush_seconds)
        assert [
            r for r in ketenlog_of(running).records() if r.event.trace_id == correlation_id
        ] == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert elapsed < 10  # not five waits on the lock
    assert len(records_of(running, correlation_id, 10)) == 10


def test_the_migrations_build_exactly_the_store_models(tmp_path: Path) -> None:
    """Migration 0002 and ``store.tables.KetenlogRow`` (and the rest of the store) agree."""
    ketenlog = ResourceKetenlog(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    ketenlog.open()
    try:
        with ketenlog.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert "ketenlog" in inspect(ketenlog.engine).get_table_names()
    finally:
        ketenlog.close()


@pytest.mark.parametrize(
    ("status", "error_code"), [(200, None), (401, "invalid_token"), (500, "other")]
)
def test_an_answers_two_records_are_those_of_the_record_classes(
    tmp_path: Path, status: int, error_code: str | None
) -> None:
    """The hot path (``add_answer``) writes, without the record classes, exactly the rows and
    JSON texts that the two ``Record`` objects of the answer give."""
    received = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    answered = datetime(2026, 1, 2, 3, 4, 5, 654321, tzinfo=UTC)
    request = RequestInfo(
        id="0b7c2f3e-4d5a-4e6f-8a9b-0c1d2e3f4a5b",
        method="GET",
        uri="/ziekenhuis/48/fhir/Condition",
        client_id="pgo.example",
        server_id="dva.é.example",
        provider_id="ziekenhuis@medmij",
        service_id=48,
    )
    trace = "5f0e1d2c-3b4a-4c5d-9e8f-7a6b5c4d3e2f"
    last_type = (
        EventType.SEND_RESOURCE_RESPONSE
        if error_code is None
        else EventType.SEND_RESOURCE_ERROR_RESPONSE
    )
    expected = [
        Record.now(
            EventType.RECEIVE_RESOURCE_REQUEST,
            location="dva.é.example",
            session_id=None,
            trace_id=trace,
            request=request,
            at=received,
        ),
        Record.now(
            last_type,
            location="dva.é.example",
            session_id=None,
            trace_id=trace,
            request=request,
            response=ResponseInfo(id=request.id, status=status),
            error=None
            if error_code is None
            else ErrorInfo(code=error_code, request_id=request.id, status=status),
            at=answered,
        ),
    ]
    by_classes = ResourceKetenlog(f"sqlite:///{tmp_path / 'classes.sqlite3'}")
    hot_path = ResourceKetenlog(f"sqlite:///{tmp_path / 'hot.sqlite3'}")
    by_classes.add(expected)
    hot_path.add_answer(
        location="dva.é.example",
        trace_id=trace,
        request=request.to_json(),
        received=received,
        answered=answered,
        status=status,
        error_code=error_code,
    )
    stored = []
    for ketenlog in (by_classes, hot_path):
        ketenlog.open()
        try:
            assert asyncio.run(ketenlog.flush()) == 2
            assert ketenlog.records() == expected
            with ketenlog.engine.connect() as connection:
                stored.append(
                    [
                        tuple(row)
                        for row in connection.execute(
                            select(
                                KetenlogRow.type,
                                KetenlogRow.occurred_at,
                                KetenlogRow.trace_id,
                                KetenlogRow.request_id,
                                KetenlogRow.record,
                            ).order_by(KetenlogRow.id)
                        )
                    ]
                )
        finally:
            ketenlog.close()
    assert stored[0] == stored[1]
    compact = [
        json.dumps(record.to_json(), separators=(",", ":"), ensure_ascii=False)
        for record in expected
    ]
    assert [row[4] for row in stored[1]] == compact
