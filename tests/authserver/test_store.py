"""The store on SQLite and PostgreSQL: migrations, single-use codes, rotation, revocation.

Each test runs on a fresh SQLite file, and on PostgreSQL when MEDMIJ_TEST_POSTGRES_URL
names a database (the ``db`` fixture of conftest.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, update

from medmij_stack.authserver import credentials
from medmij_stack.authserver.db import MIGRATIONS, Database
from medmij_stack.authserver.digid import DigidSimulator, Outcome, Resolution, Unresolvable
from medmij_stack.authserver.errors import FlowUnavailable
from medmij_stack.authserver.eventlog import Ketenlog, Trail
from medmij_stack.authserver.grant_store import GrantStore, Spent, add_months
from medmij_stack.authserver.sessions import FlowRequest, Sessions, Step
from medmij_stack.authserver.tables import Base, DigidArtifact
from medmij_stack.protocol.ketenlog import EventType, RequestInfo
from medmij_stack.protocol.persons import test_persons
from medmij_stack.runtime.database import migrate


@pytest.fixture
def store(db: Database) -> GrantStore:
    return GrantStore(
        db,
        code_ttl=timedelta(seconds=900),
        access_ttl=timedelta(seconds=900),
        refresh_idle_months=6,
    )


def _code(store: GrantStore, *, langdurig: bool = False) -> str:
    code = store.unique_code()
    store.create_code(
        code,
        client_id="pgo.localhost",
        redirect_uri="https://pgo.localhost/cb",
        bsn="999990019",
        zorgaanbieder="ziekenhuistest@medmij",
        gegevensdiensten=("48", "63"),
        scope="ziekenhuistest~48 ziekenhuistest~63",
        langdurig=langdurig,
        flow_id=None,
        session_id=None,
        trace_id=credentials.new_uuid4(),
        code_challenge=None,
        code_challenge_method=None,
    )
    return code


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    migrate(db.engine, MIGRATIONS)  # a second run changes nothing
    assert set(inspect(db.engine).get_table_names()) >= {
        "browser_sessions",
        "authorization_flows",
        "digid_artifacts",
        "grants",
        "authorization_codes",
        "tokens",
        "ketenlog",
        "alembic_version",
    }


def test_a_code_is_fresh_once_then_a_replay_that_revokes_its_tokens(store: GrantStore) -> None:
    code = _code(store, langdurig=True)
    first = store.spend_code(code)
    assert first.status is Spent.FRESH
    assert first.code is not None
    access, refresh = store.new_token_values(with_refresh=True)
    issued = store.save_tokens(first.code.grant.id, "pgo.localhost", "s", access, refresh)
    assert not issued.access_revoked
    replay = store.spend_code(code)
    assert replay.status is Spent.REPLAYED
    assert replay.code is not None
    assert replay.code.grant.revoked
    found = store.find_access(access)
    assert found is not None
    assert found.access_revoked
    assert store.spend_code("never-issued").status is Spent.UNKNOWN


def test_of_two_simultaneous_presentations_exactly_one_is_fresh(store: GrantStore) -> None:
    code = _code(store)
    outcomes: list[Spent] = []
    barrier = threading.Barrier(4)

    def present() -> None:
        barrier.wait()
        outcomes.append(store.spend_code(code).status)

    threads = [threading.Thread(target=present) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(o.value for o in outcomes) == ["fresh", "replayed", "replayed", "replayed"]


def test_rotation_uses_a_refresh_token_once(store: GrantStore) -> None:
    spent = store.spend_code(_code(store, langdurig=True))
    assert spent.code is not None
    access, refresh = store.new_token_values(with_refresh=True)
    assert refresh is not None
    old = store.save_tokens(spent.code.grant.id, "pgo.localhost", "s", access, refresh)
    assert old.refresh_expires_at is not None
    assert old.refresh_expires_at >= datetime.now(UTC) + timedelta(days=180)
    new_access, new_refresh = store.new_token_values(with_refresh=True)
    rotated = store.rotate(old.id, "pgo.localhost", "s", new_access, new_refresh)
    assert rotated is not None
    assert rotated.grant.id == old.grant.id
    again = store.rotate(old.id, "pgo.localhost", "s", *store.new_token_values(True))
    assert again is None  # a replay: and the whole consent is gone
    after = store.find_access(new_access)
    assert after is not None
    assert after.grant.revoked


def test_a_token_value_already_issued_is_drawn_again_when_stored(store: GrantStore) -> None:
    """AS 2.0.0 uniciteit: the unique digest columns are the check; a taken value is
    replaced, and the values to hand out are the ones stored."""
    spent = store.spend_code(_code(store, langdurig=True))
    assert spent.code is not None
    grant_id = spent.code.grant.id
    access, refresh = store.new_token_values(with_refresh=True)
    first = store.save_tokens(grant_id, "pgo.localhost", "s", access, refresh)
    assert (first.access_token, first.refresh_token) == (access, refresh)
    other_access, _ = store.new_token_values(with_refresh=False)
    for taken in ((access, None), (other_access, refresh)):  # either digest taken
        second = store.save_tokens(grant_id, "pgo.localhost", "s", *taken)
        assert second.id != first.id
        assert second.access_token not in (None, access, other_access)
        assert second.refresh_token != refresh
        still = store.find_access(access)
        assert still is not None
        assert still.id == first.id
        found = store.find_access(second.access_token or "")
        assert found is not None
        assert found.id == second.id
    rotated = store.rotate(first.id, "pgo.localhost", "s", access, refresh)  # both taken
    assert rotated is not None
    assert rotated.access_token != access
    assert rotated.refresh_token not in (None, refresh)
    found = store.find_refresh(rotated.refresh_token or "")
    assert found is not None
    assert found.id == rotated.id


def test_values_are_stored_as_digests_only(store: GrantStore, db: Database) -> None:
    code = _code(store)
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT code_hash FROM authorization_codes").all()
    assert rows == [(credentials.digest(code),)]


def test_ketenlog_records_are_stored_and_read_back_for_reports(db: Database) -> None:
    log = Ketenlog(db)
    trace = credentials.new_uuid4()
    trail = Trail(location="api.dva.localhost", trace_id=trace)
    trail.add(EventType.RECEIVE_TOKEN_REQUEST, request=RequestInfo(id=trace, grant_type="x"))
    trail.bind_session("a-session")
    trail.flush(log)
    (record,) = log.records(trace_id=trace)
    assert record.event.type is EventType.RECEIVE_TOKEN_REQUEST
    assert record.event.session_id == "a-session"
    assert record.request == RequestInfo(id=trace, grant_type="x")
    assert log.records(type=EventType.SEND_TOKEN_RESPONSE, trace_id=trace) == []
    later = record.event.datetime + timedelta(seconds=1)
    assert log.records(since=later) == []
    assert log.records(until=later, trace_id=trace) == [record]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 15, tzinfo=UTC), 6, datetime(2026, 7, 15, tzinfo=UTC)),
        (datetime(2026, 8, 31, tzinfo=UTC), 6, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2027, 8, 31, tzinfo=UTC), 6, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), 1, datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_six_months_are_calendar_months(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


def _flow(db: Database) -> tuple[Sessions, str, str]:
    sessions = Sessions(db, flow_ttl=timedelta(minutes=15), session_ttl=timedelta(hours=1))
    started = sessions.start(
        None,
        FlowRequest(
            query="response_type=code",
            client_id="pgo.localhost",
            redirect_uri="https://pgo.localhost/cb",
            state=None,
            zorgaanbieder="ziekenhuistest@medmij",
            gegevensdiensten=("48",),
            request_id=credentials.new_uuid4(),
            trace_id=credentials.new_uuid4(),
        ),
    )
    assert started.cookie is not None
    return sessions, started.flow.id, started.cookie


def test_flows_belong_to_their_browser_and_move_forward_once(db: Database) -> None:
    sessions, flow_id, cookie = _flow(db)
    flow = sessions.flow(flow_id, cookie)
    with pytest.raises(FlowUnavailable):
        sessions.flow(flow_id, "another browser's cookie")
    moved = sessions.advance(flow, (Step.LANDING,), Step.DIGID)
    assert moved.step == Step.DIGID
    with pytest.raises(FlowUnavailable, match="already taken"):
        sessions.advance(flow, (Step.LANDING,), Step.CANCELLED)
    consent = sessions.advance(
        moved, (Step.DIGID,), Step.CONSENT, bsn="999990019", beschikbaar=("48",)
    )
    assert (consent.bsn, consent.beschikbaar) == ("999990019", "48")


def test_a_digid_artifact_resolves_once(db: Database) -> None:
    _, flow_id, _ = _flow(db)
    persons = test_persons(7, 2)
    digid = DigidSimulator(db, persons)
    artifact = digid.issue_artifact(flow_id, Outcome.SUCCESS, persons[0].bsn)
    assert digid.resolve_once(artifact) == Resolution(flow_id, Outcome.SUCCESS, persons[0].bsn)
    assert digid.resolve_once(artifact) is Unresolvable.GONE
    assert digid.resolve_once("never issued") is Unresolvable.UNKNOWN
    late = digid.issue_artifact(flow_id, Outcome.CANCELLED)
    with db.transaction() as session:
        session.execute(
            update(DigidArtifact).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert digid.resolve_once(late) is Unresolvable.GONE
    with pytest.raises(ValueError, match="test person"):
        digid.issue_artifact(flow_id, Outcome.SUCCESS, "999999990")


def test_the_writers_turn_is_taken_now_or_not_at_all(db: Database) -> None:
    """The token endpoint runs its unit of work on the event loop only with a turn taken
    without waiting (authserver.backchannel); it must then be the one writer."""
    if db.engine.dialect.name != "sqlite":
        assert db.writer_turn_now() is None  # PostgreSQL: always the thread pool
        return
    turn = db.writer_turn_now()
    assert turn is not None
    assert db.writer_turn_now() is None  # held: another would wait
    blocked = threading.Event()

    def other_writer() -> None:
        with db.writer_turn():
            blocked.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert not blocked.wait(0.2)  # a waiting writer waits for the turn ...
    steps: list[str] = []
    deferred: list[Callable[[], None]] = []
    with db.unit_of_work(turn=turn, deferred=deferred), db.connection() as connection:
        connection.exec_driver_sql("SELECT 1")
        db.after_commit(lambda: steps.append("ran"))
    thread.join(10)
    assert blocked.is_set()  # ... until the unit has committed and let it go
    assert steps == []  # deferred: the caller runs them
    for step in deferred:
        step()
    assert steps == ["ran"]
    again = db.writer_turn_now()
    assert again is not None
    again.close()
