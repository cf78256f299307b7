"""`medmij up` starts only on free ports, and counts only its own processes as ready.

A second `medmij up` while the first runs used to print its table and "Ready." (the first
stack's nodes answered its health checks) and then fail with "stopped unexpectedly", the
reason ("address already in use") only in a log file.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Scope
from typer.testing import CliRunner, Result

from medmij_stack.runtime.asgi_tls import uvicorn_config
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.threaded_server import listening_socket, serving_in_thread
from medmij_stack.runtime.tls import server_context
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.roles import Role, RoleInstance, listener_urls, role_instances
from medmij_stack.wiring.runner import RUN_HEADER, with_run_header
from medmij_stack.wiring.up import StackProcess, busy_ports, wait_healthy
from medmij_stack.wiring.world import World, load_world, save_world

RUN_ID = "0123456789abcdef"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="medmij", env={"COLUMNS": "1000"})


def said(result: Result) -> str:
    return " ".join((result.stdout + result.stderr).split())


@contextmanager
def held(address: str, port: int) -> Iterator[socket.socket]:
    """A socket that listens on the port, as another stack's node would."""
    with socket.create_server((address, port)) as sock:
        yield sock


@pytest.fixture
def world() -> World:
    return load_world().with_free_ports()


def ports(world: World) -> dict[int, tuple[str, str]]:
    """Every port of the world: role and URL."""
    result = {}
    for instance in role_instances(world):
        for url in listener_urls(world, instance):
            port = int(url.rsplit(":", 1)[1])
            result[port] = (instance.label, url)
    return result


def test_no_port_is_busy_in_a_world_of_free_ports(world: World) -> None:
    assert busy_ports(world) == []


def test_every_held_port_is_named_with_its_role_and_reason(world: World) -> None:
    chosen = sorted(ports(world))[::2]  # every other port, from different roles
    with held("127.0.0.1", chosen[0]), held("127.0.0.1", chosen[-1]):
        busy = busy_ports(world)
    assert sorted(item.port for item in busy) == [chosen[0], chosen[-1]]
    for item in busy:
        assert (item.label, item.url) == ports(world)[item.port]
        assert item.address == "127.0.0.1"
        assert "in use" in item.reason.lower()


def test_a_port_held_on_all_interfaces_is_busy_too(world: World) -> None:
    port = world.stelselnode.endpoint.port
    with held("0.0.0.0", port):  # noqa: S104 - a test socket, closed at once
        assert [item.port for item in busy_ports(world)] == [port]


def test_medmij_up_on_a_busy_port_names_it_and_the_way_out_and_starts_nothing(
    world: World, tmp_path: Path
) -> None:
    world_file = save_world(world, tmp_path / "world.json")
    port = world.stelselnode.endpoint.port
    data = tmp_path / "data"
    with held("127.0.0.1", port):
        result = run(
            "up", "--world", str(world_file), "--data-dir", str(data),
            "--certs", str(tmp_path / "certs"), "--timeout", "5",
        )  # fmt: skip
    assert result.exit_code == 1
    message = said(result)
    assert (
        f"Port {port} on 127.0.0.1 (stelselnode, https://stelselnode.localhost:{port})" in message
    )
    assert "--free-ports" in message
    assert "Ready" not in message
    assert "Traceback" not in message
    assert not data.exists()  # no process, no log, no stack.json
    assert not (tmp_path / "certs").exists()


# Readiness: only answers of this run's own processes count.


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), load_world().our_hostnames())


@contextmanager
def health_server(pki: DevPKI, headers: dict[str, str]) -> Iterator[int]:
    """An HTTPS /health that answers 200 with `headers`, as the stelselnode's name."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers=headers)

    leaf = pki.leaf("stelselnode.localhost")
    context = server_context(leaf.cert, leaf.key, trust=[], client_certs="none")
    sock = listening_socket()
    port: int = sock.getsockname()[1]
    config = uvicorn_config(
        Starlette(routes=[Route("/health", health)]),
        host="127.0.0.1",
        port=port,
        ssl_context=context,
        lifespan="off",
        log_config=None,
    )
    with serving_in_thread(config, sock):
        yield port


@contextmanager
def living_process(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child that lives, but listens nowhere (as one that lost the race for its port)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def stack(process: subprocess.Popen[bytes], port: int, log: Path) -> list[StackProcess]:
    instance = RoleInstance(Role.STELSELNODE, None)
    url = f"https://stelselnode.localhost:{port}"
    return [StackProcess(instance, process, (url,), log=log)]


async def test_another_stacks_health_answer_is_not_ours(pki: DevPKI, tmp_path: Path) -> None:
    world = load_world()
    log = tmp_path / "stelselnode.log"
    for headers in ({}, {RUN_HEADER: "fedcba9876543210"}):
        with health_server(pki, headers) as port, living_process(log) as process:
            ready = await wait_healthy(
                stack(process, port, log), world, pki, timeout=1.0, run_id=RUN_ID
            )
        assert list(ready.values()) == [False], headers


async def test_our_own_health_answer_is_ready(pki: DevPKI, tmp_path: Path) -> None:
    log = tmp_path / "stelselnode.log"
    with health_server(pki, {RUN_HEADER: RUN_ID}) as port, living_process(log) as process:
        ready = await wait_healthy(
            stack(process, port, log), load_world(), pki, timeout=10.0, run_id=RUN_ID
        )
    assert list(ready.values()) == [True]


async def test_a_process_that_stops_while_starting_shows_the_end_of_its_log(
    pki: DevPKI, tmp_path: Path
) -> None:
    log = tmp_path / "stelselnode.log"
    log.write_text(
        "INFO starting\n"
        "ERROR [Errno 98] error while attempting to bind on address ('127.0.0.1', 8440): "
        "address already in use\n",
        "utf-8",
    )
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    process.wait()
    with (
        health_server(pki, {RUN_HEADER: "fedcba9876543210"}) as port,
        pytest.raises(RuntimeError) as caught,
    ):
        await wait_healthy(stack(process, port, log), load_world(), pki, timeout=5, run_id=RUN_ID)
    message = str(caught.value)
    assert "stelselnode stopped while starting (exit code 1)" in message
    assert str(log) in message
    assert "address already in use" in message


# The header itself, as `medmij serve --run-id` adds it to every app.


async def asgi_get(app: Any, path: str) -> list[tuple[bytes, bytes]]:
    scope: Scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": [], "http_version": "1.1", "scheme": "https",
        "server": ("127.0.0.1", 443), "client": ("127.0.0.1", 5000), "root_path": "",
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    return list(start["headers"])


async def test_the_run_header_is_on_health_only() -> None:
    async def text(request: Request) -> Response:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/health", text), Route("/other", text)])
    wrapped = with_run_header(inner, RUN_ID)
    assert (RUN_HEADER.lower().encode(), RUN_ID.encode()) in await asgi_get(wrapped, "/health")
    assert all(name != RUN_HEADER.lower().encode() for name, _ in await asgi_get(wrapped, "/other"))


def test_medmij_serve_takes_the_run_id_without_showing_it_in_help() -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0
    assert "--run-id" not in result.stdout
