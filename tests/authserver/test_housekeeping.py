"""Housekeeping: what has run its course is deleted; consents, live refresh tokens and the
ketenlog never are. On SQLite, and on PostgreSQL when MEDMIJ_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medmij_stack.authserver import credentials
from medmij_stack.authserver.db import Database
from medmij_stack.authserver.digid import DigidSimulator, Outcome
from medmij_stack.authserver.errors import FlowUnavailable, Unavailability
from medmij_stack.authserver.eventlog import Ketenlog, Trail
from medmij_stack.authserver.grant_store import GrantStore, Spent
from medmij_stack.authserver.housekeeping import Housekeeping, Purged
from medmij_stack.authserver.sessions import FlowRequest, Sessions, Step
from medmij_stack.authserver.tables import (
    AuthorizationCode,
    Base,
    BrowserSession,
    DigidArtifact,
    Flow,
    Grant,
    KetenlogEntry,
    Token,
)
from medmij_stack.protocol.ketenlog import EventType
from medmij_stack.protocol.persons import test_persons

from .browser import Browser
from .conftest import (
    TestWorld,
    build_world,
    lists_and_resource_nodes,
    running_authservers,
    wait_healthy,
)
from .flows import authorize_url

GRACE = timedelta(days=1)
PERSONS = test_persons(7, 2)


def _count(db: Database, table: type[Base]) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _sessions(db: Database, *, session_ttl: timedelta = timedelta(hours=1)) -> Sessions:
    return Sessions(db, flow_ttl=timedelta(minutes=15), session_ttl=session_ttl)


def _start(sessions: Sessions, cookie: str | None = None) -> tuple[str, str]:
    started = sessions.start(
        cookie,
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
    return started.flow.id, started.cookie or cookie or ""


def _store(db: Database, *, code_ttl: timedelta = timedelta(minutes=15)) -> GrantStore:
    return GrantStore(
        db, code_ttl=code_ttl, access_ttl=timedelta(minutes=15), refresh_idle_months=6
    )


def _issue_code(store: GrantStore, *, langdurig: bool) -> str:
    code = store.unique_code()
    store.create_code(
        code,
        client_id="pgo.localhost",
        redirect_uri="https://pgo.localhost/cb",
        bsn=PERSONS[0].bsn,
        zorgaanbieder="ziekenhuistest@medmij",
        gegevensdiensten=("48",),
        scope="ziekenhuistest~48",
        langdurig=langdurig,
        flow_id=None,
        session_id=None,
        trace_id=credentials.new_uuid4(),
        code_challenge=None,
        code_challenge_method=None,
    )
    return code


def _consent(store: GrantStore, *, langdurig: bool) -> tuple[str, str, str | None]:
    """A consent whose code was exchanged: (code, access token, refresh token)."""
    code = _issue_code(store, langdurig=langdurig)
    spent = store.spend_code(code)
    assert spent.status is Spent.FRESH
    assert spent.code is not None
    access, refresh = store.new_token_values(with_refresh=langdurig)
    store.save_tokens(spent.code.grant.id, "pgo.localhost", "ziekenhuistest~48", access, refresh)
    return code, access, refresh


@dataclass
class Rows:
    """One of everything, made at ``start``."""

    start: datetime
    sessions: Sessions
    store: GrantStore
    flow_id: str
    cookie: str
    artifact: str
    code: str
    one_off_access: str
    langdurig_refresh: str


def _one_of_everything(db: Database) -> Rows:
    start = datetime.now(UTC)
    sessions = _sessions(db)
    flow_id, cookie = _start(sessions)
    artifact = DigidSimulator(db, PERSONS).issue_artifact(flow_id, Outcome.CANCELLED)
    store = _store(db)
    code, one_off_access, _ = _consent(store, langdurig=False)
    _, _, langdurig_refresh = _consent(store, langdurig=True)
    assert langdurig_refresh is not None
    trail = Trail(location="inlog.dva.localhost", trace_id=credentials.new_uuid4())
    trail.add(EventType.SHOW_LANDING_PAGE)
    trail.flush(Ketenlog(db))
    return Rows(
        start,
        sessions,
        store,
        flow_id,
        cookie,
        artifact,
        code,
        one_off_access,
        langdurig_refresh,
    )


def _housekeeping(db: Database, *, batch: int = 500, max_batches: int = 100) -> Housekeeping:
    return Housekeeping(db, grace=GRACE, batch=batch, max_batches=max_batches)


def test_nothing_goes_before_its_expiry_plus_the_grace_period(db: Database) -> None:
    rows = _one_of_everything(db)
    # The artifact expires first, five minutes after it was issued.
    assert _housekeeping(db).purge(now=rows.start + GRACE) == Purged()
    expired = rows.sessions.flow(rows.flow_id, rows.cookie, allow_expired=True)
    assert expired.id == rows.flow_id
    assert rows.store.find_access(rows.one_off_access) is not None
    assert _count(db, DigidArtifact) == 1
    assert _count(db, AuthorizationCode) == 2


def test_what_ran_its_course_goes_consents_refresh_tokens_and_the_ketenlog_stay(
    db: Database,
) -> None:
    rows = _one_of_everything(db)
    purged = _housekeeping(db).purge(now=rows.start + timedelta(hours=2) + GRACE)
    # One artifact, both codes, the one-off token row (the langdurige keeps its refresh
    # token), the flow and the browser session.
    assert purged == Purged(artifacts=1, codes=2, tokens=1, flows=1, sessions=1)
    with pytest.raises(FlowUnavailable) as gone:
        rows.sessions.flow(rows.flow_id, rows.cookie, allow_expired=True)
    assert gone.value.reason is Unavailability.UNKNOWN
    assert rows.store.spend_code(rows.code).status is Spent.UNKNOWN
    assert rows.store.find_access(rows.one_off_access) is None
    assert _count(db, Grant) == 2
    assert _count(db, KetenlogEntry) == 1
    # The langdurige toestemming works on: its refresh token rotates.
    info = rows.store.find_refresh(rows.langdurig_refresh)
    assert info is not None
    assert not info.grant.revoked
    access, refresh = rows.store.new_token_values(with_refresh=True)
    assert rows.store.rotate(info.id, info.client_id, info.scope, access, refresh) is not None
    # A second run finds nothing more to do.
    assert _housekeeping(db).purge(now=rows.start + timedelta(hours=2) + GRACE) == Purged()


def test_a_used_refresh_token_stays_until_it_would_have_lapsed_so_a_replay_still_ends_the_consent(
    db: Database,
) -> None:
    rows = _one_of_everything(db)
    old = rows.store.find_refresh(rows.langdurig_refresh)
    assert old is not None
    access, refresh = rows.store.new_token_values(with_refresh=True)
    assert rows.store.rotate(old.id, old.client_id, old.scope, access, refresh) is not None
    _housekeeping(db).purge(now=rows.start + timedelta(days=30) + GRACE)
    replayed = rows.store.find_refresh(rows.langdurig_refresh)
    assert replayed is not None
    assert replayed.refresh_used
    again = rows.store.new_token_values(with_refresh=True)
    assert rows.store.rotate(old.id, old.client_id, old.scope, *again) is None
    after = rows.store.find_refresh(refresh or "")
    assert after is not None
    assert after.grant.revoked  # the replay ended the whole consent


def test_lapsed_refresh_tokens_go_but_the_consent_stays(db: Database) -> None:
    rows = _one_of_everything(db)
    purged = _housekeeping(db).purge(now=rows.start + timedelta(days=7 * 31) + GRACE)
    assert purged.tokens == 2
    assert rows.store.find_refresh(rows.langdurig_refresh) is None
    assert _count(db, Token) == 0
    assert _count(db, Grant) == 2
    assert _count(db, KetenlogEntry) == 1


def test_a_revoked_refresh_token_goes_after_the_grace_period(db: Database) -> None:
    start = datetime.now(UTC)
    store = _store(db)
    _, _, refresh = _consent(store, langdurig=True)
    info = store.find_refresh(refresh or "")
    assert info is not None
    store.revoke_grant(info.grant.id, "withdrawn by the person")
    housekeeping = _housekeeping(db)
    assert housekeeping.purge(now=start + timedelta(hours=2)).tokens == 0  # within the grace
    assert housekeeping.purge(now=start + timedelta(hours=2) + GRACE).tokens == 1
    assert _count(db, Grant) == 1


def test_a_browser_session_stays_while_a_flow_in_it_does(db: Database) -> None:
    start = datetime.now(UTC)
    sessions = _sessions(db, session_ttl=timedelta(minutes=1))
    flow_id, cookie = _start(sessions)
    housekeeping = _housekeeping(db)
    # The session has expired (one minute), its flow (fifteen) not yet.
    assert housekeeping.purge(now=start + timedelta(minutes=5) + GRACE) == Purged()
    assert sessions.flow(flow_id, cookie, allow_expired=True).step == Step.LANDING
    assert housekeeping.purge(now=start + timedelta(minutes=20) + GRACE) == Purged(
        flows=1, sessions=1
    )


def test_an_artifact_that_outlives_its_flow_goes_with_it(db: Database) -> None:
    start = datetime.now(UTC)
    sessions = _sessions(db)
    flow_id, _ = _start(sessions)
    DigidSimulator(db, PERSONS).issue_artifact(flow_id, Outcome.FAILURE)
    with db.transaction() as session:
        flow = session.get(Flow, flow_id)
        assert flow is not None
        flow.expires_at = start  # the flow ended before its artifact will
    purged = _housekeeping(db).purge(now=start + timedelta(minutes=1) + GRACE)
    assert purged.flows == 1
    assert _count(db, DigidArtifact) == 0
    assert _count(db, BrowserSession) == 1  # live for another hour


def test_each_run_deletes_a_bounded_number_of_rows(db: Database) -> None:
    start = datetime.now(UTC)
    store = _store(db)
    for _ in range(7):
        _consent(store, langdurig=False)
    housekeeping = _housekeeping(db, batch=3, max_batches=2)
    later = start + timedelta(hours=1) + GRACE
    assert housekeeping.purge(now=later).codes == 6
    assert _count(db, AuthorizationCode) == 1
    assert housekeeping.purge(now=later).codes == 1
    assert housekeeping.purge(now=later) == Purged()


def test_the_purge_runs_periodically_until_stopped(db: Database) -> None:
    store = _store(db, code_ttl=timedelta(0))
    housekeeping = Housekeeping(db, grace=timedelta(0), batch=10)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(housekeeping.run(0.05, stop))
        try:
            for _ in range(2):  # each expired code is found by a later run
                await asyncio.to_thread(_issue_code, store, langdurig=False)
                await _until(lambda: _count(db, AuthorizationCode) == 0)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert _count(db, Grant) == 2


async def _until(condition: Callable[[], bool], limit: float = 5) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the purge did not run")
        await asyncio.sleep(0.02)


# --- in the running server -----------------------------------------------------------------


def test_the_server_purges_in_its_lifespan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMIJ_AUTHSERVER_PURGE_INTERVAL_SECONDS", "0.1")
    monkeypatch.setenv("MEDMIJ_AUTHSERVER_PURGE_GRACE_SECONDS", "0")
    world, pki = build_world(tmp_path)
    data_dir = tmp_path / "data"
    with (
        lists_and_resource_nodes(world, pki, data_dir) as resource,
        running_authservers(world, pki, data_dir) as channels,
    ):
        running = TestWorld(world, pki, data_dir, resource, channels)
        wait_healthy(running)
        with running.browser() as person:
            landing = person.open(authorize_url(running.front_url()))
            flow_form = Browser.forms(landing.response)[0]
            with sqlite3.connect(running.database()) as sqlite:
                sqlite.execute("UPDATE authorization_flows SET expires_at = '2000-01-01 00:00:00'")
            deadline = time.monotonic() + 10
            while _flows(running.database()):
                assert time.monotonic() < deadline, "the running server never purged"
                time.sleep(0.05)
            late = person.submit(landing, flow_form)
    assert late.response.status_code == 400
    assert "niet vinden" in late.response.text  # gone, not merely expired


def _flows(database: Path) -> int:
    with sqlite3.connect(database) as sqlite:
        return int(sqlite.execute("SELECT count(*) FROM authorization_flows").fetchone()[0])
