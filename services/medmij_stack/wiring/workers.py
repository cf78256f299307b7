"""Several worker processes of one role, accepting on the sockets their parent bound.

`medmij serve --workers N`: the parent binds the role's sockets, then forks N workers; each
builds the role's apps itself and accepts on the sockets it inherited. The parent serves
nothing: it starts the workers, passes SIGINT/SIGTERM on, and ends when they have ended.

* On Linux each worker has a socket of its own per port, all bound with SO_REUSEPORT, and
  the kernel spreads new connections over the ones that listen. A socket listens only once
  its worker serves, so no connection waits for a worker still starting. (One socket shared
  by every worker would be taken from by whichever worker wakes first, and an asyncio
  server then accepts every connection waiting: a burst of new connections went to one
  worker while the other idled.) Elsewhere one listening socket is shared.

* The first worker starts alone: its lifespan migrates the database and loads the data, so
  the others, started once it listens, find both done instead of racing to do them.
* The role is ready as soon as its first worker serves: any worker can answer any request,
  and a connection waits in the shared queue only for the ones that accept. /health says
  how many serve (``MedMij-Stack-Workers: 1/2``; a byte of memory the parent shares with
  its workers), for a caller that needs all of them, as the tests that spread connections
  over the workers do.
* Every worker dies with the parent, even when the parent is killed: Linux's parent-death
  signal, as `medmij up` does for its roles. A parent that stops normally has ended its
  workers first (SIGTERM, a clean shutdown); one that is killed takes them along at once
  (SIGKILL), as if the whole role had been killed, so that its ports are free for a
  restart right away.
* When a worker stops on its own, the parent stops the others and fails: a role that runs
  with fewer workers than asked would only hide the fault.

Which roles may run several workers, and why, is `medmij_stack.wiring.roles.worker_limit`.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import FrameType

from medmij_stack.runtime.threaded_server import listening_socket

__all__ = ["WorkerRefused", "bind_sockets", "run_workers"]

log = logging.getLogger(__name__)

_BACKLOG = 2048
# Linux balances connections over the listening sockets of a SO_REUSEPORT group; other
# systems accept the option without balancing, so they share one socket instead.
_BALANCES_REUSEPORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
_MESSAGE_LIMIT = 8192  # bytes of a refusing worker's message the parent passes on


class WorkerRefused(Exception):
    """Raised by a worker that cannot start, with what the person who started the role must
    hear (a damaged state file, a bad world): the parent says it and exits with ``code``,
    as one process would have."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


Worker = Callable[[int, Mapping[int, socket.socket], Callable[[], None], Callable[[], int]], None]
"""Runs in a worker: (its index, the sockets by port, call when serving, how many workers
serve now); returns when done."""


def bind_sockets(
    listen: str, ports: Iterable[int], count: int = 1
) -> list[dict[int, socket.socket]]:
    """Per worker of ``count``, per port, its socket on ``listen`` (SO_REUSEADDR, as uvicorn
    binds; see the module docstring for SO_REUSEPORT). Port 0: a free port, the same for
    every worker. ``OSError`` when a port cannot be had."""
    separate = _BALANCES_REUSEPORT and count > 1
    made: list[socket.socket] = []
    workers: list[dict[int, socket.socket]] = [{} for _ in range(count if separate else 1)]
    try:
        for asked in ports:
            port = asked
            for sockets in workers:
                sock = listening_socket(listen, port, reuse_port=separate)
                made.append(sock)
                port = sock.getsockname()[1]
                sockets[port] = sock
                if not separate:
                    sock.listen(_BACKLOG)
    except OSError:
        for sock in made:
            sock.close()
        raise
    return workers if separate else workers * count


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def _fork(
    index: int, work: Worker, sockets: Mapping[int, socket.socket], everyone: mmap.mmap
) -> tuple[int, int]:
    """Start worker ``index``; (its pid, the read end of the pipe it says 'serving' on)."""
    parent = os.getpid()
    readable, writable = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writable)
        return pid, readable
    # The worker. It never returns into the parent's code.
    code = 1
    try:
        # First: the parent's handlers would signal this worker's siblings.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)  # serve_listeners installs its own
        os.close(readable)
        _die_with_parent(parent)

        def ready() -> None:
            with contextlib.suppress(OSError):
                os.write(writable, b"1")
                os.close(writable)

        work(index, sockets, ready, lambda: everyone[0])
        code = 0
    except WorkerRefused as exc:
        # Told through the pipe: the parent's output is the one its caller reads.
        code = exc.code
        with contextlib.suppress(OSError):
            os.write(writable, b"E" + exc.message.encode("utf-8")[:_MESSAGE_LIMIT])
    except BaseException:  # reported; this process ends either way
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serving(readable: int) -> bool:
    """Wait until the worker says it serves (True) or ends first (False)."""
    return _said(readable) == b"1"


def _said(readable: int) -> bytes:
    """What the worker wrote on its pipe: ``1`` (serving, said as soon as it is), or ``E``
    and why it refused to start, or nothing (it ended first)."""
    try:
        said = b""
        while chunk := os.read(readable, _MESSAGE_LIMIT + 1):
            said += chunk
            if said == b"1":
                break  # serving: nothing more comes
        return said
    finally:
        os.close(readable)


def run_workers(
    count: int,
    work: Worker,
    sockets: Sequence[Mapping[int, socket.socket]],
    *,
    grace: float = 10.0,
    ended: Callable[[int], None] = lambda pid: None,
    refused: Callable[[str], None] = lambda message: log.error("%s", message),
) -> int:
    """Run ``count`` workers until SIGINT/SIGTERM or until one stops; the exit code (the
    first worker's own when it ended before it served: a worker that cannot start says
    why and ends with 2, as one process would). ``ended(pid)`` runs in the parent for each
    worker that has ended; ``refused(message)`` gets what a first worker that could not
    start said (:class:`WorkerRefused`). ``sockets``: per worker (:func:`bind_sockets`)."""
    assert len(sockets) == count

    def forked(index: int) -> tuple[int, int]:
        started = _fork(index, work, sockets[index], everyone)
        # A worker's own sockets are its alone: closed here, they close when it ends (a
        # socket the parent still held would keep listening with nobody to accept).
        later = {id(s) for mapping in sockets[index + 1 :] for s in mapping.values()}
        for sock in sockets[index].values():
            if id(sock) not in later:
                sock.close()
        return started

    children: dict[int, int] = {}  # pid → worker index
    stopping = False
    # Shared with every worker (anonymous shared memory survives fork): how many serve.
    everyone = mmap.mmap(-1, 1)
    starting: list[int] = []  # read ends of the pipes of workers not serving yet

    def stop_all() -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        stop_all()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    first_code: int | None = None  # the first worker's exit code, if it never served
    try:
        pid, readable = forked(0)
        children[pid] = 0
        said = _said(readable)
        if said.startswith(b"E"):
            refused(said[1:].decode("utf-8", "replace"))
        first_served = said == b"1"
        if first_served:
            everyone[0] = 1
            for index in range(1, count):
                if stopping:
                    break
                pid, readable = forked(index)
                children[pid] = index
                starting.append(readable)
        elif not stopping:
            failed = True
            log.error("worker 0 stopped before it served; no other worker started")
        deadline: float | None = None
        while children:
            if (stopping or failed) and deadline is None:
                deadline = time.monotonic() + grace
                stop_all()
            if deadline is not None and time.monotonic() > deadline:
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = float("inf")
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                _await_serving(starting, everyone, 0.1)
                continue
            gone = children.pop(pid, -1)
            ended(pid)
            if gone == 0 and not first_served:
                first_code = os.waitstatus_to_exitcode(status)
            if gone >= 0 and not stopping and not failed:
                failed = True
                log.error(
                    "worker %d stopped (%s); stopping the others",
                    gone,
                    _exit_status(status),
                )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for mapping in sockets:
            for sock in mapping.values():
                sock.close()
        for readable in starting:
            os.close(readable)
    if failed and first_code is not None and first_code > 0:
        return first_code
    return 1 if failed else 0


def _await_serving(starting: list[int], everyone: mmap.mmap, timeout: float) -> None:
    """Up to ``timeout`` s: count the workers that say they serve in ``everyone``."""
    if not starting:
        time.sleep(timeout)
        return
    with contextlib.suppress(InterruptedError):
        readable, _, _ = select.select(starting, [], [], timeout)
        for fd in readable:
            starting.remove(fd)
            # False: it ended first, and the wait loop sees it go.
            if _serving(fd):
                everyone[0] = min(everyone[0] + 1, 255)


def _exit_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
