"""Shared fixtures for the PKI/TLS tests: one dev PKI per session, a foreign CA, an expired leaf,
a uvicorn server in a background thread, and a raw TLS fetch that reports handshake failures."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from medmij_stack.protocol.pki import issue_leaf, make_ca
from medmij_stack.runtime.asgi_tls import ASGIApp, uvicorn_config
from medmij_stack.runtime.devpki import (
    DevPKI,
    LeafFiles,
    ensure_dev_pki,
    load_certificate,
    load_private_key,
    write_certificates,
    write_private_key,
)
from medmij_stack.runtime.threaded_server import listening_socket, serving_in_thread

NODES = ("pgo.localhost", "za.localhost", "stelselnode.localhost", "stranger.localhost")
"""Hosts with a dev leaf. stranger.localhost is validly certified but never on a Whitelist."""


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), NODES)


@pytest.fixture(scope="session")
def foreign_leaf(tmp_path_factory: pytest.TempPathFactory) -> LeafFiles:
    """A pgo.localhost leaf from another CA, whose chain looks exactly like the dev one."""
    directory = tmp_path_factory.mktemp("foreign")
    root, root_key = make_ca("Dev Private Root G1")
    intermediate, intermediate_key = make_ca(
        "Dev Private Services CA G1", issuer=root, issuer_key=root_key
    )
    now = datetime.now(UTC)
    leaf, key = issue_leaf(
        intermediate,
        intermediate_key,
        "pgo.localhost",
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=30),
    )
    files = LeafFiles(cert=directory / "cert.pem", key=directory / "key.pem")
    write_certificates(files.cert, [leaf, intermediate])
    write_private_key(files.key, key)
    return files


@pytest.fixture(scope="session")
def expired_leaf(dev_pki: DevPKI, tmp_path_factory: pytest.TempPathFactory) -> LeafFiles:
    """A pgo.localhost leaf from the right intermediate that expired yesterday."""
    directory = tmp_path_factory.mktemp("expired")
    intermediate = load_certificate(dev_pki.intermediate_cert)
    now = datetime.now(UTC)
    leaf, key = issue_leaf(
        intermediate,
        load_private_key(dev_pki.intermediate_key),
        "pgo.localhost",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    files = LeafFiles(cert=directory / "cert.pem", key=directory / "key.pem")
    write_certificates(files.cert, [leaf, intermediate])
    write_private_key(files.key, key)
    return files


ServeFactory = Callable[..., AbstractContextManager[int]]


@contextmanager
def _serve(
    app: ASGIApp,
    ssl_context: ssl.SSLContext,
    *,
    http: str = "auto",
    loop: str = "asyncio",
) -> Iterator[int]:
    """Run uvicorn on a free 127.0.0.1 port in a thread; yield the port; stop and join."""
    sock = listening_socket()
    config = uvicorn_config(
        app,
        host="127.0.0.1",
        port=sock.getsockname()[1],
        ssl_context=ssl_context,
        http=http,
        loop=loop,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    with serving_in_thread(config, sock) as port:
        yield port


@pytest.fixture(scope="session")
def serve() -> ServeFactory:
    """``with serve(app, ssl_context, http=..., loop=...) as port:`` runs a uvicorn server."""
    return _serve


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _fetch(
    context: ssl.SSLContext,
    port: int,
    path: str = "/",
    *,
    host: str = "za.localhost",
) -> Reply:
    """One HTTP/1.1 GET over a fresh TLS connection to 127.0.0.1:port with SNI ``host``.

    Raises ``ssl.SSLError`` or ``OSError`` when the handshake or the first read fails, and
    ``ConnectionError`` when the server closes without answering (a TLS 1.3 server rejects a
    client certificate only after the client has finished its side of the handshake).
    """
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        tls.sendall(request.encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    if not data:
        raise ConnectionError("connection closed without a response")
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status=int(status_line.split()[1]), headers=headers, body=body)


@pytest.fixture(scope="session")
def fetch() -> Callable[..., Reply]:
    """``fetch(ssl_context, port, path="/", host="za.localhost") -> Reply`` over raw TLS."""
    return _fetch


HANDSHAKE_FAILURES: tuple[type[BaseException], ...] = (ssl.SSLError, ConnectionError)
"""What a refused handshake looks like to a client: an alert (SSLError) or a closed connection.
Deliberately not all of OSError, so that e.g. "connection refused" does not count as a pass."""


@pytest.fixture(scope="session")
def handshake_failures() -> tuple[type[BaseException], ...]:
    return HANDSHAKE_FAILURES
