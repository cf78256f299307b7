"""The PGO's store on SQLite and PostgreSQL: migrations, whole-source replacement, history.

Each test runs on a fresh SQLite file, and on PostgreSQL when MEDMIJ_TEST_POSTGRES_URL
names a database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from medmij_stack.pgo.attempts import AttemptStore, Stage
from medmij_stack.pgo.db import MIGRATIONS, Database
from medmij_stack.pgo.records import QueryAnswer, RecordStore
from medmij_stack.pgo.situations import Situation
from medmij_stack.pgo.tables import Account, Base
from medmij_stack.protocol.funnel import Device, FailureReason, FunnelStep
from medmij_stack.runtime.database import migrate
from tests.databases import BACKENDS, fresh_database

from .harness import START, FakeClock


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path, "pgo") as url:
        database = Database(url)
        yield database
        database.close()


def _account(db: Database) -> str:
    with db.transaction() as session:
        session.add(Account(id="acc-1", gebruikersnaam="anna", password_hash="x", created_at=START))
    return "acc-1"


def _answer(name: str, *ids: str, failure: FailureReason | None = None) -> QueryAnswer:
    return QueryAnswer(
        name=name,
        request_id="11111111-1111-4111-8111-111111111111",
        status=None if failure else 200,
        failure=failure,
        detail="timeout" if failure else None,
        started=START,
        elapsed_seconds=0.1,
        resources=tuple({"resourceType": "Condition", "id": i} for i in ids),
    )


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    migrate(db.engine, MIGRATIONS)  # a second run changes nothing
    assert {"accounts", "attempts", "records", "consents", "funnel_events", "ketenlog"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_a_complete_answer_replaces_the_source_and_a_partial_one_does_not(db: Database) -> None:
    account = _account(db)
    clock = FakeClock()
    records = RecordStore(db, clock, staged_max_age=timedelta(hours=1))
    attempts = AttemptStore(db, clock, pgo="pgo.localhost")
    first = attempts.open(account, session_id=None, device=Device.PC).flow_id
    count = records.save(
        flow_id=first, account_id=account, zorgaanbieder="za@medmij", gegevensdienst="48",
        answers=[_answer("Problem", "a", "b")], failure=None,
    )  # fmt: skip
    assert count == 2
    second = attempts.open(account, session_id=None, device=Device.PC).flow_id
    kept = records.save(
        flow_id=second, account_id=account, zorgaanbieder="za@medmij", gegevensdienst="48",
        answers=[_answer("Problem", "c"), _answer("Alert", failure=FailureReason.RESOURCE_ERROR)],
        failure=(FailureReason.RESOURCE_ERROR, "Alert: timeout"),
    )  # fmt: skip
    assert kept is None
    assert sorted(r.resource["id"] for r in records.records(account)) == ["a", "b"]
    (source,) = records.sources(account)
    assert source.flow_id == first
    answers, failed = records.kept(second, "48")
    assert [a.name for a in answers] == ["Problem"]
    assert failed == {"Alert"}
    clock.advance(hours=2)
    assert records.kept(second, "48") == ([], {"Problem", "Alert"})  # too old to reuse


def test_an_attempt_ends_once(db: Database) -> None:
    account = _account(db)
    clock = FakeClock()
    attempts = AttemptStore(db, clock, pgo="pgo.localhost")
    flow_id = attempts.open(account, session_id=None, device=Device.WEB).flow_id
    assert attempts.end(flow_id, Situation.GEANNULEERD)
    assert not attempts.end(flow_id, Situation.GELUKT)
    attempt = attempts.get(flow_id)
    assert attempt is not None
    assert attempt.stage == Stage.KLAAR.value
    assert attempt.reason == FailureReason.DIGID_CANCELLED.value


def test_every_funnel_event_is_kept_in_order(db: Database) -> None:
    account = _account(db)
    attempts = AttemptStore(db, FakeClock(), pgo="pgo.localhost")
    flow_id = attempts.open(account, session_id="s", device=Device.APP).flow_id
    assert attempts.choose(flow_id, "za@medmij", ["48"], Device.APP) is not None
    assert attempts.choose(flow_id, "za@medmij", ["48"], Device.APP) is None  # once
    attempts.end(flow_id, Situation.GEWEIGERD)
    from medmij_stack.pgo.eventlog import Measurements

    names = [e.name for e in Measurements(db).funnel(flow_id=flow_id)]
    assert names == [
        FunnelStep.FLOW_START,
        FunnelStep.ZORGAANBIEDER_GEKOZEN,
        FunnelStep.GEGEVENSDIENST_GEKOZEN,
        FunnelStep.FLOW_END,
    ]
