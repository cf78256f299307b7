"""The back channel: token, revocation and introspection endpoints, and the metadata.

Every request here has passed the Whitelist gate
(medmij_stack.runtime.asgi_tls.ClientCertificateGate): mutual TLS with a certificate that
chains to the trusted root and whose CN or SAN is on the current Whitelist.
``/.well-known/oauth-authorization-server`` is exempt from the gate, like ``/health``: it is
public metadata (RFC 8414) that adds nothing the ZAL does not already publish, and the
front channel links to it for people without a client certificate.

Endpoint handlers read the body strictly (:func:`back_channel_request`), then run authlib
(synchronous, with database calls) on the event loop when the database's writer's turn is
free at once (SQLite: a millisecond's local work, and no hand-off to a thread and back,
which cost more CPU than the exchange's statements), else in the thread pool, where waiting
for the turn (another worker writing; PostgreSQL) blocks no other request. Each request is one
:class:`Exchange`, which records ``receive_…_request`` and ``send_…_response`` /
``send_…_error`` with the MedMij-Request-ID as ``request.id`` and the X-Correlation-ID as
``trace_id`` (core.tknint.208), in the person's session once the code or token names it.

Bodies are read under the rules of RFC 6749 3.2 and 4.1.3: ``application/x-www-form-
urlencoded`` only (GIDS sent JSON; that is refused), parameters in the body and not in the
query string (Zorgdoc put them there), UTF-8, no parameter twice, and a bounded size.

Every refusal (a body refused before OAuth reads it, an authlib refusal, the Whitelist
gate's ``access_denied``, the DigiD simulator's) is a
:class:`~authserver.errors.BackChannelError`, rendered by :meth:`BackChannel.refusal`, the
one exception handler of this app, as an RFC 6749 5.2 body
(:func:`medmij_stack.runtime.oauth_errors.oauth_error_response`). A fault of our own is a
``500 server_error`` with nothing of the fault in it, and is logged, not recorded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from medmij_stack.protocol.dva_contract import certificate_thumbprint
from medmij_stack.protocol.headers import Tracing, lenient_from
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.runtime.asgi_tls import (
    ASGIApp,
    Receive,
    Refusal,
    Scope,
    Send,
    admitted_hostnames,
    peer_certificate_der,
)
from medmij_stack.runtime.backchannel import UnreadableRequest, read_body
from medmij_stack.runtime.oauth_errors import oauth_error_response

from . import paths
from .errors import (
    FORM_ENCODING_REQUIRED,
    QUERY_PARAMETERS_REFUSED,
    AccessDenied,
    BackChannelError,
    DvaError,
    InvalidRequest,
    ServerError,
)
from .eventlog import Ketenlog, Trail
from .grant_store import GrantInfo
from .oauth.metadata import authorization_server_metadata
from .oauth.requests import Incoming, MedMijRequest
from .oauth.server import OAuthResponse

if TYPE_CHECKING:
    from .runtime import Dva

__all__ = ["BackChannel", "Exchange", "back_channel_request", "mount_back"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024  # an OAuth request body is a few hundred bytes
_MAX_FIELDS = 50


async def back_channel_request(request: Request) -> Incoming:
    """A POST to the token, revocation or introspection endpoint, read strictly.

    Raises InvalidRequest: a request refused before OAuth looks at it.
    """
    if request.url.query:
        raise InvalidRequest(QUERY_PARAMETERS_REFUSED)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequest(FORM_ENCODING_REQUIRED)
    try:
        body = await read_body(request, max_bytes=MAX_BODY_BYTES)
    except UnreadableRequest as unreadable:
        description = f"Invalid request: {unreadable.description}."
        raise InvalidRequest(description, status=unreadable.status) from None
    try:
        params = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("Invalid request: the body is not UTF-8 form data.") from None
    incoming = Incoming(
        method=request.method,
        uri=str(request.url),
        headers=dict(request.headers),
        params=params,
        peer=admitted_hostnames(request.scope),
        peer_thumbprint=certificate_thumbprint(peer_certificate_der(request.scope)),
    )
    repeated = incoming.repeated()
    if repeated is not None:
        raise InvalidRequest(f"Invalid request: parameter {repeated} is repeated.")
    return incoming


def _rendered(answer: OAuthResponse) -> Response:
    """An answer authlib gave (refusals never get here: they are raised)."""
    headers = {k: v for k, v in answer.headers if k.lower() != "content-type"}
    if isinstance(answer.body, dict):
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)
    return Response(answer.body, status_code=answer.status, headers=headers)


@dataclass(frozen=True)
class _Events:
    received: EventType
    answered: EventType
    failed: EventType


_EVENTS = {
    paths.TOKEN: _Events(
        EventType.RECEIVE_TOKEN_REQUEST, EventType.SEND_TOKEN_RESPONSE, EventType.SEND_TOKEN_ERROR
    ),
    paths.REVOKE: _Events(
        EventType.RECEIVE_REVOCATION_REQUEST,
        EventType.SEND_REVOCATION_RESPONSE,
        EventType.SEND_REVOCATION_ERROR,
    ),
    paths.INTROSPECT: _Events(
        EventType.RECEIVE_INTROSPECTION_REQUEST,
        EventType.SEND_INTROSPECTION_RESPONSE,
        EventType.SEND_INTROSPECTION_ERROR,
    ),
}


@dataclass
class Exchange:
    """One request to the token, revocation or introspection endpoint, for the ketenlog."""

    uri: str
    hostname: str
    events: _Events
    tracing: Tracing
    trail: Trail
    _received: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, dva: Dva, path: str, headers: Mapping[str, str]) -> Exchange:
        tracing, problems = lenient_from(headers, {})
        for problem in problems:
            log.info("%s: %s", path, problem)
        hostname = dva.settings.hostname
        return cls(
            uri=dva.settings.issuer + path,
            hostname=hostname,
            events=_EVENTS[path],
            tracing=tracing,
            trail=Trail(location=hostname, trace_id=tracing.correlation_id, clock=dva.clock),
        )

    def receive(self, client_id: str | None = None, grant_type: str | None = None) -> None:
        """The request arrived (recorded once, with what its body names when it was read)."""
        if self._received:
            return
        self._received = True
        self.trail.add(
            self.events.received,
            request=RequestInfo(
                id=self.tracing.request_id,
                method="POST",
                uri=self.uri,
                client_id=client_id,
                server_id=self.hostname,
                grant_type=grant_type,
            ),
        )

    def in_session_of(self, grant: GrantInfo | None) -> None:
        """The code or token presented belongs to a consent: record in the person's session."""
        if grant is not None:
            self.trail.bind_session(grant.session_id)

    def answered(self) -> None:
        self.receive()
        response = ResponseInfo(id=self.tracing.request_id, status=200)
        self.trail.add(self.events.answered, response=response)

    def refused(self, error: BackChannelError) -> None:
        self.receive()
        self.trail.add(
            self.events.failed,
            error=ErrorInfo(
                code=error.error,
                description=error.description,
                request_id=self.tracing.request_id,
                status=error.status,
            ),
        )

    def flush(self, ketenlog: Ketenlog) -> None:
        self.trail.flush(ketenlog)


class BackChannel:
    """The back-channel endpoints of one DVA, and the one renderer of their refusals."""

    def __init__(self, dva: Dva) -> None:
        self.dva = dva

    async def refusal(self, request: Request, exc: Exception) -> Response:
        """The app's one exception handler; the Whitelist gate answers through it too."""
        if not isinstance(exc, BackChannelError):
            # A fault of our own, not of the request: the peer learns nothing of it.
            log.error("unexpected error at %s", request.url.path, exc_info=exc)
            error: BackChannelError = ServerError("The authorization server failed; try again.")
            return oauth_error_response(error.status, error.oauth)
        exchange = getattr(request.state, "exchange", None)
        if isinstance(exchange, Exchange):
            exchange.refused(exc)
            await run_in_threadpool(exchange.flush, self.dva.ketenlog)
        return oauth_error_response(exc.status, exc.oauth)

    def gate_refusal(self) -> Refusal:
        """The Whitelist gate's answer to a peer it refuses: ``access_denied``, recorded."""

        def refuse(scope: Scope, reason: str) -> ASGIApp:
            async def respond(scope: Scope, receive: Receive, send: Send) -> None:
                request = Request(scope, receive)
                if request.url.path in _EVENTS:
                    exchange = Exchange.start(self.dva, request.url.path, request.headers)
                    request.state.exchange = exchange
                response = await self.refusal(request, AccessDenied(reason))
                await response(scope, receive, send)

            return respond

        return refuse

    async def handle(
        self, request: Request, path: str, endpoint: Callable[[MedMijRequest], OAuthResponse]
    ) -> Response:
        request.state.exchange = exchange = Exchange.start(self.dva, path, request.headers)
        incoming = await back_channel_request(request)
        turn = self.dva.db.writer_turn_now()
        if turn is None:
            return await run_in_threadpool(self.run, exchange, incoming, endpoint)
        # Here, on the loop: the turn is ours, nothing below waits for another writer. What
        # must follow the commit (the revocation notice, a call to the resource server) runs
        # in the thread pool, still before the answer, the refusal's too.
        after_commit: list[Callable[[], None]] = []
        try:
            return self.run(exchange, incoming, endpoint, turn=turn, after_commit=after_commit)
        finally:
            if after_commit:
                await run_in_threadpool(_run_each, after_commit)

    def run(
        self,
        exchange: Exchange,
        incoming: Incoming,
        endpoint: Callable[[MedMijRequest], OAuthResponse],
        *,
        turn: contextlib.ExitStack | None = None,
        after_commit: list[Callable[[], None]] | None = None,
    ) -> Response:
        # One transaction for the whole request (authserver.db): the code spent, the tokens
        # stored and the request's ketenlog records are committed together, once, before
        # the answer. A refusal commits what led to it; its records follow (refusal).
        with self.dva.db.unit_of_work(turn=turn, deferred=after_commit):
            request = MedMijRequest(incoming)
            exchange.receive(request.payload.client_id, request.payload.grant_type)
            try:
                answer = endpoint(request)
            finally:
                exchange.in_session_of(request.findings.grant)
            exchange.answered()
            exchange.flush(self.dva.ketenlog)
        return _rendered(answer)


def _run_each(steps: list[Callable[[], None]]) -> None:
    for step in steps:
        step()


def mount_back(app: FastAPI, dva: Dva) -> BackChannel:
    """Put the back-channel endpoints and their refusal handler on the back-channel app."""
    back = BackChannel(dva)
    metadata = authorization_server_metadata(dva.settings)
    app.add_exception_handler(DvaError, back.refusal)
    app.add_exception_handler(Exception, back.refusal)

    async def token(request: Request) -> Response:
        return await back.handle(request, paths.TOKEN, dva.oauth.token_response)

    async def revoke(request: Request) -> Response:
        return await back.handle(request, paths.REVOKE, dva.oauth.revocation_response)

    async def introspect(request: Request) -> Response:
        return await back.handle(request, paths.INTROSPECT, dva.oauth.introspection_response)

    # Plain Starlette routes: the handlers take the raw request and read it themselves
    # (back_channel_request), so FastAPI's parameter and dependency machinery would only add
    # work to every token exchange. The app's exception handlers apply all the same.
    app.add_route(paths.TOKEN, token, methods=["POST"], include_in_schema=False)
    app.add_route(paths.REVOKE, revoke, methods=["POST"], include_in_schema=False)
    app.add_route(paths.INTROSPECT, introspect, methods=["POST"], include_in_schema=False)

    @app.get(paths.METADATA, include_in_schema=False)
    def well_known() -> JSONResponse:
        return JSONResponse(metadata, headers={"Cache-Control": "public, max-age=300"})

    return back
