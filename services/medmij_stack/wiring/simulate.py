"""``medmij simulate``: a synthetic population through the real services, months in minutes.

A scenario (:mod:`medmij_stack.wiring.scenarios`) says how people behave; the simulator
draws, from ``--seed`` alone, who uses which PGO on which device, how many retrievals each
makes per month, at which zorgaanbieder and with which choices at each step. Every attempt
is a :class:`~medmij_stack.wiring.patient.ScriptedPatient` in a fresh browser: it logs in to
its PGO over HTTPS, searches, goes through the DVA's screens and DigiD and reads the outcome,
at most ``--concurrency`` at a time.

Time: the stack runs a simulation world (``simulation = true``), whose PGOs read the
virtual clock of :mod:`medmij_stack.wiring.clock`. A month's attempts run in waves; before
each wave the clock jumps ahead within the month, and after the last wave to the 27th, so
the PGO's sweep ends what people abandoned (``afgehaakt-bij-zoeken``, ``niet-teruggekeerd``)
within the same month. The clock never goes back, so a run on a stack that ran before
starts in the month after the clock's.

The ground truth is how each attempt really ended (``ground_truth.jsonl``), found without
the PGO's word for it (:mod:`medmij_stack.wiring.truth`): from what the behaviour model made
the person do and what the world is known to do, and where those allow more than one ending
from what the browser saw on the wire and what the DVA's own services recorded of the flow;
an abandoned attempt ends as the PGO must end it. Each line holds the model's expectation
(``expected``), what was observed (``observed``), the truth (``outcome``, ``reason``,
``basis``) and the PGO's own claim (``pgo_claim``). Its summary (per month: users with ≥ 1
success and with ≥ 1 failure, per process step how many reached and ended there and why,
failures per zorgaanbieder) is compared with the same figures computed from the PGO stores'
own funnel events (:func:`medmij_stack.protocol.reporting.figures.compute`), and attempt by
attempt the store's ending and what the PGO told the person with the truth: they must be
equal. So are the users who completed every step (:mod:`medmij_stack.wiring.completion`),
printed with a 95% Wilson interval against the scenario's ``complete_target``. Attempts the
PGO runs by itself on a langdurige toestemming (initiator ``system``) are not the
simulator's and are reported apart.

Faults: ``simulate_on(during_wave=…)`` runs a hook beside every wave, which may kill a
service and start it again (:mod:`medmij_stack.wiring.killable`) and returns the
:class:`~medmij_stack.wiring.truth.Fault`; an attempt that overlapped the outage ends as the
patient saw it end. A person whose PGO stopped answering mid-attempt comes back once it
answers again and reads that attempt's outcome page (:meth:`ScriptedPatient.look_back`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medmij_stack.protocol.funnel import (
    Device,
    FailureReason,
    FunnelEvent,
    Initiator,
    Outcome,
)
from medmij_stack.protocol.reporting.attempts import STEPS, Attempt, fold_attempts
from medmij_stack.protocol.reporting.figures import compute
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month, Period
from medmij_stack.protocol.reporting.users import outcome_users
from medmij_stack.runtime import event_loop

from .clock import advance_to, read_offset
from .completion import CompletionFigures
from .completion import from_events as completion_from_events
from .completion import from_truth as completion_from_truth
from .funnel_reading import FunnelReader
from .patient import (
    Abandon,
    AtConsent,
    AtDigid,
    AtLanding,
    AttemptResult,
    Behaviour,
    PatientError,
    PgoAccount,
    PgoUnreachable,
    ReturnVisit,
    ScriptedPatient,
    StackError,
    StackInfo,
    Step,
)
from .patient.browsers import Browsers
from .roles import pgo_data_dir
from .scenarios import Scenario, ScenarioError, load_scenario, weighted
from .truth import (
    Basis,
    Fault,
    FlowRecords,
    Observed,
    ending_of,
    flow_of,
    judge,
    observe,
    observe_unreachable,
    observed_disagrees,
    read_flow_records,
    return_visit_disagrees,
)
from .world import World, WorldError, load_world, save_world

__all__ = [
    "PlannedAttempt",
    "SimulationResult",
    "Summary",
    "TruthAttempt",
    "compare",
    "in_start_order",
    "patient_waits",
    "plan",
    "population",
    "report_mismatches",
    "run_attempt",
    "simulate",
    "simulate_on",
    "store_summary",
    "truth_summary",
    "waiting_early",
]

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

_WAVE_FACTOR = 4  # a wave holds at least this many attempts per concurrent patient
# A wave ends when its slowest attempt has (a hanging resource server: seconds), with the
# cores idle meanwhile; so a month has at most this many waves, however many people it
# holds (1,000 users of `realistic` make about 1,200 attempts a month: 4 waves, not 37).
_WAVES_PER_MONTH = 4
_FIRST_WAVE = timedelta(hours=1)  # after the month's start
_SPREAD = timedelta(days=26)  # waves are spread over the month's first 26 days
_MONTH_CLOSE = timedelta(days=27)  # then the clock goes here, and the sweep ends the rest
_SWEEP_WAIT_SECONDS = 60.0
_RECORDS_WAIT_SECONDS = 2.0  # the services write their ketenlog every 0.5 s
_NO_ENDING = "neither the model nor what was seen says how it ended"


@dataclass(frozen=True)
class User:
    index: int
    pgo: str  # the PGO's hostname
    device: Device
    account: PgoAccount
    known_at: tuple[str, ...]  # zorgaanbieders that hold this person's data


@dataclass(frozen=True)
class PlannedAttempt:
    user: User
    month: Month
    number: int  # the user's n-th attempt in the month
    zorgaanbieder: str
    behaviour: Behaviour


@dataclass(frozen=True)
class TruthAttempt:
    """One attempt as the simulator made it and as it really ended.

    ``outcome`` and ``reason`` are the ground truth, found without the PGO's word
    (:mod:`medmij_stack.wiring.truth`: ``basis`` says from what); ``claimed_*`` is what the
    PGO's outcome view told the person, kept beside it to be held against it."""

    user: int
    pgo: str
    device: Device
    month: Month
    zorgaanbieder: str
    behaviour: Behaviour
    outcome: Outcome | None
    reason: FailureReason | None
    flow_id: str | None = None
    seen: str = "none"  # json/html: the PGO's claim read on its page; none: abandoned
    without_dva: bool = False
    error: str | None = None
    expected: tuple[str, ...] = ()  # what the model allows: "succes" or a reason's value
    timings: tuple[tuple[str, float], ...] = ()
    basis: Basis = Basis.NONE
    observed: Observed = field(default_factory=Observed)
    claimed_outcome: Outcome | None = None
    claimed_reason: FailureReason | None = None
    claimed_situation: str | None = None
    started_at: datetime | None = None  # wall-clock time of the browser's first request
    ended_at: datetime | None = None
    faulty: bool = False  # overlapped a service the run took down

    @property
    def ending(self) -> str | None:
        return self.reason.value if self.reason else (self.outcome.value if self.outcome else None)

    @property
    def claimed_ending(self) -> str | None:
        if self.claimed_reason is not None:
            return self.claimed_reason.value
        return self.claimed_outcome.value if self.claimed_outcome else None

    @property
    def as_expected(self) -> bool:
        said = self.reason.value if self.reason else (self.outcome.value if self.outcome else "")
        return self.error is None and (not self.expected or said in self.expected)

    def to_json(self) -> dict[str, Any]:
        b = self.behaviour
        return {
            "user": self.user,
            "pgo": self.pgo,
            "device": self.device.value,
            "month": str(self.month),
            "zorgaanbieder": self.zorgaanbieder,
            "behaviour": {
                "landing": b.landing.value,
                "digid": b.digid.value,
                "consent": b.consent.value,
                "langdurig": b.langdurig,
                "abandon": b.abandon.value if b.abandon else None,
            },
            "flow_id": self.flow_id,
            "outcome": self.outcome.value if self.outcome else None,
            "reason": self.reason.value if self.reason else None,
            "step": self.reason.step.value if self.reason else None,
            "seen": self.seen,
            "without_dva": self.without_dva,
            "error": self.error,
            "expected": list(self.expected),
            "timings": [{"step": s, "seconds": round(t, 4)} for s, t in self.timings],
            "basis": self.basis.value,
            "observed": self.observed.to_json(),
            "pgo_claim": {
                "outcome": self.claimed_outcome.value if self.claimed_outcome else None,
                "reason": self.claimed_reason.value if self.claimed_reason else None,
                "situation": self.claimed_situation,
                "seen": self.seen,
            },
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "faulty": self.faulty,
        }


# --- the plan: everything drawn from the seed ---------------------------------------------


def _pgo_urls(info: Mapping[str, Any]) -> dict[str, str]:
    services = info.get("services") or {}
    return {
        label.split(":", 1)[1]: urls[0]
        for label, urls in services.items()
        if label.startswith("pgo:") and urls
    }


def population(scenario: Scenario, stack: StackInfo, users: int, seed: int) -> tuple[User, ...]:
    """``users`` persons: one demo account each, with a PGO and a device."""
    if users > len(stack.accounts):
        raise ScenarioError(
            f"{users} users, but the stack has {len(stack.accounts)} PGO accounts "
            "(one per test person: raise persons.count in the world)"
        )
    rng = random.Random(f"{seed}:population")  # noqa: S311 - a simulation, not security
    pgo_weights = {p.hostname: p.weight for p in scenario.pgo}
    result = []
    for index, account in enumerate(stack.accounts[:users]):
        person = stack.person(account.bsn or "")
        result.append(
            User(
                index=index,
                pgo=weighted(rng, pgo_weights),
                device=weighted(rng, scenario.population.devices),
                account=account,
                known_at=person.zorgaanbieders if person else (),
            )
        )
    return tuple(result)


def plan(
    scenario: Scenario, people: Sequence[User], months: Sequence[Month], seed: int
) -> list[list[PlannedAttempt]]:
    """Per month, the attempts in the order they are made; the same for the same seed."""
    steps = {p.hostname: p.steps for p in scenario.pgo}
    result = []
    for m_index, month in enumerate(months):
        attempts = []
        for user in people:
            rng = random.Random(f"{seed}:{user.index}:{m_index}")  # noqa: S311
            count = weighted(rng, scenario.population.attempts_per_month)
            for number in range(count):
                choices = scenario.choices(user.known_at)
                if not choices:
                    continue
                attempts.append(
                    PlannedAttempt(
                        user=user,
                        month=month,
                        number=number,
                        zorgaanbieder=weighted(rng, choices),
                        behaviour=steps[user.pgo].draw(rng),
                    )
                )
        random.Random(f"{seed}:order:{m_index}").shuffle(attempts)  # noqa: S311
        result.append(attempts)
    return result


def expected_endings(attempt: PlannedAttempt, world: World) -> tuple[str, ...]:
    """What the behaviour model allows the attempt to end with (empty: anything)."""
    b = attempt.behaviour
    za = next(
        (z for d in world.ours() for z in d.zorgaanbieder if z.naam == attempt.zorgaanbieder),
        None,
    )
    data = za is not None and za.deelt and attempt.zorgaanbieder in attempt.user.known_at
    after_consent: tuple[str, ...]
    if not data:
        after_consent = (FailureReason.CONSENT_DENIED.value, FailureReason.NO_DATA.value)
    elif za is not None and za.gedrag.foutkans + za.gedrag.timeoutkans >= 1.0:
        after_consent = (FailureReason.RESOURCE_ERROR.value,)
    elif za is not None and (za.gedrag.foutkans or za.gedrag.timeoutkans):
        after_consent = (Outcome.SUCCESS.value, FailureReason.RESOURCE_ERROR.value)
    else:
        after_consent = (Outcome.SUCCESS.value,)
    if b.abandon is Abandon.AT_SEARCH:
        return (FailureReason.ABANDONED_AT_SEARCH.value,)
    # With a langdurige toestemming from before, the PGO fetches without the DVA: the
    # choices at the DVA's screens never come up.
    at_dva: tuple[str, ...]
    if b.landing is AtLanding.CANCEL or b.abandon is not None or b.digid is AtDigid.CANCEL:
        at_dva = (FailureReason.DIGID_CANCELLED.value,)
    elif b.digid is AtDigid.FAIL:
        at_dva = (FailureReason.DIGID_FAILED.value,)
    elif b.consent is AtConsent.DENY:
        at_dva = (FailureReason.CONSENT_DENIED.value,)
    else:
        return after_consent
    return tuple(dict.fromkeys((*at_dva, *after_consent)))


# --- driving the patients ------------------------------------------------------------------


async def run_attempt(
    stack: StackInfo,
    planned: PlannedAttempt,
    expected: tuple[str, ...] = (),
    *,
    browsers: Browsers | None = None,
) -> TruthAttempt:
    """One attempt by one person: log in, search, go through the DVA.

    Without ``browsers`` in a fresh browser. With it, in the person's browser of their
    attempt before (:mod:`medmij_stack.wiring.patient.browsers`), whose PGO session may
    still be live: then logging in is opening the PGO and finding the overview."""
    user = planned.user
    base = TruthAttempt(
        user=user.index,
        pgo=user.pgo,
        device=user.device,
        month=planned.month,
        zorgaanbieder=planned.zorgaanbieder,
        behaviour=planned.behaviour,
        outcome=None,
        reason=None,
        expected=expected,
    )
    lending = (Browsers() if browsers is None else browsers).lend(
        (user.pgo, user.index), stack, user.account, device=user.device
    )
    began = datetime.now(UTC)
    async with lending as browser:
        patient = browser.patient
        first = len(patient.timings)  # a kept browser holds its earlier attempts' steps too
        try:
            result = await _log_in_and_fetch(patient, planned)
        except PgoUnreachable as exc:
            # The PGO went down with the attempt under way: the person saw the browser's
            # "cannot reach" page (truth.py: ``pgo_unreachable``). Once it answers again
            # they come back to see how that attempt went (truth.py: ``return-visit``).
            observed = observe_unreachable(exc.step.value if exc.step else None, exc.visited)
            flow_id = flow_of(exc.visited) or exc.flow_id
            visit = None if flow_id is None else await _come_back(patient, flow_id)
            claimed = visit is not None and visit.ended
            if visit is not None:
                observed = dataclasses.replace(
                    observed, returned_title=visit.message.title, returned_stage=visit.stage
                )
            return dataclasses.replace(
                base,
                error=str(exc),
                observed=observed,
                flow_id=flow_id,
                seen=visit.source if visit is not None and claimed else "none",
                claimed_outcome=visit.outcome if visit is not None else None,
                claimed_reason=visit.reason if visit is not None else None,
                claimed_situation=visit.situation if visit is not None else None,
                timings=tuple((t.step.value, t.seconds) for t in patient.timings[first:]),
                started_at=began,
                ended_at=datetime.now(UTC),
            )
        except PatientError as exc:
            return dataclasses.replace(
                base,
                error=str(exc),
                observed=Observed(stuck_at=exc.step.value if exc.step else None),
                timings=tuple((t.step.value, t.seconds) for t in exc.timings[first:]),
                started_at=began,
                ended_at=datetime.now(UTC),
            )
        # A search left without a choice stays open in the session: the person closed the
        # tab, and starts afresh next time.
        if browsers is not None and result.abandoned is not Abandon.AT_SEARCH:
            browser.keep()
        timings = patient.timings[first:]
    ended = datetime.now(UTC)
    observed = observe(result)
    # Until the DVA's records are read (settle), the truth rests on the model and the wire.
    ending, basis = judge(expected, observed)
    outcome, reason = ending_of(ending)
    claimed = result.abandoned is None
    return dataclasses.replace(
        base,
        outcome=outcome,
        reason=reason,
        basis=basis,
        observed=observed,
        flow_id=result.flow_id,
        seen=result.source,
        without_dva=result.without_dva,
        claimed_outcome=result.outcome if claimed else None,
        claimed_reason=result.reason if claimed else None,
        claimed_situation=result.situation if claimed else None,
        error=None if outcome is not None else _NO_ENDING,
        timings=tuple((t.step.value, t.seconds) for t in timings),
        started_at=began,
        ended_at=ended,
    )


# How long a person keeps reloading a PGO that does not answer before they go (a PGO
# restarted by its supervisor is back well within it).
_RELOAD_SECONDS = 300.0


async def _log_in_and_fetch(patient: ScriptedPatient, planned: PlannedAttempt) -> AttemptResult:
    """Log in and fetch; while the PGO does not answer at the login or the search page, the
    person reloads and starts again (logging in again if their session is gone). Before a
    zorgaanbieder is chosen nothing is half-done: the PGO hands the session's open search
    back, so a reload is the same attempt."""
    deadline = time.monotonic() + _RELOAD_SECONDS
    while True:
        try:
            await patient.log_in()
            return await patient.fetch(planned.zorgaanbieder, planned.behaviour)
        except PgoUnreachable as exc:
            if exc.step not in (Step.LOGIN, Step.SEARCH) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(1.0)


async def _come_back(patient: ScriptedPatient, flow_id: str) -> ReturnVisit | None:
    """The person whose page broke off reloads the PGO until it answers again (as at its
    login page), then reads attempt ``flow_id``'s outcome page; None when it did not come
    back in time, or the page could not be read (the truth then rests on the rules)."""
    deadline = time.monotonic() + _RELOAD_SECONDS
    while True:
        await asyncio.sleep(1.0)
        try:
            return await patient.look_back(flow_id)
        except PgoUnreachable:
            if time.monotonic() > deadline:
                return None
        except PatientError:
            return None


def settle(
    attempt: TruthAttempt, records: Mapping[str, FlowRecords], faults: Sequence[Fault] = ()
) -> TruthAttempt:
    """``attempt``'s truth with the DVA's own records of its flow, and the run's faults.

    A person stuck at a page is an error, except at a DVA page while a service was down:
    then they gave up there (:func:`medmij_stack.wiring.truth.judge`)."""
    faulty = any(f.overlaps(attempt.started_at, attempt.ended_at) for f in faults)
    if attempt.error is not None and not faulty:
        return attempt
    found = records.get(attempt.flow_id or "")
    observed = attempt.observed.with_records(found) if found else attempt.observed
    if observed.pgo_unreachable and not any(
        f.service.startswith("pgo:") and f.overlaps(attempt.started_at, attempt.ended_at)
        for f in faults
    ):
        # The PGO was up, only slow or at fault: a page the script could not get past.
        observed = dataclasses.replace(observed, pgo_unreachable=False)
    ending, basis = judge(attempt.expected, observed, faulty=faulty)
    outcome, reason = ending_of(ending)
    if attempt.error is not None and outcome is None:
        return dataclasses.replace(attempt, faulty=faulty)
    return dataclasses.replace(
        attempt,
        outcome=outcome,
        reason=reason,
        basis=basis,
        observed=observed,
        faulty=faulty,
        error=None if outcome is not None else _NO_ENDING,
    )


def attempt_mismatches(truth: Sequence[TruthAttempt], events: Sequence[FunnelEvent]) -> list[str]:
    """Attempt by attempt: the PGO's store (by flow id) and what the PGO told the person,
    held against the independent truth; and what the wire showed against a model that
    allows one ending only."""
    stored = {a.flow_id: a for a in fold_attempts(events)}
    problems: list[str] = []
    for attempt in truth:
        if attempt.error is not None:
            continue
        who = f"user {attempt.user} at {attempt.zorgaanbieder} (flow {attempt.flow_id})"
        if not attempt.faulty:
            disagreement = observed_disagrees(attempt.expected, attempt.observed)
            if disagreement:
                problems.append(f"{who}: {disagreement}")
        if attempt.basis is Basis.RETURN_VISIT:
            disagreement = return_visit_disagrees(attempt.observed)
            if disagreement:
                problems.append(f"{who}: {disagreement}")
        if attempt.seen != "none" and attempt.claimed_ending is None:
            problems.append(f"{who}: the PGO never told the person how it ended")
        elif attempt.claimed_ending is not None and attempt.claimed_ending != attempt.ending:
            problems.append(
                f"{who}: the PGO told the person {attempt.claimed_ending}, "
                f"the ground truth ({attempt.basis.value}) is {attempt.ending}"
            )
        if attempt.flow_id is None:
            continue  # left at the search: no flow id reached the browser
        store = stored.get(attempt.flow_id)
        if store is None:
            problems.append(f"{who}: not in the PGO's store")
            continue
        said = (
            store.reason.value if store.reason else (store.outcome.value if store.outcome else None)
        )
        if said != attempt.ending:
            problems.append(
                f"{who}: the PGO's store says {said}, "
                f"the ground truth ({attempt.basis.value}) is {attempt.ending}"
            )
    return problems


def _wave_times(month: Month, waves: int) -> list[datetime]:
    start = month.start(DUTCH_TIME)
    step = _SPREAD / max(waves, 1)
    return [start + _FIRST_WAVE + i * step for i in range(waves)]


# --- the stores and the figures ----------------------------------------------------------------


def read_funnel(database: Path) -> list[FunnelEvent]:
    """Every funnel event in a PGO's SQLite database (read-only)."""
    if not database.is_file():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        rows = connection.execute("SELECT event FROM funnel_events ORDER BY id").fetchall()
    return [FunnelEvent.from_json(json.loads(text)) for (text,) in rows]


def store_events(world: World, data_dir: Path) -> list[FunnelEvent]:
    """The funnel events of every PGO of ours in the stack of ``data_dir``."""
    events: list[FunnelEvent] = []
    for pgo in world.pgo:
        if not pgo.external:
            events += read_funnel(pgo_data_dir(world, pgo, data_dir) / "pgo.sqlite3")
    return events


@dataclass(frozen=True)
class Summary:
    """What must agree between the ground truth and the stores, per month: users by outcome,
    attempts by outcome, the process steps (reached, ended, reasons), failures per
    zorgaanbieder, step and reason, attempts per device and per PGO and outcome."""

    months: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"months": self.months}


def _empty_month() -> dict[str, Any]:
    return {
        "users_with_success": 0,
        "users_with_failure": 0,
        "users_with_both": 0,
        "attempts_succeeded": 0,
        "attempts_failed": 0,
        "attempts_unfinished": 0,
        "steps": {s.value: {"reached": 0, "ended": 0, "reasons": {}} for s in STEPS},
        "failures_by_zorgaanbieder": {},
        "attempts_by_device": {},
        "attempts_by_pgo": {},
    }


def truth_summary(truth: Iterable[TruthAttempt], months: Sequence[Month]) -> Summary:
    """Counted straight from the attempts the simulator made (not with the report code)."""
    result = {str(m): _empty_month() for m in months}
    users: dict[str, tuple[set[tuple[str, int]], set[tuple[str, int]]]] = defaultdict(
        lambda: (set(), set())
    )
    for attempt in truth:
        month = result[str(attempt.month)]
        who = (attempt.pgo, attempt.user)
        _count(month["attempts_by_device"], attempt.device.value)
        _count(month["attempts_by_pgo"], f"{attempt.pgo} {_ending(attempt.outcome)}")
        if attempt.outcome is None:
            month["attempts_unfinished"] += 1
            continue
        if attempt.outcome is Outcome.SUCCESS:
            month["attempts_succeeded"] += 1
            users[str(attempt.month)][0].add(who)
            last = len(STEPS)
        else:
            assert attempt.reason is not None
            month["attempts_failed"] += 1
            users[str(attempt.month)][1].add(who)
            last = STEPS.index(attempt.reason.step) + 1
            step = month["steps"][attempt.reason.step.value]
            step["ended"] += 1
            step["reasons"][attempt.reason.value] = step["reasons"].get(attempt.reason.value, 0) + 1
            # Who leaves at the search chose no zorgaanbieder: the PGO records none.
            chosen = (
                None
                if attempt.reason is FailureReason.ABANDONED_AT_SEARCH
                else attempt.zorgaanbieder
            )
            key = f"{chosen} {attempt.reason.step.value} {attempt.reason.value}"
            failures = month["failures_by_zorgaanbieder"]
            failures[key] = failures.get(key, 0) + 1
        for step_name in STEPS[:last]:
            month["steps"][step_name.value]["reached"] += 1
    for name, (succeeded, failed) in users.items():
        result[name]["users_with_success"] = len(succeeded)
        result[name]["users_with_failure"] = len(failed)
        result[name]["users_with_both"] = len(succeeded & failed)
    return Summary(_sorted(result))


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _ending(outcome: Outcome | None) -> str:
    return outcome.value if outcome is not None else "open"


def _sorted(months: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for month in months.values():
        for key in ("failures_by_zorgaanbieder", "attempts_by_device", "attempts_by_pgo"):
            month[key] = dict(sorted(month[key].items()))
        for step in month["steps"].values():
            step["reasons"] = dict(sorted(step["reasons"].items()))
    return months


def store_summary(
    events: Sequence[FunnelEvent], months: Sequence[Month]
) -> tuple[Summary, dict[str, int]]:
    """The same figures from the PGOs' own events, with the report code; and per month the
    retrievals the PGOs ran by themselves (langdurige toestemming), which are not compared."""
    period = Period(months[0], months[-1])
    figures = compute(events, (), period)
    attempts = [a for a in fold_attempts(events) if a.month in period]
    person = [a for a in attempts if a.initiator is Initiator.PERSON]
    result = {}
    system: dict[str, int] = {}
    for month in months:
        mine = [a for a in person if a.month == month]
        users = outcome_users(mine)
        steps = figures.month(month).span.steps  # over person-initiated attempts
        result[str(month)] = {
            "users_with_success": users.succeeded,
            "users_with_failure": users.failed,
            "users_with_both": users.both,
            "attempts_succeeded": users.attempts_succeeded,
            "attempts_failed": users.attempts_failed,
            "attempts_unfinished": users.attempts_unfinished,
            "steps": {
                s.step.value: {
                    "reached": s.reached,
                    "ended": s.ended,
                    "reasons": {r.value: n for r, n in s.reasons},
                }
                for s in steps.steps
            },
            "failures_by_zorgaanbieder": _failures(mine),
            "attempts_by_device": dict(Counter(a.device.value for a in mine)),
            "attempts_by_pgo": dict(Counter(f"{a.pgo} {_ending(a.outcome)}" for a in mine)),
        }
        system[str(month)] = sum(
            1 for a in attempts if a.month == month and a.initiator is Initiator.SYSTEM
        )
    return Summary(_sorted(result)), system


def _failures(attempts: Iterable[Attempt]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for a in attempts:
        if a.failed and a.reason is not None:
            counts[f"{a.zorgaanbieder} {a.reason.step.value} {a.reason.value}"] += 1
    return dict(counts)


def compare(truth: Summary, store: Summary) -> list[str]:
    """Every figure that differs, as ``month path: truth != store``; empty when equal."""
    problems: list[str] = []

    def walk(path: str, a: Any, b: Any) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(f"{path}.{key}" if path else key, a.get(key, 0), b.get(key, 0))
        elif a != b:
            problems.append(f"{path}: ground truth {a} != store {b}")

    walk("", truth.months, store.months)
    return problems


def report_mismatches(
    data_dir: Path,
    months: Sequence[Month],
    truth: Summary,
    out: Path,
    *,
    timeout: float = 1800.0,
) -> list[str]:
    """Run ``medmij report`` on the stack's stores and hold its ``figures.json`` against the
    ground truth: per month the process steps (over person-initiated attempts, as the report
    counts them) and the attempts persons started, by outcome and reason."""
    try:
        completed = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable, "-m", "medmij_stack.wiring", "report", "--data-dir", str(data_dir),
                "--from", str(months[0]), "--to", str(months[-1]), "--out", str(out),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return [f"medmij report: not done within {timeout:.0f} s, so not compared"]
    if completed.returncode != 0:
        return [f"medmij report: exit {completed.returncode}: {completed.stderr.strip()[-500:]}"]
    figures = json.loads((out / "figures.json").read_text("utf-8"))
    reported: dict[str, dict[str, Any]] = {}
    expected: dict[str, dict[str, Any]] = {}
    for month in figures["months"]:
        name = month["month"]
        person = next(
            (g for g in month["breakdowns"].get("initiator", []) if g["key"] == "person"), None
        )
        reported[name] = {
            "steps": {
                s["step"]: {"reached": s["reached"], "ended": s["ended"], "reasons": s["reasons"]}
                for s in month["steps"]["steps"]
            },
            "attempts_succeeded": person["succeeded"] if person else 0,
            "attempts_failed": person["failed"] if person else 0,
            "attempts_unfinished": person["unfinished"] if person else 0,
        }
    for name, month in truth.months.items():
        expected[name] = {
            key: month[key]
            for key in ("steps", "attempts_succeeded", "attempts_failed", "attempts_unfinished")
        }
    return [
        f"medmij report: {problem}" for problem in compare(Summary(expected), Summary(reported))
    ]


# --- a run -------------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    scenario: str
    users: int
    months: tuple[Month, ...]
    seed: int
    concurrency: int
    truth: list[TruthAttempt]
    truth_summary: Summary
    store_summary: Summary
    system_retrievals: dict[str, int]
    mismatches: list[str]
    unexpected: list[TruthAttempt]
    seconds: float
    timings: dict[str, list[float]] = field(default_factory=dict)
    completion: CompletionFigures | None = None  # from the ground truth
    completion_store: CompletionFigures | None = None  # from the PGOs' funnel events
    faults: list[Fault] = field(default_factory=list)

    @property
    def errors(self) -> list[TruthAttempt]:
        """Attempts a person could not get through (the script found no way on)."""
        return [a for a in self.truth if a.error is not None]

    @property
    def ok(self) -> bool:
        """The figures equal the ground truth and every attempt reached an end. An ending
        the model did not foresee (``unexpected``) is reported, not failed: it is what the
        services did, and the figures must still agree with it."""
        return not self.mismatches and not self.errors

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "ground_truth.jsonl").open("w", encoding="utf-8") as file:
            for attempt in self.truth:
                file.write(json.dumps(attempt.to_json(), ensure_ascii=False) + "\n")
        summary = {
            "scenario": self.scenario,
            "users": self.users,
            "months": [str(m) for m in self.months],
            "seed": self.seed,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "ground_truth": self.truth_summary.to_json(),
            "store": self.store_summary.to_json(),
            "system_retrievals": self.system_retrievals,
            "mismatches": self.mismatches,
            "unexpected": [a.to_json() for a in self.unexpected],
            "completed_every_step": self.completion.to_json() if self.completion else None,
            "completed_every_step_store": (
                self.completion_store.to_json() if self.completion_store else None
            ),
            "truth_basis": dict(Counter(a.basis.value for a in self.truth)),
            "faults": [f.to_json() for f in self.faults],
        }
        (out / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False), "utf-8"
        )


def _first_month(data_dir: Path, start: Month | None) -> Month:
    now = datetime.now(UTC) + read_offset(data_dir)
    earliest = Month.of(now).shifted(1)  # the clock never goes back
    if start is None:
        return earliest
    if start < earliest:
        raise ScenarioError(
            f"--start {start}: the virtual clock of this stack is at {Month.of(now)} and never "
            f"goes back; start at {earliest} or later"
        )
    return start


async def _wait_swept(funnel: FunnelReader, months: Sequence[Month]) -> None:
    """Until the PGOs' sweep has ended every attempt of these months (or a minute passed)."""
    deadline = time.monotonic() + _SWEEP_WAIT_SECONDS
    period = Period(months[0], months[-1])
    while time.monotonic() < deadline:
        # Only rows not read before, only flows that reach into these months: the wait
        # stays as short at month twelve as at month one.
        events = await asyncio.to_thread(funnel.since, months[0].start(DUTCH_TIME))
        if not any(a.unfinished for a in fold_attempts(events) if a.month in period):
            return
        await asyncio.sleep(0.5)


def patient_waits(world: World) -> dict[str, float]:
    """Per zorgaanbieder of the world, the seconds its resource server is expected to keep
    a request waiting on purpose (its gedrag: latency, and hangs times their chance)."""
    return {
        za.naam: za.gedrag.latentie_ms / 1000 + za.gedrag.timeoutkans * za.gedrag.timeout_seconden
        for dva in world.ours()
        for za in dva.zorgaanbieder
    }


def waiting_early(
    wave: Sequence[PlannedAttempt], waits: Mapping[str, float]
) -> list[PlannedAttempt]:
    """The wave's attempts in the order they start: those at a zorgaanbieder that keeps its
    patients waiting first, each followed by three others, then the rest in planned order.

    Why: a wave ends with its slowest attempt, and the clock may not move on before it. An
    attempt at a slow or hanging resource server (seconds of sleep) that started late kept
    both cores idle at the end of nearly every wave. Started early, its waiting overlaps
    the other attempts' work. Three others after each, so that at the wave's start not most
    patient slots hold a sleeper (one other each left the cores a third idle for seconds).
    In 500 users x 2 months of ``realistic`` at concurrency 8: busy 77% -> 86% of the
    machine, 545 -> 634 user-months a minute. Which attempts a wave holds, and at which
    moment of the virtual clock, is unchanged.
    """
    slow = sorted(
        (a for a in wave if waits.get(a.zorgaanbieder, 0.0) > 0),
        key=lambda a: waits[a.zorgaanbieder],
        reverse=True,
    )
    if not slow:
        return list(wave)
    rest = iter([a for a in wave if waits.get(a.zorgaanbieder, 0.0) <= 0])
    ordered: list[PlannedAttempt] = []
    for attempt in slow:
        ordered.append(attempt)
        ordered.extend(itertools.islice(rest, 3))
    ordered.extend(rest)
    return ordered


async def in_start_order(
    items: Sequence[_Item], run: Callable[[_Item], Awaitable[_Result]]
) -> AsyncIterator[_Result]:
    """``run`` for every item, started in the items' order; the results as they end.

    The tasks are made here, one by one: ``asyncio.as_completed`` given the coroutines makes
    its tasks from a set of them, so that they would queue for the patient slots in no
    order, and the order of a wave (:func:`waiting_early`) would be lost."""
    started = [asyncio.ensure_future(run(item)) for item in items]
    for ended in asyncio.as_completed(started):
        yield await ended


@dataclass
class Wave:
    """One wave of a month's attempts, as a :data:`WaveHook` sees it while it runs."""

    month: Month
    index: int  # within the month
    number: int  # within the run
    size: int
    done: int = 0  # attempts of the wave that have ended so far


WaveHook = Callable[[Wave], Coroutine[Any, Any, Sequence[Fault]]]
"""Runs beside each wave's attempts (fault injection: kill a service mid-wave and start it
again) and returns the faults it caused; the wave ends when both are done."""


async def simulate_on(
    data_dir: Path,
    scenario: Scenario,
    *,
    users: int,
    months: int,
    seed: int,
    concurrency: int = 8,
    start: Month | None = None,
    console: Console | None = None,
    during_wave: WaveHook | None = None,
) -> SimulationResult:
    """Run ``scenario`` on the running simulation stack of ``data_dir``.

    ``during_wave``: awaited beside every wave (see :data:`WaveHook`)."""
    stack = StackInfo.load(data_dir)
    info = json.loads((data_dir / "stack.json").read_text("utf-8"))
    if stack.world is None:
        raise StackError(f"{data_dir}/stack.json does not name its world")
    world = load_world(stack.world)
    scenario.check(world)
    urls = _pgo_urls(info)
    first = _first_month(data_dir, start)
    month_list = tuple(first.shifted(i) for i in range(months))
    people = population(scenario, stack, users, seed)
    schedule = plan(scenario, people, month_list, seed)
    stacks = {host: dataclasses.replace(stack, pgo=url.rstrip("/")) for host, url in urls.items()}
    truth: list[TruthAttempt] = []
    limit = asyncio.Semaphore(concurrency)
    total = sum(len(m) for m in schedule)
    began = time.perf_counter()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
    )

    # A person's PGO session lasts from their first attempt of a month to their last.
    browsers = Browsers()
    funnel = FunnelReader.of(world, data_dir)

    async def one(planned: PlannedAttempt) -> TruthAttempt:
        async with limit:
            return await run_attempt(
                stacks[planned.user.pgo],
                planned,
                expected_endings(planned, world),
                browsers=browsers,
            )

    faults: list[Fault] = []
    number = 0
    waits = patient_waits(world)
    with progress:
        task = progress.add_task(f"{scenario.name}: {users} users", total=total)
        for month, attempts in zip(month_list, schedule, strict=True):
            size = max(1, concurrency * _WAVE_FACTOR, -(-len(attempts) // _WAVES_PER_MONTH))
            waves = [
                waiting_early(attempts[i : i + size], waits) for i in range(0, len(attempts), size)
            ]
            for index, (moment, wave) in enumerate(
                zip(_wave_times(month, len(waves)), waves, strict=True)
            ):
                advance_to(data_dir, moment)
                progress.update(task, description=f"{scenario.name} {month}")
                state = Wave(month, index, number, len(wave))
                number += 1
                hook = asyncio.create_task(during_wave(state)) if during_wave else None
                async for ended in in_start_order(wave, one):
                    truth.append(ended)
                    state.done += 1
                    progress.advance(task)
                if hook is not None:
                    faults += await hook
            await browsers.close()
            advance_to(data_dir, month.start(DUTCH_TIME) + _MONTH_CLOSE)
            await _wait_swept(funnel, (month,))
    seconds = time.perf_counter() - began
    await asyncio.sleep(_RECORDS_WAIT_SECONDS)
    records = await asyncio.to_thread(read_flow_records, world, data_dir)
    truth = [settle(a, records, faults) for a in truth]
    events = await asyncio.to_thread(store_events, world, data_dir)
    truth.sort(key=lambda a: (str(a.month), a.pgo, a.user, a.flow_id or ""))
    expected = truth_summary(truth, month_list)
    observed, system = store_summary(events, month_list)
    timings: dict[str, list[float]] = defaultdict(list)
    for attempt in truth:
        for step, spent in attempt.timings:
            timings[step].append(spent)
    targets = {p.hostname: p.complete_target for p in scenario.pgo if p.complete_target is not None}
    complete_truth = completion_from_truth(truth, scenario.complete_target, targets)
    complete_store = completion_from_events(
        events, Period(month_list[0], month_list[-1]), scenario.complete_target, targets
    )
    mismatches = compare(expected, observed) + attempt_mismatches(truth, events)
    if complete_truth.counts() != complete_store.counts():
        mismatches.append(
            f"users completing every step (completed, users): ground truth "
            f"{complete_truth.counts()} != store {complete_store.counts()}"
        )
    return SimulationResult(
        scenario=scenario.name,
        users=users,
        months=month_list,
        seed=seed,
        concurrency=concurrency,
        truth=truth,
        truth_summary=expected,
        store_summary=observed,
        system_retrievals=system,
        mismatches=mismatches,
        unexpected=[a for a in truth if not a.as_expected],
        seconds=seconds,
        timings=dict(timings),
        completion=complete_truth,
        completion_store=complete_store,
        faults=faults,
    )


# --- a stack of its own ------------------------------------------------------------------------


@dataclass
class OwnStack:
    process: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_simulation_stack(
    world: World, base: Path, *, timeout: float = 180.0, log: Path | None = None
) -> OwnStack:
    """``medmij up`` with ``world`` (a simulation world) on free ports under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    world_file = save_world(world, base / "world.json")
    data_dir = base / "data"
    log_path = log or base / "up.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable, "-m", "medmij_stack.wiring", "up", "--free-ports",
                "--world", str(world_file), "--data-dir", str(data_dir),
                "--certs", str(base / "certs"), "--timeout", str(int(timeout)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "160"},
        )  # fmt: skip
    running = OwnStack(process, data_dir)
    deadline = time.monotonic() + timeout + 30
    while not (data_dir / "stack.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            tail = log_path.read_text("utf-8", errors="replace")[-3000:]
            raise StackError(f"medmij up did not start the simulation world:\n{tail}")
        time.sleep(0.2)
    return running


def simulation_world(scenario: Scenario, users: int, base_world: Path | None = None) -> World:
    return scenario.world.apply(load_world(base_world), minimum_persons=users)


# --- the command ---------------------------------------------------------------------------


def _print(console: Console, result: SimulationResult) -> None:
    table = Table(title=f"{result.scenario}: ground truth against the PGOs' own events")
    for column in ("month", "figure", "ground truth", "store", ""):
        table.add_column(column, justify="right" if column in ("ground truth", "store") else "left")
    for month, figures in result.truth_summary.months.items():
        store = result.store_summary.months.get(month, {})
        for name in ("users_with_success", "users_with_failure", "users_with_both"):
            same = figures[name] == store.get(name)
            table.add_row(
                month, name, str(figures[name]), str(store.get(name)), "=" if same else "≠"
            )
        for step, counts in figures["steps"].items():
            other = store.get("steps", {}).get(step, {})
            same = counts == other
            table.add_row(
                month,
                f"{step}: reached/ended",
                f"{counts['reached']}/{counts['ended']}",
                f"{other.get('reached')}/{other.get('ended')}",
                "=" if same else "≠",
            )
    console.print(table)
    console.print(
        f"{len(result.truth)} attempts in {result.seconds:.1f} s; retrievals the PGOs ran "
        f"by themselves (not compared): {sum(result.system_retrievals.values())}"
    )
    if result.completion is not None:
        _print_completion(console, result.completion)
    basis = Counter(a.basis.value for a in result.truth)
    console.print(
        "Ground truth taken from: " + ", ".join(f"{k} {n}" for k, n in sorted(basis.items()))
    )
    for problem in result.mismatches:
        console.print(f"[red]mismatch[/red] {problem}")
    for attempt in result.unexpected:
        console.print(
            f"[yellow]unexpected[/yellow] user {attempt.user} at {attempt.zorgaanbieder}: "
            f"{attempt.error or (attempt.reason or attempt.outcome)}, "
            f"the model allows {', '.join(attempt.expected)}"
        )


def _print_completion(console: Console, figures: CompletionFigures) -> None:
    table = Table(title="Users completing every step (search, DigiD, consent, data shown)")
    for column in ("PGO", "completed", "users", "share", "95% Wilson", "target", "within"):
        table.add_column(column, justify="left" if column == "PGO" else "right")
    rows = [*sorted(figures.per_pgo.items()), ("all PGOs", figures.overall)]
    for name, c in rows:
        low, high = c.interval
        within = c.target_within
        table.add_row(
            name,
            str(c.completed),
            str(c.users),
            f"{c.share:.1%}",
            f"{low:.1%} – {high:.1%}",
            "" if c.target is None else f"{c.target:.1%}",
            "" if within is None else ("yes" if within else "[red]no[/red]"),
        )
    console.print(table)


def simulate(
    users: Annotated[int, typer.Option("--users", min=1, help="Synthetic users.")] = 20,
    months: Annotated[int, typer.Option("--months", min=1, max=120, help="Months.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Everything drawn follows it.")] = 1,
    scenario: Annotated[
        str, typer.Option("--scenario", help="A shipped scenario's name or a TOML file.")
    ] = "realistic",
    out: Annotated[
        Path, typer.Option("--out", help="Where ground_truth.jsonl and summary.json go.")
    ] = Path("simulation"),
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="A running simulation stack to use (medmij up with a world that has "
            "simulation = true). Default: start one with the scenario's world under --out.",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Patients at once.")
    ] = 8,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First month (YYYY-MM); default: after the clock's."),
    ] = None,
    startup_timeout: Annotated[
        float,
        typer.Option(
            "--startup-timeout",
            min=10,
            help="Seconds to wait for the stack of its own to start (a PGO makes one demo "
            "account per user: a large population takes a while).",
        ),
    ] = 600.0,
) -> None:
    """Drive a synthetic population through the stack over months of virtual time, and
    check the figures from the services' own events against the ground truth."""
    console = Console()
    err = Console(stderr=True)
    own: OwnStack | None = None
    try:
        chosen = load_scenario(scenario)
        first = Month.parse(start) if start else None
        if data_dir is None:
            world = simulation_world(chosen, users)
            console.print(f"Starting the simulation world of {chosen.name}…")
            own = start_simulation_stack(world, out.resolve() / "stack", timeout=startup_timeout)
            data_dir = own.data_dir
        result = event_loop.run(
            simulate_on(
                data_dir.resolve(),
                chosen,
                users=users,
                months=months,
                seed=seed,
                concurrency=concurrency,
                start=first,
                console=console,
            )
        )
    except (ScenarioError, StackError, WorldError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        if own is not None:
            own.stop()
    # Written before medmij report runs (which takes minutes on a large population), and
    # again with its verdict.
    result.write(out)
    # medmij report reads the same stores with its own code: its figures must agree too.
    from_report = report_mismatches(
        data_dir.resolve(), result.months, result.truth_summary, out / "report"
    )
    result.mismatches += from_report
    result.write(out)
    _print(console, result)
    if not from_report:
        console.print(f"medmij report ({out / 'report'}) agrees with the ground truth")
    console.print(f"Ground truth: {out / 'ground_truth.jsonl'}; summary: {out / 'summary.json'}")
    if not result.ok:
        raise typer.Exit(1)
