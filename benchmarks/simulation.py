"""Throughput of ``medmij simulate``: simulated user-months per minute, retrievals per second.

Starts the scenario's simulation world with ``medmij up`` on free ports (its start-up timed
apart), runs the population through it (:func:`medmij_stack.wiring.simulate.simulate_on`)
and prints, as JSON: the machine, the world, the concurrency, the run's wall time, user-months
per minute, attempts and complete (successful) retrievals per second, the patient's seconds
per step (p50/p95/p99), and whether the figures equalled the ground truth.

    .venv/bin/python benchmarks/simulation.py --users 40 --months 2 --scenario realistic
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
from machine import machine_jiffies

from medmij_stack.protocol.funnel import Outcome
from medmij_stack.runtime import event_loop
from medmij_stack.wiring.scenarios import load_scenario
from medmij_stack.wiring.simulate import simulate_on, simulation_world, start_simulation_stack


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        only = values[0] if values else 0.0
        return {"n": len(values), "p50": only, "p95": only, "p99": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "n": len(values),
        "p50": round(cuts[49], 3),
        "p95": round(cuts[94], 3),
        "p99": round(cuts[98], 3),
    }


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _role_cpu(stack_pid: int) -> dict[str, float]:
    """CPU seconds so far per process kind: each role (its workers together), the stack's
    own process and this one (the simulator), so a run shows where its CPU went."""
    totals: dict[str, float] = {}
    stack = psutil.Process(stack_pid)
    for process in [stack, *stack.children(recursive=True)]:
        try:
            arguments = process.cmdline()
            times = process.cpu_times()
        except psutil.Error:
            continue
        if "serve" in arguments:
            at = arguments.index("serve")
            name = " ".join(arguments[at + 1 : at + 2])
            for flag in ("--pgo", "--dva"):
                if flag in arguments:
                    name += " " + arguments[arguments.index(flag) + 1]
        else:
            name = "medmij up"
        totals[name] = totals.get(name, 0.0) + times.user + times.system
    own = psutil.Process().cpu_times()
    totals["simulator"] = own.user + own.system
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", default="realistic")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="Keep the run here (JSON).")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    world = simulation_world(scenario, args.users)
    with tempfile.TemporaryDirectory(prefix="medmij-simulation-") as folder:
        began = time.perf_counter()
        stack = start_simulation_stack(world, Path(folder), timeout=600)
        startup = time.perf_counter() - began
        busy_before, total_before = machine_jiffies()
        before = _role_cpu(stack.process.pid)
        try:
            result = event_loop.run(
                simulate_on(
                    stack.data_dir,
                    scenario,
                    users=args.users,
                    months=args.months,
                    seed=args.seed,
                    concurrency=args.concurrency,
                )
            )
            busy_after, total_after = machine_jiffies()
            after = _role_cpu(stack.process.pid)
        finally:
            stack.stop()
    minutes = result.seconds / 60
    # The whole machine over the run and its reading of the stores: what bounds the rate
    # when its cores were (nearly) always busy (benchmarks/machine.py).
    busy = busy_after - busy_before
    cores = os.cpu_count() or 1
    user_months = args.users * args.months
    succeeded = sum(1 for a in result.truth if a.outcome is Outcome.SUCCESS)
    report = {
        "machine": _machine(),
        "world": {
            "scenario": scenario.name,
            "pgos": [p.hostname for p in world.pgo if not p.external],
            "zorgaanbieders": [za.naam for d in world.ours() for za in d.zorgaanbieder],
            "persons": world.persons.count,
        },
        "users": args.users,
        "months": args.months,
        "seed": args.seed,
        "concurrency": args.concurrency,
        "startup_seconds": round(startup, 1),
        "run_seconds": round(result.seconds, 1),
        "attempts": len(result.truth),
        "complete_retrievals": succeeded,
        "user_months_per_minute": round(args.users * args.months / minutes, 2),
        "attempts_per_second": round(len(result.truth) / result.seconds, 3),
        "complete_retrievals_per_second": round(succeeded / result.seconds, 3),
        "seconds_per_step": {
            step: _percentiles(sorted(values)) for step, values in sorted(result.timings.items())
        },
        "figures_equal_ground_truth": not result.mismatches,
        "ground_truth_basis": dict(Counter(a.basis.value for a in result.truth)),
        "completed_every_step": result.completion.to_json() if result.completion else None,
        "attempts_without_an_end": len(result.errors),
        "system_retrievals": sum(result.system_retrievals.values()),
        "machine_busy_share": round(busy / max(total_after - total_before, 1e-9), 3),
        "machine_cpu_seconds_per_attempt": round(busy / max(len(result.truth), 1), 3),
        "user_months_per_minute_the_cores_allow": round(cores * 60 * user_months / busy, 1),
        "cpu_ms_per_attempt_by_process": {
            name: round(1000 * (seconds - before.get(name, 0.0)) / max(len(result.truth), 1), 1)
            for name, seconds in sorted(after.items())
        },
    }
    if args.out is not None:
        result.write(args.out)
        (args.out / "benchmark.json").write_text(json.dumps(report, indent=2), "utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
