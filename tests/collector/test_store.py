"""The collector's store: its schema, each delivery id once, and reading back — on SQLite and,
when one is given, on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from medmij_stack.collector.batch import Entry, canonical
from medmij_stack.collector.settings import CollectorSettings, database_url_in
from medmij_stack.collector.store import MIGRATIONS, CollectorStore, Conflict, Stored
from medmij_stack.collector.tables import Base
from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.database import migrate
from tests.databases import BACKENDS, fresh_database

from .conftest import AUTHSERVER, PGO, record

RECEIVED = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorStore]:
    with fresh_database(request.param, tmp_path, "collector") as url:
        opened = CollectorStore(url)
        try:
            yield opened
        finally:
            opened.close()


def make_entry(sender: str, sequence: int, **changes: object) -> Entry:
    document = record(location=sender, trace_id=f"trace-{sequence}", **changes)  # type: ignore[arg-type]
    return Entry(sender, sequence, Record.from_json(document), canonical(document))


def test_the_migrations_build_exactly_the_models(store: CollectorStore) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    migrate(store.engine, MIGRATIONS)  # a second run changes nothing
    assert set(inspect(store.engine).get_table_names()) == {"ketenlog", "alembic_version"}


def test_each_delivery_id_is_stored_once(store: CollectorStore) -> None:
    batch = [make_entry(PGO, n) for n in (1, 2, 3)]
    assert store.deliver(batch, RECEIVED) == Stored(stored=3, duplicates=0)
    assert store.deliver([], RECEIVED) == Stored(stored=0, duplicates=0)
    again = store.deliver([*batch, make_entry(PGO, 4)], RECEIVED + timedelta(hours=1))
    assert (again.stored, again.duplicates) == (1, 3)
    # The same sequence of another sender is another record.
    assert store.deliver([make_entry(AUTHSERVER, 1)], RECEIVED).stored == 1
    held = store.records()
    assert [(h.sender, h.sequence) for h in held] == [
        (PGO, 1),
        (PGO, 2),
        (PGO, 3),
        (PGO, 4),
        (AUTHSERVER, 1),
    ]
    # The first delivery's time is kept.
    assert held[0].received_at == RECEIVED
    assert store.count() == 5


def test_an_id_held_with_another_record_stores_nothing_of_the_batch(store: CollectorStore) -> None:
    store.deliver([make_entry(PGO, 1)], RECEIVED)
    changed = make_entry(PGO, 1, session_id="another session")
    with pytest.raises(Conflict) as caught:
        store.deliver([make_entry(PGO, 2), changed], RECEIVED)
    assert caught.value.index == 1
    assert [h.sequence for h in store.records()] == [1]
    assert store.records()[0].record.event.session_id == "session-1"


def test_the_same_batch_delivered_at_once_twice_is_stored_once(store: CollectorStore) -> None:
    batch = [make_entry(PGO, n) for n in range(1, 201)]
    results = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        results.append(store.deliver(batch, RECEIVED))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 4
    assert sum(r.stored for r in results) == 200
    assert store.count() == 200


def test_reading_filters_by_sender_time_and_position(store: CollectorStore) -> None:
    january = datetime(2026, 1, 31, 22, 59, 59, tzinfo=UTC)  # 23:59:59 in Amsterdam
    february = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)  # 00:00 on 1 February there
    store.deliver(
        [
            make_entry(PGO, 1, at=january),
            make_entry(PGO, 2, at=february),
            make_entry(AUTHSERVER, 1, at=february, type=EventType.SEND_TOKEN_RESPONSE),
        ],
        RECEIVED,
    )
    amsterdam_february = datetime.fromisoformat("2026-02-01T00:00:00+01:00")
    since = store.records(since=amsterdam_february)
    assert [(h.sender, h.sequence) for h in since] == [(PGO, 2), (AUTHSERVER, 1)]
    until = store.records(until=amsterdam_february)
    assert [(h.sender, h.sequence) for h in until] == [(PGO, 1)]
    assert [h.sender for h in store.records(senders=[AUTHSERVER.upper()])] == [AUTHSERVER]
    first = store.records(limit=1)
    assert [h.sequence for h in store.records(after=first[0].id)] == [2, 1]
    assert store.records(senders=[]) == []
    held = store.records(senders=[AUTHSERVER])[0]
    assert held.record.event.type is EventType.SEND_TOKEN_RESPONSE
    assert held.to_json()["record"] == held.document


def test_the_default_database_is_in_the_data_dir(tmp_path: Path) -> None:
    settings = CollectorSettings(
        hostname="collector.localhost",
        cert=tmp_path / "c.pem",
        key=tmp_path / "k.pem",
        trust=(tmp_path / "root.pem",),
        lists={kind: f"https://stelselnode.localhost/{kind.filename}" for kind in ListKind},
        data_dir=tmp_path / "collector",
    )
    assert settings.database == database_url_in(tmp_path / "collector")
    assert settings.database == f"sqlite:///{tmp_path / 'collector' / 'collector.sqlite3'}"
    assert settings.max_batch_bytes == 62_914_560  # EagleEye's 60 MB
    store = CollectorStore(settings.database)
    try:
        assert (tmp_path / "collector" / "collector.sqlite3").is_file()
    finally:
        store.close()
