"""A service killed with SIGKILL in the middle of a `medmij simulate` wave and started again.

The simulation world runs as role processes of the test (:mod:`medmij_stack.wiring.killable`:
the ``medmij serve`` command lines ``medmij up`` uses, which itself would stop the world
when a role dies). A small population retrieves at the zorgaanbieders that hold their data;
once a few attempts of the wave have ended, the resource server (in a second run, the
authorisation server, in a third the PGO) is killed and started again with its own command
line on its own data, while the others go on. Then:

* nothing the killed service had stored is gone (every row of its ketenlog and records),
  nor anything stored elsewhere before the kill (consents, tokens, funnel events);
* the figures from the PGO's stores, and ``medmij report``'s, equal the ground truth, and
  attempt by attempt the store agrees with it;
* every attempt that overlapped the outage ended as the patient saw it end (a DVA page that
  would not load, the DVA's answer on the redirect URI, or the PGO's page; a PGO that would
  not answer, after which the person comes back and reads the attempt's outcome page, or
  where that shows no ending yet the restarted PGO ends it by where it stood), and the ones
  the outage broke are failures with that reason.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from medmij_stack.protocol.funnel import FailureReason, Outcome
from medmij_stack.wiring.clock import VirtualClock
from medmij_stack.wiring.killable import KillableStack, start_killable
from medmij_stack.wiring.scenarios import load_scenario
from medmij_stack.wiring.simulate import (
    TruthAttempt,
    Wave,
    report_mismatches,
    simulate_on,
    simulation_world,
)
from medmij_stack.wiring.truth import Basis, Fault, dva_answer

pytestmark = pytest.mark.e2e

USERS = 8  # two attempts each: one wave of 16
CONCURRENCY = 4
PGO = "pgo.localhost"
# A PGO that is down lets no attempt end (the people reload its login page until it is
# back), so it is started again after a fixed outage, as a supervisor's restart delay.
PGO_OUTAGE_SECONDS = 3.0
SCENARIO = """
[scenario]
only_known = true
[population]
attempts_per_month = [0.0, 0.0, 1.0]
devices = { pc = 1.0 }
[zorgaanbieders]
"ziekenhuisdemo@medmij" = 1.0
[[pgo]]
hostname = "pgo.localhost"
[pgo.steps]
digid_cancel = 0.1
consent_deny = 0.1
"""

# What each store must keep: (file under the data dir, table, which rows), by primary key.
# (Not the PGO's health records: a later retrieval from the same source replaces them.)
# A token that has expired (and has no live refresh token) is the housekeeping's to purge,
# at any start among other times: only the live ones must survive.
LIVE_TOKEN = (
    "expires_at > :now OR (refresh_hash IS NOT NULL AND refresh_expires_at > :now "
    "AND refresh_revoked_at IS NULL)"
)
KEPT = (
    ("zorgaanbieder-{dva}/zorgaanbieder.sqlite3", "ketenlog", "1"),
    ("zorgaanbieder-{dva}/zorgaanbieder.sqlite3", "resource", "1"),
    ("authserver-{dva}/authserver.sqlite3", "grants", "1"),
    ("authserver-{dva}/authserver.sqlite3", "tokens", LIVE_TOKEN),
    ("pgo/pgo.sqlite3", "consents", "1"),
    ("pgo/pgo.sqlite3", "funnel_events", "1"),
    ("pgo/pgo.sqlite3", "ketenlog", "1"),
    ("pgo/pgo.sqlite3", "attempts", "1"),
)


@pytest.fixture(scope="module")
def killable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KillableStack]:
    scenario = load_scenario(_scenario_file(tmp_path_factory.mktemp("scenario")))
    stack = start_killable(
        simulation_world(scenario, USERS), tmp_path_factory.mktemp("killable"), timeout=300
    )
    yield stack
    stack.stop()


def _scenario_file(folder: Path) -> str:
    path = folder / "kill.toml"
    path.write_text(SCENARIO, "utf-8")
    return str(path)


def _keys(data_dir: Path, dva: str, *, live: bool = False) -> dict[str, set[tuple[object, ...]]]:
    """Per table of :data:`KEPT`, the primary keys of its rows (read-only); ``live``: only
    the rows that must survive, by the stack's (virtual) clock."""
    # The stores keep naive UTC times (runtime.database.UtcDateTime).
    now = VirtualClock(data_dir)().astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    result = {}
    for file, table, which in KEPT:
        path = data_dir / file.format(dva=dva)
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
            columns = [
                row[1]
                for row in connection.execute(f"PRAGMA table_info({table})").fetchall()
                if row[5]
            ]
            rows = connection.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {which if live else '1'}",  # noqa: S608 - our own SQL
                {"now": now},
            ).fetchall()
        result[f"{file}:{table}"] = {tuple(row) for row in rows}
    return result


async def _until(condition: Callable[[], bool], limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the wave did not get there")
        await asyncio.sleep(0.1)


def _patient_saw(attempt: TruthAttempt) -> str | None:
    """The ending the person saw: where they closed the tab, the DVA's answer on the
    redirect URI, else the heading of the PGO's page."""
    seen = attempt.observed
    if seen.pgo_unreachable and seen.returned_ending is not None:
        # The PGO's page would not load; back once it answered, the attempt's outcome page
        # showed how it ended (a retrieval it finished just before the kill is a success).
        return seen.returned_ending
    if seen.pgo_unreachable:
        # The PGO's page would not load, nor did coming back show an ending: the restarted
        # PGO ends the attempt by where it stood, which the DVA's token records tell.
        back = seen.callback_code or seen.callback_error is not None
        if back and seen.token_answer == "issued":
            return FailureReason.CLIENT_ERROR.value  # the retrieval was cut off
        if back and seen.token_answer == "refused":
            return FailureReason.TOKEN_ERROR.value
        if back or seen.dva_pages:
            return FailureReason.DIGID_CANCELLED.value  # never back at the PGO
        return FailureReason.ABANDONED_AT_SEARCH.value
    if seen.stuck_at in ("authorize", "digid", "consent", "cancellation"):
        return FailureReason.DIGID_CANCELLED.value  # gave up at a DVA page that did not load
    if seen.abandoned_at is not None:
        reason = (
            FailureReason.ABANDONED_AT_SEARCH
            if seen.abandoned_at == "search"
            else FailureReason.DIGID_CANCELLED
        )
        return reason.value
    if seen.callback_error is not None:
        return dva_answer(seen.callback_error, seen.callback_description).value
    if seen.token_answer == "refused":
        return FailureReason.TOKEN_ERROR.value
    return seen.page_ending


@pytest.mark.parametrize("role", ["zorgaanbieder", "authserver", "pgo"])
def test_a_service_killed_mid_wave_loses_nothing_and_the_figures_agree(
    killable: KillableStack, tmp_path: Path, role: str
) -> None:
    dva = killable.world.ours()[0].id
    label = f"pgo:{PGO}" if role == "pgo" else f"{role}:{dva}"
    before: dict[str, set[tuple[object, ...]]] = {}
    after: dict[str, set[tuple[object, ...]]] = {}
    mid_wave: list[bool] = []

    async def kill_in_first_wave(wave: Wave) -> Sequence[Fault]:
        if wave.number != 0:
            return ()
        await _until(lambda: wave.done >= min(3, wave.size))
        mid_wave.append(wave.done < wave.size)
        before.update(await asyncio.to_thread(_keys, killable.data_dir, dva, live=True))
        down = await asyncio.to_thread(killable.kill, label)
        if role == "pgo":
            await asyncio.sleep(PGO_OUTAGE_SECONDS)
            return [await restarted(down)]
        # Down until attempts that started after the kill have ended: at most CONCURRENCY
        # were under way at the kill, so of the next 2 × CONCURRENCY to end, some began
        # while it was down and went through the DigiD step (the beschikbaarheidstoets
        # asks the resource server) or their retrieval.
        ended = wave.done
        await _until(lambda: wave.done >= min(wave.size, ended + 2 * CONCURRENCY))
        return [await restarted(down)]

    async def restarted(down: datetime) -> Fault:
        fault = Fault(label, down, await killable.restart(label))
        # Read at once: by the end of the run the clock has moved past every short-lived
        # token, which the housekeeping may then purge.
        after.update(await asyncio.to_thread(_keys, killable.data_dir, dva))
        return fault

    result = asyncio.run(
        simulate_on(
            killable.data_dir,
            load_scenario(_scenario_file(tmp_path)),
            users=USERS,
            months=1,
            seed=3,
            concurrency=CONCURRENCY,
            during_wave=kill_in_first_wave,
        )
    )
    assert mid_wave == [True], "the kill did not fall inside the wave"
    (fault,) = result.faults
    assert fault.service == label

    # Nothing stored before the kill is gone after the restart.
    for table, keys in before.items():
        assert keys <= after[table], f"{table}: {len(keys - after[table])} rows lost"
    assert before["zorgaanbieder-{dva}/zorgaanbieder.sqlite3:ketenlog"]

    # The stores agree with the ground truth, in figures and attempt by attempt.
    result.write(tmp_path / "simulated")  # ground_truth.jsonl, to read when this fails
    assert [a.to_json() for a in result.errors] == []
    assert result.mismatches == []
    assert result.truth_summary == result.store_summary
    report = tmp_path / "report"
    assert report_mismatches(killable.data_dir, result.months, result.truth_summary, report) == []

    # What overlapped the outage ended as the patient saw it end; what it broke (ended
    # otherwise than the model says) is a failure, as the person was told or saw it.
    overlapping = [a for a in result.truth if a.faulty]
    assert overlapping
    for attempt in overlapping:
        assert attempt.basis in (
            Basis.BROWSER,
            Basis.CALLBACK,
            Basis.AUTHSERVER,
            Basis.PAGE,
            Basis.RETURN_VISIT,
        )
        assert attempt.ending == _patient_saw(attempt)
    broken = [a for a in overlapping if a.ending not in a.expected]
    # A killed PGO comes back within seconds and its people reload and come back to their
    # attempt (the return visit), so an outage of the PGO may break none of them (seen in a
    # clean-clone run: four attempts overlapped it and all ended in success on the PGO's
    # page); an outage of a DVA role always breaks the attempts that met it.
    if role != "pgo":
        assert broken, f"the outage broke no attempt: {[(a.ending, a.basis) for a in overlapping]}"
    for attempt in broken:
        assert attempt.outcome is Outcome.FAILURE
        assert attempt.claimed_reason in (None, attempt.reason)
    # Away from the outage the ground truth rests on the model, the wire or the DVA's records.
    assert all(
        a.basis
        in (Basis.MODEL, Basis.BROWSER, Basis.CALLBACK, Basis.AUTHSERVER, Basis.RESOURCE_SERVER)
        for a in result.truth
        if not a.faulty
    )
