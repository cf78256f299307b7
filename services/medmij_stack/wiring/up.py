"""`medmij up`: run a whole world, one process per role, and say where everything is.

Each role runs as its own `medmij serve` process, exactly as in docker-compose: the
services share nothing but HTTP(S), the lists and the dev PKI, and a role can be
stopped and replaced by a developer's own component. The authorisation and resource
servers run several worker processes on their sockets (`medmij_stack.wiring.workers`,
`--workers`), and a node with replicas runs one `medmij serve` per replica behind the
DVA's proxy (`medmij_stack.wiring.proxy`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.net import make_async_client

from .demo_accounts import demo_logins
from .roles import RoleInstance, instance_workers, listener_urls, role_instances
from .runner import RUN_HEADER
from .world import World

__all__ = [
    "BusyPort",
    "StackProcess",
    "busy_ports",
    "log_tail",
    "stack_json",
    "start_stack",
    "wait_healthy",
    "without_unserved_nictiz",
]


@dataclass
class StackProcess:
    instance: RoleInstance
    process: subprocess.Popen[bytes]
    urls: tuple[str, ...]  # base URL of each listener of this role
    log: Path | None = None  # where its output goes
    workers: int = 1  # worker processes of this `medmij serve`


@dataclass(frozen=True)
class BusyPort:
    """A port of the world that cannot be listened on now, and the system's reason."""

    label: str  # the role
    url: str
    address: str
    port: int
    reason: str


def busy_ports(world: World) -> list[BusyPort]:
    """The ports `medmij up` would listen on that are taken, or cannot be taken, now.

    Each is tried as uvicorn will take it (with SO_REUSEADDR): a port that something
    listens on is busy, one only lingering in TIME_WAIT is not.
    """
    address = world.world.listen
    busy = []
    for instance in role_instances(world):
        for url in listener_urls(world, instance):
            port = urlsplit(url).port or 443
            try:
                socket.create_server((address, port)).close()
            except OSError as exc:
                # The system's words without create_server's "(while attempting to bind…)".
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
                busy.append(BusyPort(instance.label, url, address, port, reason))
    return busy


def log_tail(path: Path | None, lines: int = 8) -> str:
    """The last lines of a role's log, indented, to show why it stopped."""
    if path is None:
        return ""
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return "".join(f"\n    {line}" for line in tail)


def stack_json(
    world: World,
    pki: DevPKI,
    world_file: Path,
    processes: Sequence[StackProcess] = (),
) -> dict[str, object]:
    """The contract for tools and tests (docs/architecture.md#worlds): where to start; the
    rest is in the ZAL."""
    stelsel = world.stelselnode.endpoint
    pgo = world.pgo_by_hostname()
    leaf = pki.leaf(pgo.hostname)
    where = world.person_zorgaanbieders()
    return {
        "world": str(world_file),
        "development": world.world.development,
        "lists": {kind.name.lower(): stelsel.url(f"/{kind.filename}") for kind in ListKind},
        "pgo": pgo.endpoint.url(),
        # The ketenlog collector's base URL (GET /v1/records, POST /v1/logs), or null.
        "collector": None if world.collector is None else world.collector.endpoint.url(),
        "ca": str(pki.root_cert),
        "pgo_client_cert": {"cert": str(leaf.cert), "key": str(leaf.key), "hostname": pgo.hostname},
        "hosts": world.hosts(),
        "services": {
            instance.label: list(listener_urls(world, instance))
            for instance in role_instances(world)
        },
        # Worker processes per running role (a replica is a role of its own: "…#0").
        "workers": {proc.instance.label: proc.workers for proc in processes},
        "digid_test_persons": [
            {"bsn": p.bsn, "name": p.name, "zorgaanbieders": list(where.get(p.bsn, ()))}
            for p in world.persons_list()
        ],
        "pgo_accounts": [login.to_json() for login in demo_logins(world)],
    }


def _die_with_parent() -> None:
    """Runs in each child before exec: on Linux, end the child when `medmij up` dies,
    even by SIGKILL, so that no role is left holding its ports."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_stack(
    world_file: Path,
    world: World,
    data_dir: Path,
    certs_dir: Path,
    *,
    log_dir: Path,
    access_log: bool = False,
    nictiz: Path | None = None,
    run_id: str | None = None,
    workers: int | None = None,
) -> list[StackProcess]:
    """Start one `medmij serve` process per role of ours; output goes to log_dir/<role>.log.

    ``workers``: worker processes of every role that may run several (`--workers`); None:
    the world's, else the machine's default (`medmij_stack.wiring.roles.instance_workers`).

    ``nictiz``: the Nictiz qualification material, handed to every role: each `medmij
    serve` leaves the zorgaanbieders marked ``nictiz = true`` out of its world without it.
    ``run_id``: handed to every role, which sends it back on /health (see `wait_healthy`).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = []
    for instance in role_instances(world):
        count = instance_workers(world, instance, workers)
        argv = [
            sys.executable,
            "-m",
            "medmij_stack.wiring",
            "serve",
            *instance.argv(),
            "--world",
            str(world_file),
            "--data-dir",
            str(data_dir),
            "--certs",
            str(certs_dir),
            *(["--access-log"] if access_log else []),
            *(["--nictiz", str(nictiz)] if nictiz else []),
            *(["--run-id", run_id] if run_id else []),
            "--workers",
            str(count),
        ]
        log_file = log_dir / f"{instance.label.replace(':', '-').replace('#', '-')}.log"
        with log_file.open("ab") as log:  # the child keeps its own copy of the handle
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_die_with_parent,  # only prctl: safe between fork and exec
            )
        processes.append(
            StackProcess(
                instance, process, listener_urls(world, instance), log=log_file, workers=count
            )
        )
    return processes


async def _healthy(client: httpx.AsyncClient, url: str, run_id: str | None) -> bool:
    try:
        response = await client.get(f"{url}/health")
    except httpx.HTTPError:
        return False
    # Another stack on the same port answers too, but not with our run id.
    ours = run_id is None or response.headers.get(RUN_HEADER) == run_id
    return response.status_code == 200 and ours


async def wait_healthy(
    processes: Sequence[StackProcess],
    world: World,
    pki: DevPKI,
    *,
    timeout: float,
    console: Console | None = None,
    run_id: str | None = None,
) -> dict[str, bool]:
    """Poll every /health over HTTPS with the dev CA until all are 200 or time is up.

    With `run_id`, a node is healthy only when its answer carries that run id: the
    answer of whatever else listens on the port (another `medmij up`) does not count.
    Raises RuntimeError, with the end of its log, when a process stops meanwhile.
    """
    pending = {url: p for p in processes for url in p.urls}
    ready: dict[str, bool] = dict.fromkeys(pending, False)
    deadline = time.monotonic() + timeout
    async with make_async_client(trust=[pki.root_cert], hosts=world.hosts(), timeout=2) as client:
        status = console.status("Starting the world…") if console else None
        if status:
            status.start()
        try:
            while pending and time.monotonic() < deadline:
                for url, proc in list(pending.items()):
                    if proc.process.poll() is not None:
                        raise RuntimeError(
                            f"{proc.instance.label} stopped while starting "
                            f"(exit code {proc.process.returncode}); the end of "
                            f"{proc.log}:{log_tail(proc.log)}"
                        )
                    if await _healthy(client, url, run_id):
                        ready[url] = True
                        del pending[url]
                if status:
                    done = sum(ready.values())
                    status.update(f"Starting the world… {done}/{len(ready)} nodes healthy")
                if pending:
                    await asyncio.sleep(0.2)
        finally:
            if status:
                status.stop()
    return ready


def stop_stack(processes: Sequence[StackProcess], *, grace: float = 10.0) -> None:
    """SIGTERM every role, wait up to `grace` seconds, then kill what is left."""
    for proc in processes:
        if proc.process.poll() is None:
            proc.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            proc.process.wait(remaining)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()


def summary_table(world: World, processes: Sequence[StackProcess]) -> Table:
    table = Table(title=f"{world.world.name}: running (health: <node>/health)")
    table.add_column("role", no_wrap=True)
    table.add_column("node", no_wrap=True)
    table.add_column("workers", justify="right")
    for proc in processes:
        for url in proc.urls:
            table.add_row(proc.instance.label, url, str(proc.workers))
    return table


def write_stack_json(data_dir: Path, content: dict[str, object]) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "stack.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, indent=2) + "\n", "utf-8")
    os.replace(temporary, path)
    return path


def without_unserved_nictiz(
    world: World, explicit: Path | None
) -> tuple[World, Path | None, tuple[str, ...]]:
    """The world to run, the Nictiz material found, and the zorgaanbieders left out.

    A zorgaanbieder marked ``nictiz = true`` serves the Nictiz qualification patients and
    nothing else; without that material it would be listed in the ZAL while serving
    nothing, so it is left out of the world. Raises NictizError for a path that is given
    but is not the Nictiz layout.
    """
    from medmij_stack.zorgaanbieder.sources.nictiz import find_nictiz

    root = find_nictiz(explicit)
    if root is not None:
        return world, root.resolve(), ()
    data = world.model_dump(mode="python")
    dropped: list[str] = []
    for dva in data["dva"]:
        if dva["external"]:
            continue
        dropped += [za["naam"] for za in dva["zorgaanbieder"] if za["nictiz"]]
        dva["zorgaanbieder"] = [za for za in dva["zorgaanbieder"] if not za["nictiz"]]
    if not dropped:
        return world, None, ()
    return World.model_validate(data), None, tuple(dropped)


def prepare_pki(world: World, certs_dir: Path) -> DevPKI:
    return ensure_dev_pki(certs_dir, world.our_hostnames())
