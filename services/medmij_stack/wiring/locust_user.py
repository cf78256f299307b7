"""A Locust user that retrieves through the PGO as a person does: the scripted patient.

Each task is one attempt of ``medmij simulate``
(:func:`medmij_stack.wiring.simulate.run_attempt`): a fresh browser logs in to the user's
PGO, searches a zorgaanbieder, goes through the DVA's landing page, DigiD and the
toestemmingsverklaring as the scenario draws it, and reads the outcome. Every step is
reported to Locust as a request of type ``STEP`` (its time), and the attempt as one of type
``ATTEMPT`` named after how it ended; only an attempt the person could not get through
(the script found no way on) counts as a Locust failure: a refused consent is an outcome.

The patient is asyncio; Locust runs on gevent, where two event loops cannot run in one
thread's greenlets. Each attempt runs with :func:`asyncio.run` on a thread of gevent's
thread pool, which the user's greenlet waits for cooperatively.

Configuration (environment, so that every worker of a distributed run reads the same):

``MEDMIJ_STACK_JSON``   the stack.json of the stack to load (default ``data/stack.json``);
                        its CA file must be readable where the worker runs
``MEDMIJ_SCENARIO``     a shipped scenario's name or a TOML file (default ``realistic``)
``MEDMIJ_SEED``         the seed of the draws (default 1)
``MEDMIJ_WAIT``         seconds between a user's attempts, ``min,max`` (default ``1,3``)
``MEDMIJ_THREADS``      the most attempts running at once per worker (default 64)

Run it with ``locust -f benchmarks/locustfile.py`` (the ``load`` extra installs locust).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import gevent
from locust import User, between, task

from medmij_stack.protocol.reporting.months import Month

from .patient import StackInfo
from .scenarios import Scenario, load_scenario, weighted
from .simulate import PlannedAttempt, TruthAttempt, run_attempt
from .simulate import User as SimulatedUser

__all__ = ["PatientUser", "settings"]


def _wait() -> tuple[float, float]:
    low, _, high = os.environ.get("MEDMIJ_WAIT", "1,3").partition(",")
    return float(low), float(high or low)


@cache
def settings() -> tuple[StackInfo, dict[str, StackInfo], Scenario, int]:
    """The stack, a copy of it per PGO (its own URL), the scenario and the seed."""
    path = Path(os.environ.get("MEDMIJ_STACK_JSON", "data/stack.json"))
    if path.name != "stack.json":
        raise RuntimeError(f"MEDMIJ_STACK_JSON must name a stack.json, not {path}")
    stack = StackInfo.load(path.parent)
    services = json.loads(path.read_text("utf-8")).get("services") or {}
    per_pgo = {
        label.split(":", 1)[1]: StackInfo(
            pgo=urls[0].rstrip("/"),
            ca=stack.ca,
            hosts=stack.hosts,
            persons=stack.persons,
            accounts=stack.accounts,
            world=stack.world,
            source=stack.source,
        )
        for label, urls in services.items()
        if label.startswith("pgo:") and urls
    }
    scenario = load_scenario(os.environ.get("MEDMIJ_SCENARIO", "realistic"))
    missing = [p.hostname for p in scenario.pgo if p.weight and p.hostname not in per_pgo]
    if missing:
        raise RuntimeError(f"the stack runs no PGO {', '.join(missing)} of the scenario")
    pool = gevent.get_hub().threadpool
    pool.maxsize = max(pool.maxsize, int(os.environ.get("MEDMIJ_THREADS", "64")))
    return stack, per_pgo, scenario, int(os.environ.get("MEDMIJ_SEED", "1"))


_numbers = itertools.count()


class PatientUser(User):
    """One person with a PGO account, retrieving again and again."""

    wait_time = between(*_wait())

    def on_start(self) -> None:
        stack, per_pgo, scenario, seed = settings()
        # A worker's users take accounts after the previous workers' (worker_index is 0 on
        # a local run), so a distributed run spreads them over every account.
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        number = next(_numbers) + worker * 10_000
        account = stack.accounts[number % len(stack.accounts)]
        self._rng = random.Random(f"{seed}:locust:{number}")  # noqa: S311 - load, not security
        person = stack.person(account.bsn or "")
        self._user = SimulatedUser(
            index=number,
            pgo=weighted(self._rng, {p.hostname: p.weight for p in scenario.pgo}),
            device=weighted(self._rng, scenario.population.devices),
            account=account,
            known_at=person.zorgaanbieders if person else (),
        )
        self._stack = per_pgo[self._user.pgo]
        self._scenario = scenario

    def _planned(self) -> PlannedAttempt | None:
        choices = self._scenario.choices(self._user.known_at)
        if not choices:
            return None
        steps = next(p.steps for p in self._scenario.pgo if p.hostname == self._user.pgo)
        return PlannedAttempt(
            user=self._user,
            month=Month.of(datetime.now(UTC)),
            number=0,
            zorgaanbieder=weighted(self._rng, choices),
            behaviour=steps.draw(self._rng),
        )

    @task
    def retrieve(self) -> None:
        planned = self._planned()
        if planned is None:
            return
        began = time.perf_counter()
        pool = gevent.get_hub().threadpool
        result: TruthAttempt = pool.apply(asyncio.run, (run_attempt(self._stack, planned),))
        fire = self.environment.events.request.fire
        for step, seconds in result.timings:
            fire(**_request("STEP", step, seconds, None))
        ending = (
            result.reason.value
            if result.reason
            else (result.outcome.value if result.outcome else "no-end")
        )
        error = None if result.error is None else RuntimeError(result.error)
        fire(**_request("ATTEMPT", ending, time.perf_counter() - began, error))


def _request(kind: str, name: str, seconds: float, error: Exception | None) -> dict[str, Any]:
    return {
        "request_type": kind,
        "name": name,
        "response_time": seconds * 1000,
        "response_length": 0,
        "exception": error,
        "context": {},
    }
