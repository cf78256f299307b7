"""Run the listeners of one role in one process: uvicorn with our TLS contexts.

Several uvicorn servers share one event loop here, so the process handles SIGINT and
SIGTERM itself and tells every server to finish; uvicorn's own per-server signal
capture would let only the last server hear the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import cast

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medmij_stack.runtime.asgi_tls import uvicorn_config
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.runtime.tls import server_context

from .roles import Listener

__all__ = ["RUN_HEADER", "WORKERS_HEADER", "serve_listeners", "with_run_header", "with_workers"]


_GRACEFUL_SHUTDOWN_SECONDS = 3

RUN_HEADER = "MedMij-Stack-Run"
"""Response header of every /health with the run id `medmij up` gave its processes: its
readiness check takes only its own processes' answers, not another stack's on the port."""


def with_run_header(app: ASGIApp, run_id: str) -> ASGIApp:
    """`app`, with `RUN_HEADER: run_id` on its /health responses."""
    header = (RUN_HEADER.lower().encode("latin-1"), run_id.encode("latin-1"))

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/health":
            await app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await app(scope, receive, sending)

    return wrapped


WORKERS_HEADER = "MedMij-Stack-Workers"
"""Response header of /health in a role of several workers: ``<serving>/<workers>``."""


def with_workers(app: ASGIApp, serving: Callable[[], int], count: int) -> ASGIApp:
    """`app`, whose /health responses say how many of the role's ``count`` workers serve
    (`medmij_stack.wiring.workers`)."""
    name = WORKERS_HEADER.lower().encode("latin-1")

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/health":
            await app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = f"{serving()}/{count}".encode("latin-1")
                message = {**message, "headers": [*message.get("headers", ()), (name, value)]}
            await send(message)

        await app(scope, receive, sending)

    return wrapped


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals are handled once for all servers, in serve_listeners


async def serve_listeners(
    listeners: Sequence[Listener],
    pki: DevPKI,
    *,
    trust: Sequence[Path],
    listen: str,
    access_log: bool = False,
    run_id: str | None = None,
    sockets: Mapping[int, socket.socket] | None = None,
    on_started: Callable[[], None] | None = None,
    workers: tuple[Callable[[], int], int] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; returns when every server has shut down.

    `run_id`: given by `medmij up`, sent back on every /health (`RUN_HEADER`).
    `sockets`: per port, a socket bound already (by the parent of several workers,
    `medmij_stack.wiring.workers`) to accept on instead of binding one.
    `on_started`: called once every server has run its lifespan startup and listens.
    `workers`: (how many workers serve now, how many there are), for /health.
    """
    servers: list[_Server] = []
    for listener in listeners:
        leaf = pki.leaf(listener.endpoint.hostname)
        context = server_context(
            leaf.cert, leaf.key, trust=trust, client_certs=listener.client_certs
        )
        app = cast("ASGIApp", listener.app)
        if workers is not None:
            app = with_workers(app, *workers)
        config = uvicorn_config(
            app if run_id is None else with_run_header(app, run_id),
            host=listen,
            port=listener.endpoint.port,
            ssl_context=context,
            log_level="info" if access_log else "warning",
            access_log=access_log,
            lifespan="on",
            # Peers keep back-channel connections alive (introspection, availability);
            # without a bound, each server would wait for the other's idle connections
            # before it could stop.
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
        servers.append(_Server(config))

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    quiet = logging.INFO if access_log else logging.WARNING
    logging.getLogger("uvicorn.error").setLevel(quiet)
    # Schema migrations at startup are routine; their step-by-step INFO lines are noise.
    logging.getLogger("alembic").setLevel(quiet)

    async def announce() -> None:
        while not all(server.started for server in servers):
            if any(server.should_exit for server in servers):
                return
            await asyncio.sleep(0.05)
        if on_started is not None:
            on_started()

    def serving(server: _Server) -> Awaitable[None]:
        if sockets is None:
            return server.serve()
        return server.serve(sockets=[sockets[server.config.port]])

    announcing = asyncio.create_task(announce())
    try:
        await asyncio.gather(*(serving(server) for server in servers))
    finally:
        announcing.cancel()
