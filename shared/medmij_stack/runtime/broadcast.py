"""Short messages one process publishes and every process on the same database reads.

For state that lives in a process but must change in all of them at once: several workers of
one role (``medmij up --workers``) and replicas behind one hostname share a database, not
memory. The resource server uses it for revoked tokens: the worker that hears of a revocation
publishes the digests, and every worker reads what is new before it trusts its cache.

* **Table.** One table ``broadcast`` (id, channel, message, published_at) in the service's own
  database, made when missing. Ids grow in commit order: on SQLite writers take the write lock
  at ``BEGIN IMMEDIATE``; on PostgreSQL a publisher locks the table (EXCLUSIVE, which readers
  never wait for) before it inserts, so a reader that has seen id *n* can never later meet a
  committed row below *n*.
* **Reading.** :meth:`Broadcast.news` returns the messages after the last id this process has
  seen: one primary-key range read, empty almost always. A process starts at the newest id
  when it opens: what was published before is no concern of caches that are still empty.
* **Waking.** On PostgreSQL a publication also sends ``NOTIFY``; :meth:`Broadcast.listening`
  runs a ``LISTEN`` connection that calls back at once, so other processes act before anyone
  asks. Reading stays the guarantee: a notification arrives a moment after the commit.
* **Pruning.** Rows older than ``keep_seconds`` are deleted by the next publication; a
  cache entry lives seconds, so an hour-old message cannot concern any.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)

from .database import NAMING_CONVENTION, WRITE, UtcDateTime, make_engine

__all__ = ["Broadcast"]

log = logging.getLogger(__name__)

_metadata = MetaData(naming_convention=NAMING_CONVENTION)
_table = Table(
    "broadcast",
    _metadata,
    # INTEGER PRIMARY KEY on SQLite: the rowid itself, handed out in commit order.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("message", String(512), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False, index=True),
)
_NEWS_SQL = "SELECT id, message FROM broadcast WHERE channel = {0} AND id > {0} ORDER BY id"
_PARAMSTYLE = {"sqlite": "?", "postgresql": "%s"}
_SETUP_LOCK = 0x6D6D_6263  # PostgreSQL advisory lock while the table is made ("mmbc")
_RELISTEN_SECONDS = 1.0


class Broadcast:
    """One channel of messages on the database at ``url``."""

    def __init__(self, url: str, channel: str, *, keep_seconds: float = 3600.0) -> None:
        if not channel.isidentifier() or len(channel) > 40:
            raise ValueError(f"channel {channel!r} must be a short identifier")
        self.channel = channel
        self._keep = timedelta(seconds=keep_seconds)
        self._engine: Engine = make_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._setup()
        self._seen = self._newest()
        # One connection of our own for `news`, read through the driver itself, in autocommit
        # so that each read sees the newest commit: SQLAlchemy's statement handling, a pool
        # checkout with its ping and the closing rollback cost more than the read (on
        # PostgreSQL three round trips where one will do). Opened again after a failure.
        self._news_sql = _NEWS_SQL.format(_PARAMSTYLE.get(self._engine.dialect.name, "?"))
        self._held: Any = None
        self._reader: Any = None

    @property
    def notifies(self) -> bool:
        """Whether other processes are woken at once (PostgreSQL), not only when they read."""
        return self._postgres

    def close(self) -> None:
        self._drop_reader()
        self._engine.dispose()

    def _open_reader(self) -> Any:
        if self._reader is None:
            self._held = self._engine.raw_connection()
            reader = self._held.driver_connection
            if self._postgres:
                reader.autocommit = True  # SQLite's is set by runtime.database already
            self._reader = reader
        return self._reader

    def _drop_reader(self) -> None:
        if self._held is not None:
            with contextlib.suppress(Exception):
                self._held.invalidate() if self._postgres else self._held.close()
        self._held = self._reader = None

    def _setup(self) -> None:
        writing = self._engine.connect().execution_options(**WRITE)
        with writing as connection, connection.begin():
            if self._postgres:
                connection.execute(select(func.pg_advisory_xact_lock(_SETUP_LOCK)))
            _metadata.create_all(connection, checkfirst=True)

    def _newest(self) -> int:
        with self._engine.connect() as connection:
            newest = connection.execute(
                select(func.max(_table.c.id)).where(_table.c.channel == self.channel)
            ).scalar_one()
        return int(newest or 0)

    def publish(self, messages: Sequence[str]) -> None:
        """Store ``messages`` for every process; returns once committed. Blocking."""
        if not messages:
            return
        now = datetime.now(UTC)
        writing = self._engine.connect().execution_options(**WRITE)
        with writing as connection, connection.begin():
            if self._postgres:
                connection.exec_driver_sql("LOCK TABLE broadcast IN EXCLUSIVE MODE")
            connection.execute(
                insert(_table),
                [
                    {"channel": self.channel, "message": message, "published_at": now}
                    for message in messages
                ],
            )
            connection.execute(delete(_table).where(_table.c.published_at < now - self._keep))
            if self._postgres:
                # Delivered on commit, to every LISTEN on this channel (also our own).
                connection.execute(select(func.pg_notify(self._pg_channel, "")))

    def news(self) -> list[str]:
        """The messages published (by any process) since the last call. Blocking, cheap."""
        with self._lock:  # one reader at a time, so that no message is handed out twice
            try:
                reader = self._open_reader()
                rows = reader.execute(self._news_sql, (self.channel, self._seen)).fetchall()
            except Exception:
                # The connection broke (a database restart): a new one next time; this read
                # fails, as a read through the pool would have.
                self._drop_reader()
                raise
            if rows:
                self._seen = int(rows[-1][0])
        return [str(row[1]) for row in rows]

    @property
    def _pg_channel(self) -> str:
        return f"medmij_{self.channel}"

    @contextlib.asynccontextmanager
    async def listening(self, woken: Callable[[], object]) -> AsyncIterator[None]:
        """While inside, call ``woken()`` on the event loop whenever a message may have been
        published (PostgreSQL's NOTIFY); on other databases it does nothing."""
        if not self._postgres:
            yield
            return
        task = asyncio.create_task(self._listen(woken))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self, woken: Callable[[], object]) -> None:
        import psycopg

        url = self._engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f'LISTEN "{self._pg_channel}"')
                    # Whatever was published while not listening.
                    woken()
                    async for _notice in connection.notifies():
                        woken()
            except psycopg.Error as problem:
                log.warning("broadcast %s: not listening (%s); again soon", self.channel, problem)
                await asyncio.sleep(_RELISTEN_SECONDS)
