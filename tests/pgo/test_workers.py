"""A PGO served by several worker processes: the once-only work is the first worker's, and
the sweep never takes another worker's running retrieval for one a crash left behind.

Two PGOs on one data dir in one test process stand in for two workers of one role: the
same database, each with its own retrievals in memory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, update

from medmij_stack.pgo import retrieval_runs, verzamelen
from medmij_stack.pgo.tables import Attempt
from medmij_stack.protocol.funnel import FailureReason, FunnelStep

from .harness import Person, PgoWorld, flow_of, running_pgo


async def _left_fetching(pw: PgoWorld, person: Person) -> str:
    """An attempt at the fetching stage that no process of this test runs."""
    chosen = await person.choose("ggdtest@medmij")
    flow_id = flow_of(chosen.headers["location"])
    with pw.pgo.db.transaction() as session:
        session.execute(update(Attempt).where(Attempt.flow_id == flow_id).values(stage="ophalen"))
    return flow_id


class _RealTime:
    """time.monotonic for the sweep's wait, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_second_worker_does_none_of_the_once_only_work(
    pw: PgoWorld, person: Person, tmp_path: Path
) -> None:
    flow_id = await _left_fetching(pw, person)
    async with running_pgo(tmp_path, leader=False, workers=2) as second:
        # Not ended at its start: that is the first worker's, before the others run.
        assert second.pgo.attempts.get(flow_id).stage == "ophalen"  # type: ignore[union-attr]
        # And no background job of its own (the first worker's sweeps and refreshes).
        assert second.pgo._job is None
    # The first worker's lifespan did start one.
    assert pw.pgo._job is not None


async def test_with_several_workers_a_quiet_attempt_is_swept_only_after_missed_heartbeats(
    pw: PgoWorld, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _RealTime()
    monkeypatch.setattr(verzamelen.time, "monotonic", real)
    pw.pgo.verzamelen.settings = pw.pgo.settings.model_copy(update={"workers": 2})
    flow_id = await _left_fetching(pw, person)
    # The clock jumps far ahead (a simulation does): stale by the clock, yet another worker
    # may be running it and has had no time for a heartbeat.
    pw.clock.advance(hours=2)
    await pw.pgo.background_once()
    assert pw.pgo.attempts.get(flow_id).stage == "ophalen"  # type: ignore[union-attr]
    # The other worker's heartbeat comes: it runs, so it is left alone however long it takes.
    real.now += 2 * retrieval_runs.HEARTBEAT_SECONDS
    pw.pgo.attempts.touch([flow_id])
    pw.clock.advance(hours=2)
    await pw.pgo.background_once()
    real.now += 2 * retrieval_runs.HEARTBEAT_SECONDS
    await pw.pgo.background_once()
    assert pw.pgo.attempts.get(flow_id).stage == "ophalen"  # type: ignore[union-attr]
    # No heartbeat for three beats of real time: nobody runs it (its worker died with the
    # role, or a request failed half-way), so the sweep ends it.
    real.now += 2 * retrieval_runs.HEARTBEAT_SECONDS
    await pw.pgo.background_once()
    end = pw.funnel(flow_id)[-1]
    assert end.name is FunnelStep.FLOW_END
    assert end.reason is FailureReason.CLIENT_ERROR
    assert pw.pgo.attempts.get(flow_id).situation == "onderbroken"  # type: ignore[union-attr]


async def test_a_worker_moves_the_attempts_of_the_retrievals_it_runs(
    pw: PgoWorld, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retrieval_runs, "HEARTBEAT_SECONDS", 0.01)
    runs = pw.pgo.verzamelen.runs
    runs.settings = pw.pgo.settings.model_copy(update={"workers": 2})
    flow_id = await _left_fetching(pw, person)
    with pw.pgo.db.read() as session:
        before = session.scalar(select(Attempt.updated_at).where(Attempt.flow_id == flow_id))
    pw.clock.advance(minutes=30)
    release = asyncio.Event()
    runs.spawn(flow_id, release.wait())  # a retrieval this worker runs
    try:
        for _ in range(200):
            await asyncio.sleep(0.01)
            with pw.pgo.db.read() as session:
                moved = session.scalar(select(Attempt.updated_at).where(Attempt.flow_id == flow_id))
            if moved != before:
                break
        assert moved is not None
        assert before is not None
        assert moved > before
    finally:
        release.set()
        await runs.stop()
    assert runs._beat is None
