"""`medmij simulate` against one `medmij up` of the realistic scenario's simulation world.

The stack runs the world of ``realistic`` (two PGOs, a zorgaanbieder whose resource server is
down, one that is slow and sometimes hangs), once for the module; the runs follow each other
on it in later months of its virtual clock. What the simulator did (the ground truth) must
equal the figures computed from the PGOs' own funnel events, month by month.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from medmij_stack.protocol.funnel import FailureReason, Outcome, ProcessStep
from medmij_stack.wiring.clock import ClockError, VirtualClock, advance_to, read_offset
from medmij_stack.wiring.completion import wilson
from medmij_stack.wiring.patient import StackInfo
from medmij_stack.wiring.scenarios import load_scenario, scenario_names
from medmij_stack.wiring.simulate import (
    OwnStack,
    SimulationResult,
    in_start_order,
    patient_waits,
    plan,
    population,
    report_mismatches,
    simulate_on,
    simulation_world,
    start_simulation_stack,
    waiting_early,
)
from medmij_stack.wiring.world import World, load_world

FAILING = "storingdemo@medmij"


@pytest.fixture(scope="module")
def simulation_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    world = simulation_world(load_scenario("realistic"), users=6)
    running = start_simulation_stack(world, tmp_path_factory.mktemp("simulation"), timeout=300)
    yield running
    running.stop()


def _run(stack: OwnStack, scenario: str, users: int, months: int, seed: int) -> SimulationResult:
    return asyncio.run(
        simulate_on(
            stack.data_dir,
            load_scenario(scenario),
            users=users,
            months=months,
            seed=seed,
            concurrency=4,
        )
    )


def _assert_agrees(result: SimulationResult) -> None:
    assert result.truth, "the scenario made no attempts"
    assert [a.error for a in result.errors] == []
    assert result.mismatches == []
    assert result.truth_summary == result.store_summary
    assert [m for m in result.store_summary.months.values() if m["attempts_unfinished"]] == []


def test_baseline_figures_equal_the_ground_truth(simulation_stack: OwnStack) -> None:
    result = _run(simulation_stack, "baseline", users=6, months=2, seed=11)
    _assert_agrees(result)
    months = result.store_summary.months
    assert len(months) == 2
    for figures in months.values():
        steps = figures["steps"]
        # Nobody drops out on the way: every attempt reaches the exchange.
        assert steps["zorgaanbieder-zoeken"]["ended"] == 0
        assert steps["digid"]["ended"] == 0
        assert (
            steps["uitwisseling"]["reached"]
            == figures["attempts_succeeded"] + figures["attempts_failed"]
        )
    assert sum(m["users_with_success"] for m in months.values()) > 0


def test_realistic_figures_equal_the_ground_truth(
    simulation_stack: OwnStack, tmp_path: Path
) -> None:
    result = _run(simulation_stack, "realistic", users=6, months=2, seed=5)
    _assert_agrees(result)
    result.write(tmp_path)
    lines = (tmp_path / "ground_truth.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == len(result.truth)
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))
    assert summary["ground_truth"] == summary["store"]
    # Both PGOs of the scenario were used, each with its own store, and the device mix is
    # what the PGOs recorded (app, pc or web; system retrievals are not the simulator's).
    assert {a.pgo for a in result.truth} <= {"pgo.localhost", "tweede.pgo.localhost"}
    for figures in result.store_summary.months.values():
        assert set(figures["attempts_by_device"]) <= {"app", "pc", "web"}
        assert sum(figures["attempts_by_device"].values()) == sum(
            figures["attempts_by_pgo"].values()
        )
    # The truth never rests on the PGO's page here: the model, the browser, the DVA's answer
    # on the redirect URI or the resource server's own answers (the slow zorgaanbieder's
    # hangs are random) say how each attempt ended; the PGO's claim is written beside it.
    assert {a.basis.value for a in result.truth} <= {
        "model", "browser", "callback", "resource-server", "authserver"
    }  # fmt: skip
    first = json.loads(lines[0])
    assert {"outcome", "reason", "expected", "basis", "observed", "pgo_claim"} <= set(first)
    # medmij report, reading the same stores with its own code, agrees as well.
    report = tmp_path / "report"
    assert (
        report_mismatches(simulation_stack.data_dir, result.months, result.truth_summary, report)
        == []
    )
    assert (report / "figures.json").is_file()


def test_a_failing_zorgaanbieder_fails_at_the_exchange(
    simulation_stack: OwnStack, tmp_path: Path
) -> None:
    scenario = tmp_path / "storing.toml"
    scenario.write_text(
        "[scenario]\nonly_known = true\n"
        "[population]\nattempts_per_month = [0.0, 1.0]\n"
        f'[zorgaanbieders]\n"{FAILING}" = 1.0\n'
        '[[pgo]]\nhostname = "pgo.localhost"\n',
        "utf-8",
    )
    result = asyncio.run(
        simulate_on(
            simulation_stack.data_dir,
            load_scenario(str(scenario)),
            users=4,
            months=1,
            seed=2,
            concurrency=4,
        )
    )
    _assert_agrees(result)
    at_failing = [a for a in result.truth if a.zorgaanbieder == FAILING]
    assert at_failing, "no user is known at the failing zorgaanbieder"
    assert {(a.outcome, a.reason) for a in at_failing} == {
        (Outcome.FAILURE, FailureReason.RESOURCE_ERROR)
    }
    (figures,) = result.store_summary.months.values()
    key = f"{FAILING} {ProcessStep.UITWISSELING.value} {FailureReason.RESOURCE_ERROR.value}"
    assert figures["failures_by_zorgaanbieder"][key] == len(at_failing)
    assert figures["steps"]["uitwisseling"]["reasons"] == {"resource-fout": len(at_failing)}


# --- without a stack -------------------------------------------------------------------------


def test_the_virtual_clock_follows_the_file_and_never_goes_back(tmp_path: Path) -> None:
    clock = VirtualClock(tmp_path)
    assert abs(clock() - datetime.now(UTC)) < timedelta(seconds=5)
    target = datetime(2031, 5, 1, tzinfo=UTC)
    advance_to(tmp_path, target)
    assert abs(clock() - target) < timedelta(seconds=5)
    assert read_offset(tmp_path) > timedelta(days=365)
    with pytest.raises(ClockError, match="never goes back"):
        advance_to(tmp_path, target - timedelta(days=1))
    (tmp_path / "virtual-clock.json").write_text('{"offset_seconds": "soon"}', "utf-8")
    with pytest.raises(ClockError, match="not a number"):
        clock()


def test_a_simulation_world_must_be_a_development_world() -> None:
    data = load_world().model_dump(mode="python")
    data["world"].update(simulation=True, development=False)
    with pytest.raises(ValidationError, match="simulation = true needs development = true"):
        World.model_validate(data)


def test_medmij_up_refuses_a_simulation_world_outside_development(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medmij_stack.wiring.cli import app

    text = (
        (Path(__file__).resolve().parents[2] / "services/medmij_stack/wiring/worlds/default.toml")
        .read_text("utf-8")
        .replace("development = true", "development = false\nsimulation = true")
    )
    world = tmp_path / "world.toml"
    world.write_text(text, "utf-8")
    outcome = CliRunner().invoke(app, ["up", "--world", str(world), "--data-dir", str(tmp_path)])
    assert outcome.exit_code == 2
    assert "simulation = true needs development = true" in outcome.output
    assert not (tmp_path / "stack.json").exists()


def test_medmij_up_refuses_a_data_dir_a_simulation_moved_ahead(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medmij_stack.wiring.cli import app

    advance_to(tmp_path, datetime.now(UTC) + timedelta(days=400))
    outcome = CliRunner().invoke(app, ["up", "--free-ports", "--data-dir", str(tmp_path)])
    assert outcome.exit_code == 2
    said = " ".join(outcome.output.split())  # the console wraps long lines
    assert "was used by `medmij simulate`" in said
    assert "Use a fresh --data-dir" in said
    assert not (tmp_path / "stack.json").exists()

    (tmp_path / "virtual-clock.json").write_text("{not json", "utf-8")
    outcome = CliRunner().invoke(app, ["up", "--free-ports", "--data-dir", str(tmp_path)])
    assert outcome.exit_code == 2
    assert "cannot be read" in " ".join(outcome.output.split())


def test_every_shipped_scenario_fits_its_world() -> None:
    assert {"baseline", "realistic", "kantar-2022"} <= set(scenario_names())
    for name in scenario_names():
        scenario = load_scenario(name)
        world = simulation_world(scenario, users=3)
        scenario.check(world)
        assert world.world.simulation


def test_a_simulation_world_runs_one_worker_per_role_unless_its_world_asks_for_more(
    tmp_path: Path,
) -> None:
    from medmij_stack.wiring.roles import instance_workers, role_instances

    scenario = load_scenario("realistic")
    world = simulation_world(scenario, users=3)
    assert {instance_workers(world, i) for i in role_instances(world)} == {1}
    # A world that sets a role's workers keeps them; --workers still wins over both.
    base = load_world(None).model_dump(mode="json")
    base["workers"] = {"pgo": 3}
    (tmp_path / "world.json").write_text(json.dumps(base), "utf-8")
    asked = simulation_world(scenario, users=3, base_world=tmp_path / "world.json")
    by_role = {i.role.value: instance_workers(asked, i) for i in role_instances(asked)}
    assert by_role["pgo"] == 3
    assert by_role["authserver"] == by_role["zorgaanbieder"] == 1
    assert (
        instance_workers(
            world, next(i for i in role_instances(world) if i.role.value == "pgo"), asked=2
        )
        == 2
    )


def _stack_info(world: World) -> StackInfo:
    from medmij_stack.wiring.demo_accounts import demo_logins

    where = world.person_zorgaanbieders()
    return StackInfo.from_json(
        {
            "pgo": "https://pgo.localhost:1",
            "ca": "/nonexistent",
            "digid_test_persons": [
                {"bsn": p.bsn, "name": p.name, "zorgaanbieders": list(where.get(p.bsn, ()))}
                for p in world.persons_list()
            ],
            "pgo_accounts": [login.to_json() for login in demo_logins(world)],
        }
    )


def test_the_plan_follows_the_seed_alone() -> None:
    from medmij_stack.protocol.reporting.months import Month

    scenario = load_scenario("kantar-2022")
    world = simulation_world(scenario, users=40)
    stack = _stack_info(world)
    months = (Month(2030, 1), Month(2030, 2))

    def drawn(seed: int) -> list[list[tuple[int, str, str, object]]]:
        people = population(scenario, stack, 40, seed)
        return [
            [(a.user.index, a.user.pgo, a.zorgaanbieder, a.behaviour) for a in month]
            for month in plan(scenario, people, months, seed)
        ]

    assert drawn(7) == drawn(7)
    assert drawn(7) != drawn(8)
    # kantar-2022: one attempt per user per month, spread over its three PGOs.
    assert all(len(month) == 40 for month in drawn(7))
    assert len({pgo for month in drawn(7) for _, pgo, _, _ in month}) == 3


def test_users_completing_every_step_from_the_stores_equal_the_ground_truth(
    simulation_stack: OwnStack, tmp_path: Path
) -> None:
    scenario = tmp_path / "complete.toml"
    scenario.write_text(
        "[scenario]\nonly_known = true\ncomplete_target = 0.5\n"
        "[population]\nattempts_per_month = [0.0, 1.0]\n"
        '[zorgaanbieders]\n"ziekenhuisdemo@medmij" = 1.0\n'
        '[[pgo]]\nhostname = "pgo.localhost"\ncomplete_target = 0.6\n'
        "[pgo.steps]\nabandon_search = 0.3\nconsent_deny = 0.2\n"
        '[[pgo]]\nhostname = "tweede.pgo.localhost"\n',
        "utf-8",
    )
    result = asyncio.run(
        simulate_on(
            simulation_stack.data_dir,
            load_scenario(str(scenario)),
            users=6,
            months=1,
            seed=4,
            concurrency=4,
        )
    )
    _assert_agrees(result)
    assert result.completion is not None
    assert result.completion_store is not None
    assert result.completion.counts() == result.completion_store.counts()
    users = {(a.pgo, a.user) for a in result.truth}
    completed = {(a.pgo, a.user) for a in result.truth if a.outcome is Outcome.SUCCESS}
    overall = result.completion.overall
    assert (overall.completed, overall.users) == (len(completed), len(users))
    assert overall.interval == wilson(len(completed), len(users))
    assert overall.target == 0.5
    targets = {pgo: c.target for pgo, c in result.completion.per_pgo.items()}
    assert targets.get("pgo.localhost", 0.6) == 0.6
    assert targets.get("tweede.pgo.localhost") is None
    result.write(tmp_path / "out")
    written = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))
    low, high = overall.interval
    assert written["completed_every_step"]["overall"]["wilson_95"] == [
        round(low, 4),
        round(high, 4),
    ]
    assert written["completed_every_step"] == written["completed_every_step_store"]


def test_a_wave_starts_its_attempts_in_its_order() -> None:
    """One patient slot: the attempts must take it in the wave's order, not in the order
    of a set of coroutines (what ``asyncio.as_completed`` made of them)."""
    started: list[int] = []

    async def main() -> list[int]:
        slot = asyncio.Semaphore(1)

        async def attempt(item: int) -> int:
            async with slot:
                started.append(item)
                await asyncio.sleep(0)
                return item

        return [ended async for ended in in_start_order(range(60), attempt)]

    ended = asyncio.run(main())
    assert started == list(range(60))
    assert sorted(ended) == list(range(60))


def test_attempts_at_a_zorgaanbieder_that_keeps_patients_waiting_start_first() -> None:
    """In ``realistic`` the slow, sometimes hanging zorgaanbieder's attempts open each wave,
    each followed by three others; the wave keeps every attempt, the rest in planned order."""
    from medmij_stack.protocol.reporting.months import Month

    scenario = load_scenario("realistic")
    world = simulation_world(scenario, users=200)
    waits = patient_waits(world)
    assert waits["traagdemo@medmij"] == pytest.approx(0.3 + 0.1 * 2.0)
    assert waits["ziekenhuisdemo@medmij"] == 0.0
    people = population(scenario, _stack_info(world), 200, 3)
    [wave] = plan(scenario, people, (Month(2030, 1),), 3)
    slow = [a for a in wave if a.zorgaanbieder == "traagdemo@medmij"]
    assert 0 < len(slow) < len(wave) // 4
    ordered = waiting_early(wave, waits)
    assert sorted(map(id, ordered)) == sorted(map(id, wave))
    assert ordered[: 4 * len(slow) : 4] == slow
    rest = [a for a in ordered if a.zorgaanbieder != "traagdemo@medmij"]
    assert rest == [a for a in wave if a.zorgaanbieder != "traagdemo@medmij"]
    assert waiting_early(rest, waits) == rest
