"""The DVA's proxy: connections handed to the replicas in turn, bytes passed on as they are.

Mutual TLS through the proxy (the client's certificate reaching the replica) is tested on
a whole world in tests/wiring/test_scale_out.py; here the proxy itself, on plain TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from typer.testing import CliRunner

from medmij_stack.runtime.threaded_server import listening_socket
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.proxy import RoundRobin, serve_proxy
from medmij_stack.wiring.roles import proxy_routes
from medmij_stack.wiring.world import load_world


async def _replica(name: bytes) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Half-close from the client: read all it sent, then answer with it.
        received = await reader.read()
        writer.write(name + b":" + received)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def _proxy(replica_ports: list[int]) -> AsyncIterator[int]:
    sock = listening_socket("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    started = asyncio.Event()
    task = asyncio.create_task(
        serve_proxy(
            {port: [("127.0.0.1", p) for p in replica_ports]},
            listen="127.0.0.1",
            sockets={port: sock},
            started=started,
        )
    )
    await started.wait()
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _ask(port: int, message: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(message)
    writer.write_eof()
    answer = await reader.read()
    writer.close()
    return answer


async def test_connections_go_to_the_replicas_in_turn_with_their_bytes_unchanged() -> None:
    first, second = await _replica(b"a"), await _replica(b"b")
    async with _proxy([_port(first), _port(second)]) as port:
        big = bytes(range(256)) * 1024  # more than one read of the proxy
        answers = [await _ask(port, big) for _ in range(4)]
    first.close()
    second.close()
    assert [answer[:2] for answer in answers] == [b"a:", b"b:", b"a:", b"b:"]
    assert all(answer[2:] == big for answer in answers)


async def test_a_replica_that_is_down_is_passed_over() -> None:
    alive = await _replica(b"alive")
    gone = await _replica(b"gone")
    gone_port = _port(gone)
    gone.close()
    await gone.wait_closed()
    async with _proxy([gone_port, _port(alive)]) as port:
        answers = {await _ask(port, b"x") for _ in range(3)}
    alive.close()
    assert answers == {b"alive:x"}


async def test_without_any_replica_the_connection_is_closed() -> None:
    gone = await _replica(b"gone")
    gone_port = _port(gone)
    gone.close()
    await gone.wait_closed()
    async with _proxy([gone_port]) as port:
        assert await _ask(port, b"x") == b""


def test_round_robin_starts_each_turn_at_the_next_replica() -> None:
    turns = RoundRobin([("h", 1), ("h", 2), ("h", 3)])
    assert [turns.order()[0][1] for _ in range(4)] == [1, 2, 3, 1]
    assert turns.order() == [("h", 2), ("h", 3), ("h", 1)]


SCALE_OUT_WORLD = Path(__file__).resolve().parents[2] / (
    "services/medmij_stack/wiring/worlds/scale-out.toml"
)


def test_the_proxy_routes_each_node_port_to_its_replicas() -> None:
    world = load_world(SCALE_OUT_WORLD)
    (dva,) = world.ours()
    assert dva.front is not None
    assert dva.resource is not None
    # One machine: the replicas where the world's host map puts the node.
    routes = proxy_routes(world, dva.id)
    assert routes[dva.front.port] == [("127.0.0.1", port) for port in dva.front.replicas]
    # Containers: each replica at the host the template names (docker-compose.scale-out.yml).
    named = proxy_routes(world, dva.id, "{role}-{replica}")
    assert named[dva.front.port] == [
        ("authserver-0", dva.front.replicas[0]),
        ("authserver-1", dva.front.replicas[1]),
    ]
    assert [host for host, _ in named[dva.resource.port]] == ["zorgaanbieder-0", "zorgaanbieder-1"]


def test_a_replica_host_template_of_other_names_is_refused() -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "proxy", "--world", str(SCALE_OUT_WORLD), "--replica-host", "{node}-{replica}"],
    )
    assert result.exit_code == 2
    assert "{role} and {replica}" in result.output
