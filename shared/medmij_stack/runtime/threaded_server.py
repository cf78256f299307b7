"""A uvicorn server on a socket of our own, run in a background thread.

For the places that serve an ASGI app next to other work in the same process: the
PHR-Client simulator of ``medmij qualify-client`` and the test servers. ``medmij serve``
itself runs its servers on the main thread (``medmij_stack.wiring.runner``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


class ServerDidNotStart(RuntimeError):
    """The server thread ended, or did not listen in time."""


def listening_socket(
    host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False
) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: a free port); ``OSError`` when it cannot be.

    IPPROTO_TCP is named explicitly: asyncio sets TCP_NODELAY only on sockets that say so,
    and without it every keep-alive answer waits ~40 ms for the peer's delayed ACK.
    ``reuse_port``: SO_REUSEPORT too, so that sockets of several processes share the port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def serving_in_thread(
    config: uvicorn.Config,
    sock: socket.socket,
    *,
    start_timeout: float = 10,
    stop_timeout: float = 10,
) -> Iterator[int]:
    """Serve ``config`` on ``sock`` in a daemon thread; yield the bound port once it listens.

    ``ServerDidNotStart`` when the server does not start within ``start_timeout`` seconds. On
    leaving, the server is asked to stop and joined; the socket is closed either way.
    """
    bound: int = sock.getsockname()[1]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServerDidNotStart(f"the server did not start on port {bound}")
            time.sleep(0.01)
        yield bound
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
        sock.close()
