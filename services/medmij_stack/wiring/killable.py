"""A world whose role processes the caller owns, to kill one with SIGKILL and start it again.

``medmij up`` stops the whole world when one of its roles dies, as it should; a test of what
survives a crash needs the opposite. :func:`start_killable` starts the same ``medmij serve``
processes ``medmij up --free-ports`` starts (:func:`medmij_stack.wiring.up.start_stack`,
same world file, data dir, certificates, run id and ``stack.json``), and
:meth:`KillableStack.kill` and :meth:`KillableStack.restart` end one with SIGKILL and start
it again with its own command line on its own data, as a supervisor would after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .up import (
    StackProcess,
    _die_with_parent,
    prepare_pki,
    stack_json,
    start_stack,
    stop_stack,
    wait_healthy,
    without_unserved_nictiz,
    write_stack_json,
)
from .world import World, save_world

__all__ = ["KillableStack", "start_killable"]


@dataclass
class KillableStack:
    world: World
    data_dir: Path
    certs: Path
    run_id: str
    processes: list[StackProcess]

    def role(self, label: str) -> StackProcess:
        """The process of the role ``label`` (``zorgaanbieder:dva``, ``pgo:pgo.localhost``…)."""
        found = [p for p in self.processes if p.instance.label == label]
        if len(found) != 1:
            known = ", ".join(p.instance.label for p in self.processes)
            raise KeyError(f"no role {label!r} (one of {known})")
        return found[0]

    def kill(self, label: str) -> datetime:
        """SIGKILL to the role's process and every process it forked (its workers, which
        share its sockets): no shutdown handler runs, nothing queued in memory is written."""
        proc = self.role(label)
        tree = [proc.process.pid, *_descendants(proc.process.pid)]
        # The outage begins at the signal, not once every worker is reaped: an attempt that
        # meets the dead role while the workers are still being waited for overlaps it.
        down = datetime.now(UTC)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.process.wait()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in tree[1:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        return down

    async def restart(self, label: str, *, timeout: float = 120.0) -> datetime:
        """Start the role again with the same command line; return when it is healthy."""
        proc = self.role(label)
        if proc.process.poll() is None:
            raise RuntimeError(f"{label} is still running")
        assert proc.log is not None
        with proc.log.open("ab") as log:
            proc.process = subprocess.Popen(  # noqa: S603 - the role's own command line
                proc.process.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_die_with_parent,  # only prctl: safe between fork and exec
            )
        pki = prepare_pki(self.world, self.certs)
        ready = await wait_healthy([proc], self.world, pki, timeout=timeout, run_id=self.run_id)
        if not all(ready.values()):
            raise RuntimeError(f"{label} did not become healthy again within {timeout:.0f} s")
        return datetime.now(UTC)

    def stop(self) -> None:
        stop_stack(self.processes)
        (self.data_dir / "stack.json").unlink(missing_ok=True)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux: from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended meanwhile
        # pid (comm) state ppid …: comm may hold spaces and parentheses.
        fields = text[text.rindex(")") + 2 :].split()
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, killed and not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2 :].split()[0] != "Z"


def start_killable(
    world: World, base: Path, *, timeout: float = 180.0, tries: int = 3
) -> KillableStack:
    """Every role of ``world`` (on free ports) as a process of the caller, under ``base``.

    A port found free may be taken by another process before a role binds it; then the
    world is started again on other free ports, up to ``tries`` times."""
    for attempt in range(1, tries + 1):
        try:
            return _start(world, base / f"try-{attempt}", timeout)
        except RuntimeError as exc:
            if "Address already in use" not in str(exc) or attempt == tries:
                raise
    raise AssertionError("unreachable")


def _start(world: World, base: Path, timeout: float) -> KillableStack:
    world, nictiz, _ = without_unserved_nictiz(world.with_free_ports(), None)
    data_dir = (base / "data").resolve()
    certs = (base / "certs").resolve()
    pki = prepare_pki(world, certs)
    effective = save_world(world, data_dir / "world.json")
    run_id = secrets.token_hex(8)
    processes = start_stack(
        effective, world, data_dir, certs, log_dir=data_dir / "logs", nictiz=nictiz, run_id=run_id
    )
    stack = KillableStack(world, data_dir, certs, run_id, processes)
    try:
        ready = asyncio.run(wait_healthy(processes, world, pki, timeout=timeout, run_id=run_id))
        late = [url for url, ok in ready.items() if not ok]
        if late:
            raise RuntimeError(f"not healthy after {timeout:.0f} s: {', '.join(late)}")
    except BaseException:
        stack.stop()
        raise
    write_stack_json(data_dir, stack_json(world, pki, effective))
    return stack
