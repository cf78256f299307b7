"""The authorisation server's own database: its tables' migrations on the shared engine.

SQLite in the data dir by default, PostgreSQL by URL; the schema is brought to the newest
Alembic revision when the server starts (:mod:`medmij_stack.runtime.database`), so an upgraded
server never runs on an old schema.
"""

from __future__ import annotations

from pathlib import Path

from medmij_stack.runtime import database

__all__ = ["MIGRATIONS", "Database"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database(database.Database):
    """The authorisation server's database, migrated on opening."""

    def __init__(self, url: str) -> None:
        super().__init__(url, MIGRATIONS)
