"""runtime.broadcast: what one process publishes, every other on the database reads once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from medmij_stack.runtime.broadcast import Broadcast
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, "broadcast") as database:
        yield database


def test_every_reader_sees_each_message_once_and_only_what_came_after_it_opened(
    url: str,
) -> None:
    early = Broadcast(url, "revoked")
    early.publish(["before"])
    late = Broadcast(url, "revoked")
    other_channel = Broadcast(url, "other")
    try:
        early.publish(["a", "b"])
        late.publish(["c"])
        assert early.news() == ["before", "a", "b", "c"]
        assert late.news() == ["a", "b", "c"]
        assert early.news() == []
        assert late.news() == []
        assert other_channel.news() == []
    finally:
        for broadcast in (early, late, other_channel):
            broadcast.close()


def test_concurrent_publishers_lose_no_message(url: str) -> None:
    reader = Broadcast(url, "revoked")
    writers = [Broadcast(url, "revoked") for _ in range(4)]
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:
        # Reading all along: a reader that moved past an id must never miss a row below it.
        while not stop.is_set():
            seen.extend(reader.news())

    def write(index: int, writer: Broadcast) -> None:
        for n in range(25):
            writer.publish([f"{index}-{n}"])

    reading = threading.Thread(target=read)
    reading.start()
    threads = [threading.Thread(target=write, args=item) for item in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    reading.join()
    seen.extend(reader.news())
    try:
        assert sorted(seen) == sorted(f"{i}-{n}" for i in range(4) for n in range(25))
    finally:
        for broadcast in (reader, *writers):
            broadcast.close()


def test_old_messages_are_pruned_by_the_next_publication(url: str) -> None:
    broadcast = Broadcast(url, "revoked", keep_seconds=0.0)
    reader = Broadcast(url, "revoked")
    try:
        broadcast.publish(["old"])
        broadcast.publish(["new"])
        assert reader.news() == ["new"]
    finally:
        broadcast.close()
        reader.close()


@pytest.mark.postgres
async def test_postgresql_wakes_the_listeners_of_other_processes(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path, "broadcast") as url:
        publisher, listener = Broadcast(url, "revoked"), Broadcast(url, "revoked")
        assert listener.notifies
        woken = asyncio.Event()
        try:
            async with listener.listening(woken.set):
                await asyncio.wait_for(woken.wait(), 10)  # once when it starts listening
                woken.clear()
                await asyncio.to_thread(publisher.publish, ["digest"])
                await asyncio.wait_for(woken.wait(), 10)
            assert listener.news() == ["digest"]
        finally:
            publisher.close()
            listener.close()


def test_sqlite_wakes_nobody_and_only_reading_tells(tmp_path: Path) -> None:
    broadcast = Broadcast(f"sqlite:///{tmp_path / 'b.sqlite3'}", "revoked")
    try:
        assert not broadcast.notifies
    finally:
        broadcast.close()


def test_a_channel_is_a_short_identifier(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="identifier"):
        Broadcast(f"sqlite:///{tmp_path / 'b.sqlite3'}", "drop table")


@pytest.mark.postgres
def test_a_reader_whose_connection_broke_reads_again_on_a_new_one(tmp_path: Path) -> None:
    """`news` reads on a connection of its own; when the database drops it (a restart), that
    read fails and the next one, on a new connection, misses nothing published meanwhile."""
    import psycopg

    with fresh_database("postgresql", tmp_path, "broadcast") as url:
        reader, publisher = Broadcast(url, "revoked"), Broadcast(url, "revoked")
        try:
            publisher.publish(["first"])
            assert reader.news() == ["first"]
            backend = reader._reader.info.backend_pid
            conninfo = reader._engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            with psycopg.connect(conninfo, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            publisher.publish(["second"])
            with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own error
                reader.news()
            assert reader.news() == ["second"]
            assert reader._reader.info.backend_pid != backend
        finally:
            reader.close()
            publisher.close()
