"""The authorisation server's own database: its tables' migrations on the shared engine.

SQLite in the data dir by default, PostgreSQL by URL; the schema is brought to the newest
Alembic revision when the server starts (:mod:`medmij_stack.runtime.database`), so an upgraded
server never runs on an old schema.

Its transactions write unless they say they only read (``write=False``): nearly every one
of them reads a row and then changes it or adds to it, and with several worker processes on
one SQLite file such a transaction must take the write lock at its start
(``BEGIN IMMEDIATE``, :data:`medmij_stack.runtime.database.WRITE`).

A back-channel request runs in one :meth:`Database.unit_of_work`: every
:meth:`Database.connection` and :meth:`Database.transaction` opened inside it (spending the
code, issuing and storing the tokens, the request's ketenlog records) joins that one
transaction, which commits once, before the answer is sent. The unit holds a Core
connection, not an ORM session: the token exchange's statements are all Core, and opening,
flushing and committing a session cost more than they do; code that needs the ORM inside a
unit gets a session bound to the unit's connection. What must follow a commit (the
revocation notice to the resource server) is queued with :meth:`Database.after_commit` and
runs after it, still before the answer.

On SQLite the writers of all worker processes queue on one lock file (:class:`_WriterQueue`)
before they begin: SQLite's own wait for its write lock polls with sleeps of up to 100 ms,
which under concurrent token exchanges cost more than the work; a blocked ``flock`` wakes the
moment the lock is free. PostgreSQL needs no queue: its row locks wait without polling.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from medmij_stack.runtime import database

__all__ = ["MIGRATIONS", "Database"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_TURN_TIMEOUT_SECONDS = 30  # as SQLite's busy timeout (medmij_stack.runtime.database)


class _WriterQueue:
    """One writer at a time across threads and worker processes of one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        # A write transaction opened inside another one on the same thread would wait here
        # for ever: it fails after SQLite's own busy timeout instead.
        if not self._threads.acquire(timeout=_TURN_TIMEOUT_SECONDS):
            raise TimeoutError("no turn to write within the busy timeout")
        try:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if the process dies
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def turn_now(self) -> contextlib.ExitStack | None:
        """The turn, held until the returned stack closes, if no writer of any thread or
        process holds it now; None instead of waiting."""
        if not self._threads.acquire(blocking=False):
            return None
        try:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another worker process writes
            self._threads.release()
            return None
        except BaseException:
            self._threads.release()
            raise
        held = contextlib.ExitStack()
        held.callback(self._threads.release)
        held.callback(fcntl.flock, fd, fcntl.LOCK_UN)  # first in, last out: unlocked first
        return held

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # opened anew in a forked worker
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def _writer_queue(url: str) -> _WriterQueue | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return _WriterQueue(Path(f"{parsed.database}.writers"))


@dataclass
class _Unit:
    db: Database
    # Opened by the first transaction inside: the write lock is held from the first
    # statement to the commit, not while the request is parsed and the client checked.
    connection: Connection | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    held: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    turn_held: bool = False  # the writer's turn was taken before the unit began

    def open(self) -> Connection:
        if self.connection is None:
            if not self.turn_held:
                self.held.enter_context(self.db.writer_turn())
            connection = self.held.enter_context(self.db.engine.connect())
            connection.execution_options(**database.WRITE)
            connection.begin()  # SQLite: BEGIN IMMEDIATE
            self.connection = connection
        return self.connection


# The unit of work of the request being handled on this thread (contextvars: each request
# runs in its own copy of the context, in the thread pool too).
_UNIT: ContextVar[_Unit | None] = ContextVar("authserver_unit_of_work", default=None)


class Database(database.Database):
    """The authorisation server's database, migrated on opening."""

    def __init__(self, url: str) -> None:
        super().__init__(url, MIGRATIONS)
        self._writers = _writer_queue(url)

    def writer_turn(self) -> contextlib.AbstractContextManager[None]:
        """Wait for this process's and every other worker's writer to finish (SQLite)."""
        return contextlib.nullcontext() if self._writers is None else self._writers.turn()

    def writer_turn_now(self) -> contextlib.ExitStack | None:
        """SQLite: the writer's turn if it is free at this moment, held until the returned
        stack closes (hand it to :meth:`unit_of_work`); None when taking it would wait, and
        always on PostgreSQL, whose writers wait on row locks over the network."""
        return None if self._writers is None else self._writers.turn_now()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction: the unit's, else one of its own,
        committed when the block ends (rolled back on an exception)."""
        unit = _UNIT.get()
        if unit is not None and unit.db is self:
            yield unit.open()  # committed with the unit
            return
        with self.writer_turn(), self.engine.connect() as connection:
            connection.execution_options(**database.WRITE)  # SQLite: BEGIN IMMEDIATE
            with connection.begin():
                yield connection

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        unit = _UNIT.get()
        if unit is not None and unit.db is self:
            # A session on the unit's connection: what it writes is flushed when the block
            # ends and committed with the unit (the session never commits or rolls back the
            # unit's transaction: join_transaction_mode's default).
            session = Session(bind=unit.open(), expire_on_commit=False)
            try:
                yield session
            except BaseException:
                # A refusal keeps what led to it (unit_of_work); a fault of the database
                # is the unit's to roll back.
                with contextlib.suppress(SQLAlchemyError):
                    session.flush()
                raise
            else:
                session.flush()
            finally:
                session.close()
            return
        if not write:
            with super().transaction() as session:
                yield session
            return
        with self.writer_turn(), self._sessions.begin() as session:
            # SQLite: BEGIN IMMEDIATE. A deferred transaction that reads and then writes fails
            # at once with "database is locked" when another worker committed in between (its
            # snapshot is stale; no busy timeout helps); this one waits for its turn instead.
            session.connection(execution_options=database.WRITE)
            yield session

    @contextlib.contextmanager
    def unit_of_work(
        self,
        *,
        turn: contextlib.ExitStack | None = None,
        deferred: list[Callable[[], None]] | None = None,
    ) -> Iterator[None]:
        """One write transaction for everything inside, committed when it ends.

        Committed also when it ends with an exception: a refusal keeps what led to it (a
        code presented is spent even when the exchange then fails, core.tknint.204; a
        replay's revocation stands). A fault of the database itself rolls back.

        ``turn``: the writer's turn, taken already (:meth:`writer_turn_now`); released after
        the commit. ``deferred``: the steps that must follow the commit are put there for
        the caller to run (outside the event loop: they may call other servers), instead of
        being run here.
        """
        if _UNIT.get() is not None:
            if turn is not None:
                turn.close()
            raise RuntimeError("units of work do not nest")
        unit = _Unit(self, turn_held=turn is not None)
        if turn is not None:
            unit.held.enter_context(turn)
        token = _UNIT.set(unit)
        failure: BaseException | None = None
        try:
            yield
        except BaseException as error:
            failure = error
        finally:
            _UNIT.reset(token)
        committed = True
        with unit.held:  # the connection closes, and the writer's turn ends, after the commit
            if unit.connection is not None:
                committed = _commit(unit.connection, keep_failure=failure is not None)
        if committed:
            if deferred is not None:
                deferred.extend(unit.after_commit)
            else:
                for step in unit.after_commit:
                    step()
        if failure is not None:
            raise failure

    def close(self) -> None:
        super().close()
        if self._writers is not None:
            self._writers.close()

    def after_commit(self, step: Callable[[], None]) -> None:
        """Run ``step`` once what was written so far is committed (at once outside a unit)."""
        unit = _UNIT.get()
        if unit is not None and unit.db is self:
            unit.after_commit.append(step)
        else:
            step()


def _commit(connection: Connection, *, keep_failure: bool) -> bool:
    """Commit; after a refusal, keep what led to it unless the database itself failed."""
    if not keep_failure:
        connection.commit()
        return True
    try:
        connection.commit()
    except Exception:
        connection.rollback()
        return False
    return True
