"""MedMij-Request-ID and X-Correlation-ID on every answer of the resource server, and its time.

``core.rscint.201``: the PGO sends both with every resource request. The resource server
echoes them in its answer (as MGO's DVA does, docs/protocol.md#resource-requests), so that
the PGO can tie an answer, and an error above all, to its request in the ketenlog. Following
:func:`medmij_stack.protocol.headers.lenient_from`, a missing or malformed id costs the person
nothing: the answer then carries a fresh one, and the problem is logged.

This wraps the whole app, the Whitelist gate included, so that a refusal carries the ids too.
It also says how long the server took, as ``Server-Timing: app;dur=<ms>`` (W3C Server
Timing): measurement (docs/architecture.md#performance-budgets, "server time") then needs no
access to the server.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers

from medmij_stack.protocol.headers import (
    MEDMIJ_REQUEST_ID,
    X_CORRELATION_ID,
    HeaderError,
    Tracing,
    lenient_from,
)
from medmij_stack.runtime.asgi_tls import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TracingMiddleware", "tracing_of"]

log = logging.getLogger(__name__)


def tracing_of(scope: Scope) -> Tracing | None:
    """The ids this middleware found or made for the request."""
    found = (scope.get("state") or {}).get("medmij_tracing")
    return found if isinstance(found, Tracing) else None


_REQUEST_ID = MEDMIJ_REQUEST_ID.lower().encode("latin-1")
_CORRELATION_ID = X_CORRELATION_ID.lower().encode("latin-1")
_SERVER_TIMING = b"server-timing"
_SET_HERE = frozenset({_REQUEST_ID, _CORRELATION_ID, _SERVER_TIMING})


def _ids_sent(scope: Scope) -> Tracing | None:
    """Both ids as sent, when each header is there and valid: what :func:`lenient_from` finds
    then too (the first field of each name, as Starlette's ``Headers.get``), without its
    case-insensitive lookups. None when anything is missing or off: the lenient way decides."""
    request_id = correlation_id = None
    for name, value in scope["headers"]:
        if name == _REQUEST_ID:
            request_id = value if request_id is None else request_id
        elif name == _CORRELATION_ID:
            correlation_id = value if correlation_id is None else correlation_id
    if request_id is None or correlation_id is None:
        return None
    try:
        return Tracing(request_id.decode("latin-1"), correlation_id.decode("latin-1"))
    except HeaderError:
        return None


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        tracing = _ids_sent(scope)
        if tracing is None:
            tracing, problems = lenient_from(Headers(scope=scope), {})
            if problems:
                log.debug("%s %s: %s", scope.get("method"), scope.get("path"), "; ".join(problems))
        scope.setdefault("state", {})["medmij_tracing"] = tracing
        ours = [
            (_REQUEST_ID, tracing.request_id.encode("latin-1")),
            (_CORRELATION_ID, tracing.correlation_id.encode("latin-1")),
        ]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Ours replace any the app set (as Starlette's MutableHeaders would).
                elapsed = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *(
                        field
                        for field in message.get("headers", ())
                        if field[0].lower() not in _SET_HERE
                    ),
                    *ours,
                    (_SERVER_TIMING, f"app;dur={elapsed:.2f}".encode("latin-1")),
                ]
            await send(message)

        await self.app(scope, receive, send_with_ids)
