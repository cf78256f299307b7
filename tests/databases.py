"""A fresh database per test, on SQLite and, when one is given, on PostgreSQL.

A fixture parametrised with ``BACKENDS`` runs its tests twice: on a new SQLite file, and on
PostgreSQL when MEDMIJ_TEST_POSTGRES_URL names a database (``scripts/postgres start``
gives one). Each PostgreSQL test gets a schema of its own that is dropped afterwards, so
the database itself is left as it was.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "MEDMIJ_TEST_POSTGRES_URL"

BACKENDS: list[Any] = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def fresh_database(backend: str, tmp_path: Path, name: str) -> Iterator[str]:
    """The URL of an empty database named after ``name``; skips PostgreSQL when not given."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_ENV}, e.g. "
            "postgresql+psycopg://medmij@127.0.0.1:5432/medmij_test (see scripts/postgres)"
        )
    schema = f"{name}_test_{uuid.uuid4().hex[:12]}"
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
