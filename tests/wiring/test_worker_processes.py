"""`run_workers` without a stack: what a worker that cannot start tells its parent."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Mapping

import pytest

from medmij_stack.wiring.workers import WorkerRefused, bind_sockets, run_workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks workers")


def _run(work: Callable[[], None]) -> tuple[int, list[str]]:
    heard: list[str] = []

    def worker(
        index: int,
        sockets: Mapping[int, socket.socket],
        serving: Callable[[], None],
        serving_now: Callable[[], int],
    ) -> None:
        work()

    sockets = bind_sockets("127.0.0.1", [0])
    code = run_workers(2, worker, sockets, grace=5, refused=heard.append)
    return code, heard


def test_a_worker_that_cannot_start_says_why_through_its_parent_with_its_exit_code() -> None:
    def damaged() -> None:
        raise WorkerRefused("cannot read the last accepted list from /data/lijst.json", code=2)

    assert _run(damaged) == (2, ["cannot read the last accepted list from /data/lijst.json"])


def test_a_worker_that_fails_otherwise_fails_the_role_without_a_message() -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    assert _run(broken) == (1, [])


def test_a_long_refusal_reaches_the_parent_whole_up_to_its_limit() -> None:
    message = "é" * 3000  # 6,000 bytes: more than one read of a pipe may hand over at once

    def damaged() -> None:
        raise WorkerRefused(message)

    code, heard = _run(damaged)
    assert code == 2
    assert heard == [message]
