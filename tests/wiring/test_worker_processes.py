"""`run_workers` without a stack: what a worker that cannot start tells its parent."""

from __future__ import annotations

import collections
import os
import select
import socket
import sys
import threading
import time
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

    sockets = bind_sockets("127.0.0.1", [0], 2)
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


def test_a_burst_of_new_connections_is_spread_over_the_workers() -> None:
    """Each worker takes every connection waiting when it wakes (as an asyncio server
    does): with one socket shared, a burst could all go to whichever woke first; with a
    socket per worker the kernel spreads them."""
    sockets = bind_sockets("127.0.0.1", [0], 2)
    (port,) = sockets[0]
    served_by: list[int] = []

    def worker(
        index: int,
        mine: Mapping[int, socket.socket],
        serving: Callable[[], None],
        serving_now: Callable[[], int],
    ) -> None:
        listener = mine[port]
        listener.listen(128)
        listener.setblocking(False)
        serving()
        end = time.monotonic() + 4
        while time.monotonic() < end:
            ready, _, _ = select.select([listener], [], [], 0.1)
            while ready:
                try:
                    connection, _ = listener.accept()
                except BlockingIOError:
                    break
                connection.setblocking(True)
                connection.sendall(str(os.getpid()).encode())
                connection.close()

    def burst() -> None:
        time.sleep(1.5)  # both workers serve by then
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        for connection in connections:
            with connection:
                connection.settimeout(5)
                served_by.append(int(connection.recv(16)))

    clients = threading.Thread(target=burst)
    clients.start()
    run_workers(2, worker, sockets, grace=5)  # they stop after 4 s: the role ends with them
    clients.join()
    counts = sorted(collections.Counter(served_by).values())
    assert len(served_by) == 40
    assert len(counts) == 2, counts
    assert counts[0] >= 5, counts
