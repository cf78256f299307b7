"""A simulation's months are the same months at the DVA and at the PGO.

A small ``medmij simulate`` run (the baseline scenario, where every step succeeds, three
users, two months) on a stack of its own: the months lie in the virtual future, and every
service reads the virtual clock (medmij_stack.runtime.clock), so ``medmij report``'s
reconciliation of what the DVA sent against what the PGO received agrees in every month:
the same counts on both sides, every record matched, and none of them outside the months.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month
from medmij_stack.wiring.clock import read_offset
from medmij_stack.wiring.scenarios import load_scenario
from medmij_stack.wiring.simulate import (
    OwnStack,
    report_mismatches,
    simulate_on,
    simulation_world,
    start_simulation_stack,
)

SCENARIO = "baseline"
USERS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    world = simulation_world(load_scenario(SCENARIO), users=USERS)
    running = start_simulation_stack(world, tmp_path_factory.mktemp("reconcile"), timeout=120)
    yield running
    running.stop()


def test_the_dva_and_the_pgo_count_the_same_in_every_virtual_month(
    stack: OwnStack, tmp_path: Path
) -> None:
    result = asyncio.run(
        simulate_on(
            stack.data_dir, load_scenario(SCENARIO), users=USERS, months=2, seed=7, concurrency=2
        )
    )
    assert result.truth, "the scenario made no attempts"
    assert result.mismatches == []
    assert read_offset(stack.data_dir) > timedelta(0)  # the months are in the virtual future
    out = tmp_path / "report"
    assert report_mismatches(stack.data_dir, result.months, result.truth_summary, out) == []
    figures = json.loads((out / "figures.json").read_text("utf-8"))
    reconciliation = figures["reconciliation"]
    months = {str(month) for month in result.months}
    totals = reconciliation["totals"]
    assert {t["month"] for t in totals} == months
    for month in months:
        sent = {t["kind"]: t["dva"] for t in totals if t["month"] == month}
        # The DVA's records of the month's retrievals are in that month, not in the real one.
        assert sent["codes"] > 0, month
        assert sent["tokens"] > 0, month
        assert sent["resource_answers"] > 0, month
    assert [t for t in totals if not t["agrees"]] == []
    assert [line for line in reconciliation["lines"] if not line["agrees"]] == []
    assert reconciliation["agrees"] is True
    # The report is made at the stack's time too: the virtual one, in the last month run.
    made_at = datetime.fromisoformat(figures["made_at"])
    assert Month.of(made_at, DUTCH_TIME) == result.months[-1]
