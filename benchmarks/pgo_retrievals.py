"""Benchmark: complete retrievals through the PGO, as a patient makes them.

One complete retrieval = a PGO login session (login page, login form) → zorgaanbieder search →
"ophalen" → the DVA's authorization request and landing page → the DigiD simulator → the
beschikbaarheidstoets → the toestemmingsverklaring → the callback at the PGO, where the PGO
exchanges the code over mutual TLS and runs every query of every granted gegevensdienst (the 28
BgZ queries and the Vaccinaties search with its Medication reads), validates and stores them.
Driven by the scripted patient (``medmij_stack.wiring.patient``, the same forms as ``medmij
demo``) against ``medmij up --free-ports`` with the embedded default world, every service on
this machine. The zorgaanbieder is the hospital (BgZ and Vaccinaties, the heaviest case).

With ``--live-session`` each patient logs in once and keeps its browser (cookies, kept-alive
connections) for all its retrievals, as a person with the PGO's app open does; by default
every retrieval has a fresh browser and its own login. Reported per concurrency (patients in
flight at once, each with its own browser session and demo account): complete retrievals per
second over the wall time of the run, p50/p95/p99 per step as the patient sees it
(``callback`` includes the token exchange, every query and storage), and the CPU time each
process of the stack (and this driver, the patients) spent per retrieval, with the load
average. Budget (the PGO issue): ≥ 20 complete retrievals/s.

    .venv/bin/python benchmarks/pgo_retrievals.py                       # 24 at 1, 48 at 8
    .venv/bin/python benchmarks/pgo_retrievals.py --count 100 --concurrency 1 8
    .venv/bin/python benchmarks/pgo_retrievals.py --live-session --count 100 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psutil
from machine import MachineReading
from running_stack import start_stack, stop

from medmij_stack.runtime.net import make_async_client
from medmij_stack.wiring.patient import ScriptedPatient, StackInfo
from medmij_stack.wiring.patient.results import Step

ZORGAANBIEDER = "ziekenhuisdemo@medmij"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


async def wait_healthy(stack: StackInfo, limit: float = 180.0) -> None:
    deadline = time.monotonic() + limit
    async with make_async_client(trust=[stack.ca], hosts=stack.hosts, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(stack.pgo + "/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit("the PGO did not become healthy")


async def run(
    stack: StackInfo, count: int, concurrency: int, *, live_session: bool = False
) -> dict[str, object]:
    accounts = [
        a
        for a in stack.accounts
        if any(p.bsn == a.bsn and ZORGAANBIEDER in p.zorgaanbieders for p in stack.persons)
    ]
    if not accounts:
        raise SystemExit(f"no demo person has data at {ZORGAANBIEDER}")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(count):
        queue.put_nowait(number)
    steps: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    failures: list[str] = []

    async def worker(slot: int) -> None:
        account = accounts[slot % len(accounts)]
        # A live session: one browser per patient, logged in once, fetching again and again.
        kept = ScriptedPatient.for_account(stack, account) if live_session else None
        try:
            if kept is not None:
                await kept.log_in()
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                began = time.perf_counter()
                patient = kept or ScriptedPatient.for_account(stack, account)
                first = 0 if kept is None else len(patient.timings)
                try:
                    if kept is None:
                        await patient.log_in()
                    result = await patient.fetch(ZORGAANBIEDER)
                finally:
                    if kept is None:
                        await patient.aclose()
                for timing in patient.timings[first:]:
                    steps[timing.step.value].append(timing.seconds)
                totals.append(time.perf_counter() - began)
                if not result.succeeded:
                    failures.append(str(result.outcome))
        finally:
            if kept is not None:
                await kept.aclose()

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    wall = time.perf_counter() - started
    return {"wall": wall, "steps": steps, "totals": totals, "failures": failures}


def _role(process: psutil.Process) -> str:
    """A process of the stack by its role: ``serve pgo`` -> ``pgo``; the driver is ``patient``."""
    try:
        arguments = process.cmdline()
    except psutil.Error:
        return "gone"
    if "serve" in arguments:
        return str(arguments[arguments.index("serve") + 1])
    if "up" in arguments:
        return "up"
    return "patient" if process.pid == os.getpid() else "other"


def cpu_seconds(stack_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of each process of the stack and of this driver."""
    seconds: dict[str, float] = defaultdict(float)
    processes = [psutil.Process(), psutil.Process(stack_pid)]
    processes += processes[1].children(recursive=True)
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        seconds[_role(process)] += times.user + times.system
    return dict(seconds)


def cpu_split(before: dict[str, float], after: dict[str, float], done: int) -> None:
    """CPU milliseconds per complete retrieval, per process, between two readings."""
    spent = {role: after[role] - before.get(role, 0.0) for role in after}
    total = sum(spent.values())
    print(f"  CPU per retrieval ({total:.1f} CPU-s in all, {done} retrievals):")
    for role, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        share = seconds / total * 100 if total else 0.0
        print(f"    {role:<14} {seconds / max(done, 1) * 1000:>8.0f} ms  {share:>5.1f} %")


def report(count: int, concurrency: int, result: dict[str, object]) -> None:
    wall = float(result["wall"])  # type: ignore[arg-type]
    totals: list[float] = result["totals"]  # type: ignore[assignment]
    steps: dict[str, list[float]] = result["steps"]  # type: ignore[assignment]
    failures: list[str] = result["failures"]  # type: ignore[assignment]
    done = len(totals) - len(failures)
    print(f"\nconcurrency {concurrency}: {count} retrievals, {len(failures)} failed")
    print(f"  throughput: {done / wall:.2f} complete retrievals/s ({wall:.1f} s wall)")
    print(f"  {'step':<12} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    order = [s.value for s in Step] + ["whole"]
    rows = {**steps, "whole": totals}
    for name in order:
        values = rows.get(name)
        if not values:
            continue
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (0.50, 0.95, 0.99))
        print(f"  {name:<12} {len(values):>5} {p50:>9.1f} {p95:>9.1f} {p99:>9.1f}")
    if failures:
        print(f"  first failure: {failures[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=0, help="retrievals per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--live-session",
        action="store_true",
        help="each patient logs in once and keeps the session (default: a login per retrieval)",
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"world: embedded default; zorgaanbieder {ZORGAANBIEDER} (BgZ 48 + Vaccinaties 63)")
    print(
        "session: "
        + ("live (each patient logs in once)" if args.live_session else "a login per retrieval")
    )
    with tempfile.TemporaryDirectory(prefix="medmij-bench-") as base:
        process, _info = start_stack(Path(base), "--timeout", "170")
        try:
            stack = StackInfo.load(Path(base) / "data")
            asyncio.run(wait_healthy(stack))
            asyncio.run(run(stack, args.warmup, 1))
            for concurrency in args.concurrency:
                count = args.count or 24 * max(1, concurrency // 4 + 1)
                before = cpu_seconds(process.pid)
                machine = MachineReading.now()
                result = asyncio.run(run(stack, count, concurrency, live_session=args.live_session))
                after = cpu_seconds(process.pid)
                machine_after = MachineReading.now()
                report(count, concurrency, result)
                failures: list[str] = result["failures"]  # type: ignore[assignment]
                totals: list[float] = result["totals"]  # type: ignore[assignment]
                cpu_split(before, after, len(totals) - len(failures))
                print(f"  {machine.until(machine_after, len(totals) - len(failures), 'retrieval')}")
                print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            stop(process)


if __name__ == "__main__":
    main()
