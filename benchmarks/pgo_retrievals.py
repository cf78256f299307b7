"""Benchmark: complete retrievals through the PGO, as a patient makes them.

One complete retrieval = a PGO login session (login page, login form) → zorgaanbieder search →
"ophalen" → the DVA's authorization request and landing page → the DigiD simulator → the
beschikbaarheidstoets → the toestemmingsverklaring → the callback at the PGO, where the PGO
exchanges the code over mutual TLS and runs every query of every granted gegevensdienst (the 28
BgZ queries and the Vaccinaties search with its Medication reads), validates and stores them.
Driven by the scripted patient (``medmij_stack.wiring.patient``, the same forms as ``medmij
demo``) against ``medmij up --free-ports`` with the embedded default world, every service on
this machine. The zorgaanbieder is the hospital (BgZ and Vaccinaties, the heaviest case).

Reported per concurrency (patients in flight at once, each with its own browser session and
demo account): complete retrievals per second over the wall time of the run, and p50/p95/p99
per step as the patient sees it (``callback`` includes the token exchange, every query and
storage). Budget (the PGO issue): ≥ 20 complete retrievals/s.

    .venv/bin/python benchmarks/pgo_retrievals.py                       # 24 at 1, 48 at 8
    .venv/bin/python benchmarks/pgo_retrievals.py --count 100 --concurrency 1 8
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


async def run(stack: StackInfo, count: int, concurrency: int) -> dict[str, object]:
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
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            began = time.perf_counter()
            async with ScriptedPatient.for_account(stack, account) as patient:
                await patient.log_in()
                result = await patient.fetch(ZORGAANBIEDER)
                for timing in patient.timings:
                    steps[timing.step.value].append(timing.seconds)
            totals.append(time.perf_counter() - began)
            if not result.succeeded:
                failures.append(str(result.outcome))

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    wall = time.perf_counter() - started
    return {"wall": wall, "steps": steps, "totals": totals, "failures": failures}


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
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"world: embedded default; zorgaanbieder {ZORGAANBIEDER} (BgZ 48 + Vaccinaties 63)")
    with tempfile.TemporaryDirectory(prefix="medmij-bench-") as base:
        process, _info = start_stack(Path(base), "--timeout", "170")
        try:
            stack = StackInfo.load(Path(base) / "data")
            asyncio.run(wait_healthy(stack))
            asyncio.run(run(stack, args.warmup, 1))
            for concurrency in args.concurrency:
                count = args.count or 24 * max(1, concurrency // 4 + 1)
                report(count, concurrency, asyncio.run(run(stack, count, concurrency)))
        finally:
            stop(process)


if __name__ == "__main__":
    main()
