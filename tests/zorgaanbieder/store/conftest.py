"""Fixtures for the store tests: a store database, SQLite and PostgreSQL.

`store_url` runs each test that uses it twice: on a fresh SQLite file, and on PostgreSQL
when MEDMIJ_TEST_POSTGRES_URL names a database (e.g.
postgresql+psycopg://medmij@127.0.0.1:5432/medmij_test). Each PostgreSQL test gets a
schema of its own that is dropped afterwards, so the database itself is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medmij_stack.zorgaanbieder.store import Repository
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for a store, empty; once per backend."""
    with fresh_database(request.param, tmp_path, "store") as url:
        yield url


@pytest.fixture
def repository(store_url: str) -> Iterator[Repository]:
    """A migrated, empty store on each backend."""
    repository = Repository.create(store_url)
    try:
        yield repository
    finally:
        repository.close()
