"""The wired stack: `medmij up` in a subprocess, on free ports, in a temporary folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STARTUP_LIMIT_SECONDS = 90  # generous: CI machines are slow; the README promises ~20 s


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    data_dir: Path
    certs_dir: Path
    info: dict[str, Any]

    @property
    def ca(self) -> Path:
        return Path(self.info["ca"])

    @property
    def hosts(self) -> dict[str, str]:
        return dict(self.info["hosts"])

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_stack(base: Path, *extra: str, free_ports: bool = True) -> RunningStack:
    data_dir, certs_dir = base / "data", base / "certs"
    with (base / "up.log").open("wb") as log:  # the child keeps its own copy of the handle
        process = subprocess.Popen(
            [
                sys.executable, "-m", "stack", "up", *(["--free-ports"] if free_ports else []),
                "--data-dir", str(data_dir), "--certs", str(certs_dir), *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "160"},
        )  # fmt: skip
    stack_file = data_dir / "stack.json"
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            output = (base / "up.log").read_text(errors="replace")
            pytest.fail(f"medmij up did not start:\n{output}")
        time.sleep(0.1)
    info = json.loads(stack_file.read_text("utf-8"))
    return RunningStack(process, data_dir, certs_dir, info)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.stop()
