"""The back channel: token, revocation and introspection endpoints, and the metadata.

Every request here has passed the Whitelist gate
(medmij_stack.runtime.asgi_tls.ClientCertificateGate): mutual TLS with a certificate that chains to
the trusted root and whose CN or SAN is on the current Whitelist. The gate's refusal
(``access_denied``) is recorded in the ketenlog like any other answer.
``/.well-known/oauth-authorization-server`` is exempt from the gate, like ``/health``: it is public
metadata (RFC 8414) that adds nothing the ZAL does not already publish, and the front channel links
to it for people without a client certificate.

Endpoint handlers read the body strictly (:mod:`authserver.adapter`), then run authlib
(synchronous, with database calls) in the thread pool, and record
``receive_…_request`` and ``send_…_response`` / ``send_…_error`` with the MedMij-Request-ID
as ``request.id`` and the X-Correlation-ID as ``trace_id`` (core.tknint.208).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from medmij_stack.protocol.headers import Tracing, lenient_from
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, INVALID_REQUEST, SERVER_ERROR
from medmij_stack.runtime.asgi_tls import ASGIApp, Receive, Scope, Send
from medmij_stack.runtime.oauth_errors import oauth_error_response

from . import paths
from .adapter import BadInput, back_channel_request, render
from .eventlog import Trail
from .grants import GrantInfo
from .oauth.metadata import authorization_server_metadata
from .oauth.requests import Incoming, MedMijRequest
from .oauth.server import OAuthResponse
from .runtime import Dva

__all__ = ["gate_refusal", "mount_back"]

log = logging.getLogger(__name__)


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


def _received(
    dva: Dva, path: str, tracing: Tracing, client_id: str | None, grant_type: str | None
) -> Trail:
    trail = Trail(location=dva.settings.hostname, trace_id=tracing.correlation_id)
    trail.add(
        _EVENTS[path].received,
        request=RequestInfo(
            id=tracing.request_id,
            method="POST",
            uri=dva.settings.issuer + path,
            client_id=client_id,
            server_id=dva.settings.hostname,
            grant_type=grant_type,
        ),
    )
    return trail


def _answered(trail: Trail, path: str, tracing: Tracing, status: int, body: object) -> None:
    events = _EVENTS[path]
    if status == 200:
        trail.add(events.answered, response=ResponseInfo(id=tracing.request_id, status=status))
        return
    error = body if isinstance(body, dict) else {}
    trail.add(
        events.failed,
        error=ErrorInfo(
            code=str(error.get("error", "other")),
            description=error.get("error_description"),
            request_id=tracing.request_id,
            status=status,
        ),
    )


def gate_refusal(dva: Dva) -> Callable[[Scope, str], ASGIApp]:
    """The gate's answer to a peer it refuses: OAuth-shaped ``access_denied``, recorded."""

    def refuse(scope: Scope, reason: str) -> ASGIApp:
        response = oauth_error_response(403, ACCESS_DENIED, reason)
        path = scope.get("path", "")

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            if path in _EVENTS:
                headers = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
                }
                tracing, _ = lenient_from(headers, {})
                trail = _received(dva, path, tracing, None, None)
                _answered(trail, path, tracing, 403, json.loads(bytes(response.body)))
                await run_in_threadpool(trail.flush, dva.ketenlog)
            await response(scope, receive, send)

        return respond

    return refuse


def mount_back(app: FastAPI, dva: Dva) -> None:
    """Put the back-channel endpoints on the back-channel app."""
    metadata = authorization_server_metadata(dva.settings)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error at %s", request.url.path, exc_info=exc)
        return oauth_error_response(
            500, SERVER_ERROR, "The authorization server failed; try again."
        )

    app.add_exception_handler(Exception, unexpected)

    def run(
        path: str,
        incoming: Incoming,
        tracing: Tracing,
        endpoint: Callable[[MedMijRequest], OAuthResponse],
    ) -> Response:
        request = MedMijRequest(incoming)
        payload = request.payload
        trail = _received(dva, path, tracing, payload.client_id, payload.grant_type)
        answer = endpoint(request)
        grant = request.medmij.get("grant")
        if isinstance(grant, GrantInfo):
            trail.bind_session(grant.session_id)
        _answered(trail, path, tracing, answer.status, answer.body)
        trail.flush(dva.ketenlog)
        return render(answer)

    async def handle(
        request: Request, path: str, endpoint: Callable[[MedMijRequest], OAuthResponse]
    ) -> Response:
        tracing, problems = lenient_from(request.headers, {})
        for problem in problems:
            log.info("%s: %s", path, problem)
        try:
            incoming = await back_channel_request(request)
        except BadInput as bad:
            response = oauth_error_response(bad.status, INVALID_REQUEST, bad.description)
            trail = _received(dva, path, tracing, None, None)
            _answered(trail, path, tracing, bad.status, json.loads(bytes(response.body)))
            await run_in_threadpool(trail.flush, dva.ketenlog)
            return response
        return await run_in_threadpool(run, path, incoming, tracing, endpoint)

    @app.post(paths.TOKEN, include_in_schema=False)
    async def token(request: Request) -> Response:
        return await handle(request, paths.TOKEN, dva.oauth.token_response)

    @app.post(paths.REVOKE, include_in_schema=False)
    async def revoke(request: Request) -> Response:
        return await handle(request, paths.REVOKE, dva.oauth.revocation_response)

    @app.post(paths.INTROSPECT, include_in_schema=False)
    async def introspect(request: Request) -> Response:
        return await handle(request, paths.INTROSPECT, dva.oauth.introspection_response)

    @app.get(paths.METADATA, include_in_schema=False)
    def well_known() -> JSONResponse:
        return JSONResponse(metadata, headers={"Cache-Control": "public, max-age=300"})
