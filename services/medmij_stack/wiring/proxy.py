"""The DVA's proxy: one hostname, several replicas behind it, TLS passed through untouched.

A node with replicas (``replicas = [port, …]`` in its world entry) is served by several
processes, each listening on a port of its own with the node's certificate. The proxy
listens on the node's port and passes each TCP connection, bytes as they come, to the next
replica in turn (round robin). It never terminates TLS: the handshake, and with it mutual
TLS and the client's certificate, happens between the client and the replica, so every
check a replica makes on the certificate holds as if there were no proxy.

A replica that refuses the connection (stopped, not yet started) is skipped for the next
one; when none takes it the client's connection is closed. The replicas share their
databases, so any of them can answer any request: a code spent on one is spent on all,
and a revocation reaches every resource server replica (medmij_stack.runtime.broadcast).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import socket
from collections.abc import Iterator, Mapping, Sequence

__all__ = ["RoundRobin", "serve_proxy"]

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_CONNECT_SECONDS = 5.0
_BACKLOG = 2048


class RoundRobin:
    """The replicas of one node, handed out in turn."""

    def __init__(self, replicas: Sequence[tuple[str, int]]) -> None:
        if not replicas:
            raise ValueError("a proxied node needs at least one replica")
        self.replicas = tuple(replicas)
        self._next: Iterator[int] = itertools.cycle(range(len(self.replicas)))

    def order(self) -> list[tuple[str, int]]:
        """Every replica, starting at the next one's turn."""
        first = next(self._next)
        return [self.replicas[(first + i) % len(self.replicas)] for i in range(len(self.replicas))]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other side may still answer
    except (ConnectionError, OSError):
        writer.transport.abort()


async def _connect(
    replicas: RoundRobin,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    for host, port in replicas.order():
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=_CHUNK), _CONNECT_SECONDS
            )
        except (OSError, TimeoutError) as problem:
            # While the replicas start, or one is down: the next one gets the connection.
            log.debug("replica %s:%d not reached (%s); the next", host, port, problem)
    return None


class _Connections:
    """The connections in flight, so that stopping can cut them."""

    def __init__(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def cut(self) -> None:
        # Aborting the transports ends both pipes of each connection (EOF or an error),
        # so the handlers finish by themselves: a cancelled handler would be logged by
        # asyncio's streams as a failed callback.
        for writer in list(self.writers):
            writer.transport.abort()


def _handler(replicas: RoundRobin, connections: _Connections) -> object:
    async def handle(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.tasks.add(task)
        connections.writers.add(client)
        try:
            upstream = await _connect(replicas)
            if upstream is None:
                log.warning("no replica of %s takes connections", replicas.replicas)
                return
            replica_reader, replica = upstream
            connections.writers.add(replica)
            try:
                await asyncio.gather(_pipe(client_reader, replica), _pipe(replica_reader, client))
            finally:
                replica.close()
                connections.writers.discard(replica)
        finally:
            client.close()
            connections.writers.discard(client)
            connections.tasks.discard(task)

    return handle


async def serve_proxy(
    routes: Mapping[int, Sequence[tuple[str, int]]],
    *,
    listen: str,
    sockets: Mapping[int, socket.socket] | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Pass connections on each port of ``routes`` to its replicas until SIGINT/SIGTERM.

    ``sockets``: per port, a bound socket to listen on instead of binding one (tests).
    """
    connections = _Connections()
    servers: list[asyncio.Server] = []
    for port, replicas in routes.items():
        handle = _handler(RoundRobin(replicas), connections)
        if sockets is not None:
            server = await asyncio.start_server(handle, sock=sockets[port], backlog=_BACKLOG)  # type: ignore[arg-type]
        else:
            server = await asyncio.start_server(
                handle,  # type: ignore[arg-type]
                host=listen,
                port=port,
                backlog=_BACKLOG,
                reuse_address=True,
            )
        servers.append(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if started is not None:
        started.set()
    try:
        await stop.wait()
    finally:
        for server in servers:
            server.close()
        # Connections in flight end with the proxy: a client sees its connection close
        # and retries, as after any restart of the node.
        connections.cut()
        if connections.tasks:
            await asyncio.wait(set(connections.tasks), timeout=_CONNECT_SECONDS)
        for server in servers:
            await server.wait_closed()
