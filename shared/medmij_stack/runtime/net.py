"""HTTP clients for the stack's own back-channel calls: mutual TLS, Private-root trust, host map.

Spec rules and the reading taken:

* core.tls.300-304 and core.tls.314: every client is built on
  :func:`medmij_stack.runtime.tls.client_context`
  (TLS 1.2/1.3, NCSC "goed" suites, only the given CA files trusted, hostname always checked,
  the node's own PKIoverheid-style leaf offered for mutual TLS). There is no way to switch
  verification off.
* Back-channel calls never follow redirects (``follow_redirects=False``): a redirect could carry
  a bearer token or authorization code to a host that was not checked against the Whitelist.
* ``trust_env=False``: proxy variables from the environment would route back-channel traffic
  through a host nobody vetted, and would bypass the host map below.
* The Whitelist rule for the client side ("check the server's hostname before the handshake
  starts") is the caller's job, with :func:`medmij_stack.runtime.tls.check_hostnames`, since only
  the caller knows which Whitelist is current; these clients then guarantee the certificate matches.

Host map: node hostnames in the dev stack are subdomains of ``localhost`` (``pgo.localhost``).
Browsers resolve those to loopback (RFC 6761), but glibc's resolver, which Python uses, does not.
The clients therefore take ``hosts`` (hostname → IP address) and connect to the mapped address
while keeping the *name* for SNI and for the certificate hostname check, like ``curl
--resolve``. Unmapped names use normal DNS.

How: httpcore's connection pool takes a ``network_backend``; a thin wrapper around httpcore's
own sync/AnyIO backend rewrites the host in ``connect_tcp`` only. TLS is started afterwards by
httpcore on the returned stream with ``server_hostname`` = the URL's host, so SNI and hostname
verification see the real name. httpx's ``HTTPTransport`` does not expose ``network_backend``,
so :class:`_MappedHTTPTransport` lets httpx build its transport (keeping httpx's request/response
conversion and exception mapping, which a hand-written transport would have to duplicate) and
then replaces the pool it made with one that has the backend; a check makes a future httpx that
renames the attribute fail loudly instead of silently dropping the host map.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio.abc
import httpcore
import httpx
from httpcore._backends.anyio import AnyIOStream
from httpcore._utils import is_socket_readable

from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.tls import client_context

__all__ = ["LeafFiles", "make_async_client", "make_client"]


def _normalise_hosts(hosts: Mapping[str, str] | None) -> dict[str, str]:
    # DNS names compare case-insensitively, and httpcore hands us the URL host as written.
    return {name.lower().rstrip("."): address for name, address in (hosts or {}).items()}


class _MappedBackend(httpcore.SyncBackend):
    """httpcore's blocking socket backend, connecting mapped hostnames to their fixed address."""

    def __init__(self, hosts: Mapping[str, str]) -> None:
        self._hosts = dict(hosts)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self._hosts.get(host.lower().rstrip("."), host)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class _PooledAnyIOStream(AnyIOStream):
    """httpcore's AnyIO stream, asked cheaply whether the server closed an idle connection.

    The pool asks that of every pooled connection each time a request starts or ends
    (``has_expired``). httpcore's own stream looks the socket up through AnyIO's typed
    attributes, which build a fresh table of every attribute, ``getpeername()`` included,
    on each ask: with a few dozen kept-alive connections that was a fifth of the CPU of
    the PGO's resource requests. The socket under a connection never changes (TLS wraps
    the same one), so it is looked up once.
    """

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__(stream)
        self._socket: socket.socket | None = stream.extra(  # noqa: S610 - AnyIO, not Django
            anyio.abc.SocketAttribute.raw_socket, None
        )

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        secured = await super().start_tls(ssl_context, server_hostname, timeout)
        assert isinstance(secured, AnyIOStream)
        return _PooledAnyIOStream(secured._stream)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return super().get_extra_info(info)


class _MappedAsyncBackend(httpcore.AnyIOBackend):
    """httpcore's AnyIO backend (asyncio and trio), connecting mapped hostnames to their address."""

    def __init__(self, hosts: Mapping[str, str]) -> None:
        self._hosts = dict(hosts)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = self._hosts.get(host.lower().rstrip("."), host)
        stream = await super().connect_tcp(address, port, timeout, local_address, socket_options)
        if not isinstance(stream, AnyIOStream):
            raise RuntimeError("this httpcore version builds its streams differently; adapt net.py")
        return _PooledAnyIOStream(stream._stream)


SERVER_KEEPALIVE = 5.0
"""Seconds our servers (uvicorn's default ``timeout_keep_alive``) keep an idle connection."""

KEEPALIVE_EXPIRY = 2.0
"""Seconds an idle pooled connection is reused. Our servers (uvicorn) close an idle
connection after 5 s; with httpx's default of 5 s on this side too, a request sent on a
connection the server was closing that very moment failed with RemoteProtocolError (about
one retrieval in 60–90 in a simulation). Dropping idle connections well before the server
does removes that race."""


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_STALE_RETRIES = 2
"""How often an idempotent request is sent again after a kept-alive connection turned out
closed: the pool may hold more than one connection the server dropped at the same moment."""


def _stale_connection(request: httpx.Request, exc: httpx.RemoteProtocolError) -> bool:
    """Whether ``exc`` is the server closing a kept-alive connection before any answer.

    Dropping idle connections early (:data:`KEEPALIVE_EXPIRY`) narrows this race; a server
    under load, restarting, or closing for its own reasons can still close a connection as
    a request goes out on it. Nothing of an answer was read then, so for a method without
    side effects sending it again is what browsers and urllib3 do. A token exchange or any
    other POST is never sent twice: the server may have acted on it.
    """
    return request.method in _IDEMPOTENT and "without sending a response" in str(exc)


def _pool_options(limits: httpx.Limits, keepalive_expiry: float) -> dict[str, Any]:
    return {
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": keepalive_expiry,
        "http1": True,
        "http2": False,
    }


class _MappedHTTPTransport(httpx.HTTPTransport):
    def __init__(self, context: ssl.SSLContext, hosts: Mapping[str, str]) -> None:
        limits = httpx.Limits()
        super().__init__(verify=context, trust_env=False, limits=limits)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("this httpx version builds its transport differently; adapt net.py")
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            network_backend=_MappedBackend(hosts),
            **_pool_options(limits, KEEPALIVE_EXPIRY),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for retry in range(_STALE_RETRIES + 1):
            try:
                return super().handle_request(request)
            except httpx.RemoteProtocolError as exc:
                if retry == _STALE_RETRIES or not _stale_connection(request, exc):
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises


class _MappedAsyncHTTPTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, context: ssl.SSLContext, hosts: Mapping[str, str], keepalive_expiry: float
    ) -> None:
        # Every connection may stay for reuse (httpx keeps 20): a PGO with eight retrievals
        # in flight, four requests each, closed a dozen after each wave and shook hands
        # anew (mutual TLS) for the next; idle ones still go after ``keepalive_expiry``.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        super().__init__(verify=context, trust_env=False, limits=limits)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("this httpx version builds its transport differently; adapt net.py")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            network_backend=_MappedAsyncBackend(hosts),
            **_pool_options(limits, keepalive_expiry),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for retry in range(_STALE_RETRIES + 1):
            try:
                return await super().handle_async_request(request)
            except httpx.RemoteProtocolError as exc:
                if retry == _STALE_RETRIES or not _stale_connection(request, exc):
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises


def _context(trust: Sequence[Path], cert: LeafFiles | None) -> ssl.SSLContext:
    if cert is None:
        return client_context(trust)
    return client_context(trust, cert=cert.cert, key=cert.key)


def make_client(
    *,
    trust: Sequence[Path],
    cert: LeafFiles | None = None,
    hosts: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> httpx.Client:
    """A blocking back-channel client.

    ``trust``: CA PEM files server certificates must chain to (the Private root; never the system
    store). ``cert``: this node's leaf, offered for mutual TLS. ``hosts``: hostname → IP address
    overrides, e.g. ``{"pgo.localhost": "127.0.0.1"}``. ``timeout`` applies to connect, read,
    write and pool waits alike. Redirects are never followed.
    """
    context = _context(trust, cert)
    return httpx.Client(
        transport=_MappedHTTPTransport(context, _normalise_hosts(hosts)),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )


def make_async_client(
    *,
    trust: Sequence[Path],
    cert: LeafFiles | None = None,
    hosts: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    keepalive_expiry: float = KEEPALIVE_EXPIRY,
) -> httpx.AsyncClient:
    """The ``asyncio``/``trio`` twin of :func:`make_client`, with the same guarantees.

    ``keepalive_expiry``: seconds an idle pooled connection is reused; keep it well below the
    servers' 5 s (:data:`KEEPALIVE_EXPIRY`)."""
    if not 0 < keepalive_expiry <= SERVER_KEEPALIVE - 1.0:
        raise ValueError(
            f"keepalive_expiry must stay a second below the servers' {SERVER_KEEPALIVE} s"
        )
    context = _context(trust, cert)
    return httpx.AsyncClient(
        transport=_MappedAsyncHTTPTransport(context, _normalise_hosts(hosts), keepalive_expiry),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
