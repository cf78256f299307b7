"""The PGO's own database: its tables' migrations on the shared engine.

SQLite in the data dir by default, PostgreSQL by URL; the schema is brought to the newest
Alembic revision when the server starts (:mod:`medmij_stack.runtime.database`), so an
upgraded PGO never runs on an old schema.

Two kinds of transaction: :meth:`Database.transaction` writes, and on SQLite takes the
write lock at its start (``BEGIN IMMEDIATE``), so that a transaction that reads and then
writes queues behind another writer instead of failing on a lock upgrade;
:meth:`Database.read` only reads, and never waits for a writer (WAL).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from medmij_stack.runtime import database

__all__ = ["MIGRATIONS", "Database"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database(database.Database):
    """The PGO's database, migrated on opening."""

    def __init__(self, url: str) -> None:
        super().__init__(url, MIGRATIONS)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commits when the block ends normally, else rolls back."""
        options: dict[str, Any] = dict(database.WRITE)
        if self.engine.dialect.name == "postgresql":
            # Each statement sees what writers before it committed (compare-and-set).
            options["isolation_level"] = "READ COMMITTED"
        with (
            self.engine.connect().execution_options(**options) as connection,
            connection.begin(),
            Session(bind=connection, expire_on_commit=False) as session,
        ):
            yield session
            session.flush()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with super().transaction() as session:
            yield session
