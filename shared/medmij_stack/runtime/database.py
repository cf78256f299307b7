"""Every service's database: one engine factory and one locked migration.

SQLite in the data dir is the embedded default; PostgreSQL (or anything SQLAlchemy speaks) by
URL. Each service keeps its own database (no service reads another's) and its own Alembic
folder; this module is how all of them open it and bring it to the newest revision.

SQLite: WAL (readers never wait for the writer) with ``synchronous=NORMAL`` (a commit survives
the process; a restart loses nothing). The driver's own transaction handling is switched off and
SQLAlchemy emits ``BEGIN`` itself, so DDL is transactional and a read sees one snapshot. A
connection opened with the execution option ``medmij_write=True`` begins ``BEGIN IMMEDIATE``: it
takes the write lock at once, so two writers queue instead of failing on a lock upgrade.

Migrations run one process at a time: several workers or replicas may start together on one
database. PostgreSQL serialises them with an advisory lock, SQLite with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Dialect, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

__all__ = [
    "NAMING_CONVENTION",
    "WRITE",
    "Database",
    "UtcDateTime",
    "is_sqlite",
    "make_engine",
    "migrate",
]

WRITE = {"medmij_write": True}
"""Execution options of a connection that will write: on SQLite it begins ``BEGIN IMMEDIATE``."""

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names every service's tables get, so migrations name them alike everywhere."""


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as naive UTC (SQLite keeps no offset; PostgreSQL's
    ``timestamp`` neither): a naive one is refused on the way in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


# Any fixed number: the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 4_863_048


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str, *, postgres_isolation: str | None = None, sqlite_cache_mib: int | None = None
) -> Engine:
    """An engine for ``url``; a SQLite file's folder is made when missing.

    ``postgres_isolation`` sets PostgreSQL's default isolation level (e.g. ``REPEATABLE READ``
    for a store whose searches must read one snapshot); ``sqlite_cache_mib`` enlarges SQLite's
    page cache for stores with big loads. ``sqlite://`` is an in-memory database on one shared
    connection: for single-threaded tests only.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options: dict[str, Any] = {"pool_pre_ping": True}
        if postgres_isolation:
            options["isolation_level"] = postgres_isolation
        return create_engine(url, **options)
    in_memory = parsed.database in (None, "", ":memory:")
    if not in_memory and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        # The driver waits up to 30 s for a lock from the first statement on (also the
        # journal-mode switch below, which takes one while another process migrates).
        connect_args={"check_same_thread": False, "timeout": 30},
        # One in-memory database exists per connection: share that one connection.
        **({"poolclass": StaticPool} if in_memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy issues BEGIN itself (below); the driver's own handling would leave DDL
        # outside the transaction and let one read see two snapshots.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if sqlite_cache_mib:
            cursor.execute(f"PRAGMA cache_size=-{int(sqlite_cache_mib) * 1024}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("medmij_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def migrate(engine: Engine, migrations: Path) -> None:
    """``alembic upgrade head`` with the scripts in ``migrations``, one process at a time.

    The Alembic ``env.py`` of each service reads the connection from
    ``config.attributes["connection"]``.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations))
    options: dict[str, Any] = dict(WRITE)
    if engine.dialect.name == "postgresql":
        # Each statement must see what a process that held the lock before committed.
        options["isolation_level"] = "READ COMMITTED"
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """A migrated engine and its ORM sessions; :meth:`transaction` commits on success, else
    rolls back."""

    def __init__(self, url: str, migrations: Path) -> None:
        self.engine = make_engine(url)
        migrate(self.engine, migrations)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
