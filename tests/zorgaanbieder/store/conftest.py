"""Fixtures for the store tests: a store database, SQLite and PostgreSQL.

`store_url` runs each test that uses it twice: on a fresh SQLite file, and on PostgreSQL
when MEDMIJ_TEST_POSTGRES_URL names a database (e.g.
postgresql+psycopg://medmij@127.0.0.1:5432/medmij_test). Each PostgreSQL test gets a
schema of its own that is dropped afterwards, so the database itself is left as it was.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from zorgaanbieder.store import Repository

POSTGRES_URL_ENV = "MEDMIJ_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for a store, empty; once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_ENV}, "
            "e.g. postgresql+psycopg://medmij@127.0.0.1:5432/medmij_test"
        )
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def repository(store_url: str) -> Iterator[Repository]:
    """A migrated, empty store on each backend."""
    repository = Repository.create(store_url)
    try:
        yield repository
    finally:
        repository.close()
