"""Expose the TLS peer certificate to ASGI apps under uvicorn, and gate the back channel on it.

Uvicorn terminates TLS but does not pass the client certificate to the application. This module
adds three pieces:

* :class:`TLSH11Protocol` and :class:`TLSHttpToolsProtocol` — uvicorn HTTP protocol subclasses
  that read the ``ssl_object`` once per connection (in ``connection_made``, which asyncio and
  uvloop call after the handshake) and put the ASGI TLS extension into every request's scope::

      scope["extensions"]["tls"] = {
          "client_cert_chain": [PEM of the peer leaf] or [],
          "client_cert_name": RFC 4514 subject of the peer leaf, or None,
          "client_cert_error": None,      # a certificate that failed verification never gets here
          "tls_version": 0x0303 | 0x0304,
          "cipher_suite": IANA code of the negotiated suite, or None,
          "server_cert": None,
          "client_cert_der": DER bytes of the peer leaf, or None,   # non-standard
      }

  ``client_cert_chain`` holds the leaf only: Python 3.11's ``ssl`` cannot return the chain the
  peer sent. ``client_cert_der`` is our own addition (not in the ASGI TLS extension), so consumers
  need not re-parse PEM; :func:`peer_certificate` reads either.
* :func:`uvicorn_config` — a ``uvicorn.Config`` that serves with *our* ``ssl.SSLContext`` (from
  :func:`medmij_stack.runtime.tls.server_context`) instead of one uvicorn builds from file names,
  which cannot pin the minimum TLS version or the cipher list, and with the protocol subclass above.
* :class:`ClientCertificateGate` — ASGI middleware applying the Whitelist rule per request;
  :func:`admitted_hostnames` is how an app behind it reads whom it admitted.

Spec rule and the reading taken (UCI Opvragen Whitelist, see
docs/protocol.md#tls-and-the-whitelist; core.tls.300-304, core.tls.314): the node that is
the TLS server checks the client's CN/SANs against the current Whitelist "during the
handshake, immediately before sending the Finished message", and sends ``access_denied``
instead of Finished when the check fails or cannot be made. Python's ``ssl`` module offers
no server-side hook at that point (no certificate-verify callback), so the rule is split:

* **in the handshake** (by OpenSSL, from :func:`medmij_stack.runtime.tls.server_context`): TLS
  version and
  suites, the chain to the trusted root (PKIoverheid Private G1 / the dev root) and validity
  dates. A client failing any of these never reaches the application: OpenSSL aborts the
  handshake (asyncio and uvloop then close the connection, so the client may see an EOF rather
  than the alert itself).
* **right after the handshake, per request** (by :class:`ClientCertificateGate`): "is a client
  certificate present, and is its CN or a SAN on the most recent Whitelist?". A refused client
  gets an HTTP error with the error code ``access_denied`` instead of a TLS alert. This is a
  documented deviation: the client learns the outcome one round trip later and as an HTTP
  response, but no request reaches the application unless the check succeeded. Checking per
  request rather than per connection also means a Whitelist update takes effect on kept-alive
  connections immediately.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any, Literal, TypedDict

import uvicorn
from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

from medmij_stack.protocol.oauth_errors import ACCESS_DENIED
from medmij_stack.runtime.oauth_errors import oauth_error_response
from medmij_stack.runtime.tls import PeerRefused, check_hostnames, check_peer, peer_hostnames

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is an optional uvicorn extra
    _HAVE_HTTPTOOLS = False
else:
    _HAVE_HTTPTOOLS = True

__all__ = [
    "ASGIApp",
    "ClientCertificateGate",
    "Message",
    "Receive",
    "Refusal",
    "Scope",
    "Send",
    "TLSExtension",
    "TLSH11Protocol",
    "TLSHttpToolsProtocol",
    "TLSUvicornConfig",
    "admitted_hostnames",
    "peer_certificate",
    "peer_certificate_der",
    "tls_extension",
    "uvicorn_config",
]

logger = logging.getLogger(__name__)

# ASGI types, structurally identical to starlette.types so apps and middleware of either fit.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Refusal = Callable[[Scope, str], ASGIApp]
"""Renders a refusal: given the request scope and the reason, return the ASGI response to send
(e.g. a Starlette ``JSONResponse``); the gate calls it with the request's receive and send."""


class TLSExtension(TypedDict):
    """``scope["extensions"]["tls"]`` as this module fills it."""

    client_cert_chain: list[str]
    client_cert_name: str | None
    client_cert_error: str | None
    tls_version: int | None
    cipher_suite: int | None
    server_cert: str | None
    client_cert_der: bytes | None


_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@functools.cache
def _cipher_codes() -> dict[str, int]:
    """OpenSSL cipher name → IANA code, from every suite this OpenSSL knows.

    ``SSLObject.cipher()`` gives only the OpenSSL name; ``get_ciphers()`` gives the protocol id,
    whose low 16 bits are the IANA code point.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:@SECLEVEL=0")
    return {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> TLSExtension:
    """Build the TLS extension for a connection from its finished handshake."""
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    version = ssl_object.version()
    return TLSExtension(
        client_cert_chain=[ssl.DER_cert_to_PEM_cert(der)] if der else [],
        client_cert_name=(
            x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
        ),
        # OpenSSL aborts the handshake on a certificate it cannot verify, so an error never
        # survives to this point.
        client_cert_error=None,
        tls_version=_TLS_VERSIONS.get(version) if version else None,
        cipher_suite=_cipher_codes().get(cipher[0]) if cipher else None,
        server_cert=None,
        client_cert_der=der or None,
    )


class _WithTLSExtension:
    """Per-connection app wrapper that adds the connection's TLS extension to each scope."""

    __slots__ = ("_app", "_tls")

    def __init__(self, app: ASGIApp, tls: TLSExtension) -> None:
        self._app = app
        self._tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # Copies, so one request's app cannot alter what the next request on the connection
            # sees; the parsing itself happened once, in connection_made.
            tls = TLSExtension(**self._tls)
            tls["client_cert_chain"] = list(self._tls["client_cert_chain"])
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": tls}
        await self._app(scope, receive, send)


def _wrap_app(app: ASGIApp, transport: asyncio.BaseTransport) -> ASGIApp:
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        # Plain HTTP: no TLS extension, as the ASGI spec prescribes; the gate then refuses.
        return app
    return _WithTLSExtension(app, tls_extension(ssl_object))


def _idle_shutdown(transport: asyncio.Transport) -> None:
    """End an idle keep-alive connection at once, without the TLS closing handshake.

    A graceful TLS close sends close_notify and waits for the peer's — up to the loop's
    ssl_shutdown_timeout (30 s). An idle connection in a client's pool (a peer node's
    introspection or list client) never answers it, so a stopping server would hang on
    it. The connection is idle: cutting it loses nothing, and HTTP clients expect a
    pooled connection to be gone.
    """
    transport.abort()


class TLSH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus ``scope["extensions"]["tls"]`` and a prompt TLS close."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # self.app is per protocol instance, i.e. per connection: wrapping it here scopes the
        # certificate to exactly this connection.
        self.app = _wrap_app(self.app, transport)

    def shutdown(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            _idle_shutdown(self.transport)
        else:
            super().shutdown()  # lets the response finish, then closes


if _HAVE_HTTPTOOLS:

    class TLSHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, plus ``scope["extensions"]["tls"]`` and a prompt
        TLS close."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.app = _wrap_app(self.app, transport)

        def shutdown(self) -> None:
            if self.cycle is None or self.cycle.response_complete:
                _idle_shutdown(self.transport)
            else:
                super().shutdown()  # lets the response finish, then closes

else:  # pragma: no cover
    TLSHttpToolsProtocol = TLSH11Protocol  # type: ignore[misc,assignment]


_PROTOCOLS: dict[str, type[asyncio.Protocol]] = {
    "auto": TLSHttpToolsProtocol if _HAVE_HTTPTOOLS else TLSH11Protocol,
    "h11": TLSH11Protocol,
    "httptools": TLSHttpToolsProtocol,
}


class TLSUvicornConfig(uvicorn.Config):
    """A ``uvicorn.Config`` that serves with a given ``ssl.SSLContext``.

    Uvicorn builds its context from ``ssl_certfile``/``ssl_keyfile``/``ssl_ciphers`` and offers no
    way to set the minimum TLS version; :meth:`load` installs ours after uvicorn's own loading
    (which, seeing no certificate file, sets none). ``proxy_headers`` is forced off: TLS ends here,
    and X-Forwarded-* from a client must not change the peer address that logs record.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        ssl_context: ssl.SSLContext,
        http: Literal["auto", "h11", "httptools"] = "auto",
        **kwargs: Any,
    ) -> None:
        ssl_options = sorted(name for name in kwargs if name.startswith("ssl_"))
        if ssl_options:
            raise TypeError(f"pass ssl_context, not {', '.join(ssl_options)}")
        if kwargs.get("proxy_headers"):
            raise ValueError("proxy_headers must stay off: TLS is terminated by this server")
        if kwargs.get("http2"):
            raise ValueError("HTTP/2 is not supported by the TLS-extension protocols")
        if http not in _PROTOCOLS:
            raise ValueError(f"http must be one of {sorted(_PROTOCOLS)}: {http!r}")
        kwargs["proxy_headers"] = False
        # uvicorn hands WebSocket upgrades to a separate protocol that would not carry the TLS
        # extension; no back-channel endpoint uses WebSockets, so they are off unless asked for.
        kwargs.setdefault("ws", "none")
        super().__init__(app, http=_PROTOCOLS[http], **kwargs)
        self.tls_context = ssl_context

    @property
    def is_ssl(self) -> bool:
        # False while uvicorn's load() runs, so it does not look for certificate files; True after,
        # so that uvicorn's messages say https.
        return self.loaded or bool(super().is_ssl)

    def load(self) -> None:
        super().load()
        self.ssl = self.tls_context


def uvicorn_config(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext,
    **kwargs: Any,
) -> uvicorn.Config:
    """A uvicorn config serving ``app`` over TLS with ``ssl_context`` and the TLS extension.

    ``kwargs`` go to ``uvicorn.Config`` (``log_level``, ``lifespan``, ``loop``…), plus ``http``:
    ``"auto"`` (httptools when installed, else h11), ``"h11"`` or ``"httptools"``.
    """
    return TLSUvicornConfig(app, host=host, port=port, ssl_context=ssl_context, **kwargs)


# --- reading the certificate from a scope ------------------------------------------------------


def _tls(scope: Scope) -> MutableMapping[str, Any] | None:
    extensions = scope.get("extensions") or {}
    tls = extensions.get("tls")
    if type(tls) is dict:  # what our protocols put there; spares the ABC check per request
        return tls
    return tls if isinstance(tls, MutableMapping) else None


def peer_certificate_der(scope: Scope) -> bytes | None:
    """DER of the client certificate of this request's connection, or None.

    Reads our ``client_cert_der`` when present, else the first PEM of the standard
    ``client_cert_chain`` (so it also works under other servers that fill the TLS extension).
    """
    tls = _tls(scope)
    if tls is None:
        return None
    der = tls.get("client_cert_der")
    if isinstance(der, bytes) and der:
        return der
    # The extension allows any iterable here; the first element is the peer's own certificate.
    first = next(iter(tls.get("client_cert_chain") or ()), None)
    return ssl.PEM_cert_to_DER_cert(first) if isinstance(first, str) else None


def peer_certificate(scope: Scope) -> x509.Certificate | None:
    """The client certificate of this request's connection, or None when none was presented."""
    der = peer_certificate_der(scope)
    return x509.load_der_x509_certificate(der) if der else None


# --- the gate ----------------------------------------------------------------------------------

# Where the gate leaves the admitted peer's host names: scope["state"], which Starlette shows as
# request.state, so the name stays readable as request.state.medmij_peer.
_PEER = "medmij_peer"


def _default_refusal(scope: Scope, reason: str) -> ASGIApp:
    return oauth_error_response(403, ACCESS_DENIED, reason)


class ClientCertificateGate:
    """ASGI middleware: back-channel requests pass only for a client whose certificate is on the
    current Whitelist (MedMij Whitelist rule, UCI Opvragen Whitelist).

    Reading taken: the rule wants the check inside the handshake, just before the server's
    Finished message, answered with an ``access_denied`` alert. Python's ``ssl`` has no server-side
    hook there, so chain, expiry, version and suites are enforced in the handshake (by
    ``medmij_stack.runtime.tls.server_context``) and this Whitelist check runs right after it, on
    every request, answering with a clear protocol error instead of a TLS alert. That is a
    documented deviation from core.tls / the UCI Whitelist text; no request reaches the app before
    the check succeeds.

    For every HTTP (and WebSocket) request whose path is not in ``exempt_paths``:

    * no client certificate on the connection → refused;
    * the TLS layer reported a certificate error → refused;
    * ``whitelist()`` returns None (no Whitelist loaded yet) → refused: fail closed, the rule
      admits a node only after the check has *succeeded*;
    * neither the certificate's CN nor a DNS SAN is on the Whitelist (case-insensitive) → refused.

    ``whitelist`` is called per request so that the most recent Whitelist always applies.
    Otherwise the request goes on with the peer's host names (a frozenset, lower case) in its
    scope, which :func:`admitted_hostnames` reads, so an app can bind e.g. an OAuth ``client_id``
    to it.

    A refusal is answered by ``refuse(scope, reason)``, which returns the ASGI response to send
    (services render OAuth or FHIR OperationOutcome errors); the default is a 403 with
    ``{"error": "access_denied", "error_description": reason}``
    (:func:`medmij_stack.runtime.oauth_errors.oauth_error_response`). WebSocket requests are refused
    by closing with code 1008 (policy violation). Lifespan events pass untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        whitelist: Callable[[], Collection[str] | None],
        exempt_paths: Collection[str] = ("/health",),
        refuse: Refusal | None = None,
    ) -> None:
        self.app = app
        self.whitelist = whitelist
        self.exempt_paths = frozenset(exempt_paths)
        self.refuse: Refusal = refuse or _default_refusal

    def admit(self, scope: Scope) -> frozenset[str]:
        """Apply the rule to a request; return the peer's host names or raise PeerRefused."""
        tls = _tls(scope)
        if tls is not None and tls.get("client_cert_error"):
            raise PeerRefused(f"client certificate rejected: {tls['client_cert_error']}")
        der = peer_certificate_der(scope)
        if der is None:
            return check_peer(None, None)
        return check_hostnames(_hostnames(der), self.whitelist())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        try:
            names = self.admit(scope)
        except PeerRefused as refused:
            client = scope.get("client")
            logger.info("refused %s %s: %s", client, scope.get("path"), refused.reason)
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": refused.reason})
            else:
                await self.refuse(scope, refused.reason)(scope, receive, send)
            return
        scope.setdefault("state", {})[_PEER] = names
        await self.app(scope, receive, send)


def admitted_hostnames(scope: Scope) -> frozenset[str]:
    """The host names the gate found in this request's client certificate.

    Empty when the request did not pass a :class:`ClientCertificateGate` (an exempt path, or
    an app served without one): no name was checked, so none may be trusted.
    """
    state = scope.get("state") or {}
    names = state.get(_PEER)
    return names if isinstance(names, frozenset) else frozenset()


@functools.lru_cache(maxsize=1024)
def _hostnames(der: bytes) -> frozenset[str]:
    # Requests on one connection, and connections of one node, share a certificate: parse it once.
    return peer_hostnames(der)
