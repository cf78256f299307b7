"""benchmarks/locustfile.py: a short headless Locust run against the wiring tests' stack.

Two users retrieve through the PGO for fifteen seconds (the ``baseline`` scenario fits the
default world); Locust must have seen whole attempts, each step timed, and no attempt the
person could not get through.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

# Only look for it: importing locust here would let gevent patch this process's sockets and
# ssl under the other tests (it did: RecursionError while collecting). It runs in a child.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed (the 'load' or 'test' extra)", allow_module_level=True)

LOCUSTFILE = Path(__file__).resolve().parents[2] / "benchmarks" / "locustfile.py"


def test_a_short_locust_run_retrieves_through_the_pgo(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    prefix = tmp_path / "run"
    completed = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", "2", "-r", "2", "-t", "15s", "--stop-timeout", "60",
            "--csv", str(prefix), "--only-summary",
        ],
        env={
            **os.environ,
            "MEDMIJ_STACK_JSON": str(running_stack.data_dir / "stack.json"),
            "MEDMIJ_SCENARIO": "baseline",
            "MEDMIJ_WAIT": "0.5,1",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    with (tmp_path / "run_stats.csv").open(encoding="utf-8") as file:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(file)}
    attempts = {name: row for (kind, name), row in rows.items() if kind == "ATTEMPT"}
    assert attempts, output[-4000:]
    assert int(attempts.get("succes", {}).get("Request Count", 0)) >= 1, attempts
    assert sum(int(r["Failure Count"]) for r in attempts.values()) == 0
    steps = {name for (kind, name) in rows if kind == "STEP"}
    assert {"login", "search", "authorize", "digid", "consent", "callback"} <= steps
