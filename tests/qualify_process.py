"""``medmij qualify-client`` as a process of its own, for the tests that play its client.

One helper for every such test, so that each of them stops the process the same way and
closes its output pipe even when the test fails half-way: a pipe left open is reported
later, as an unraisable ResourceWarning, in whichever test happens to run next.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def qualify_client(*args: str) -> Iterator[subprocess.Popen[str]]:
    """The process, killed if the test left it running; its pipe closed either way."""
    with subprocess.Popen(
        [sys.executable, "-m", "medmij_stack.wiring", "qualify-client", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "COLUMNS": "1000"},
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def wait_until_up(client: httpx.Client, url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.get(f"{url}/health").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("qualify-client did not start")
