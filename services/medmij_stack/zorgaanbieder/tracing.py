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

from starlette.datastructures import Headers, MutableHeaders

from medmij_stack.protocol.headers import MEDMIJ_REQUEST_ID, X_CORRELATION_ID, Tracing, lenient_from
from medmij_stack.runtime.asgi_tls import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TracingMiddleware", "tracing_of"]

log = logging.getLogger(__name__)


def tracing_of(scope: Scope) -> Tracing | None:
    """The ids this middleware found or made for the request."""
    found = (scope.get("state") or {}).get("medmij_tracing")
    return found if isinstance(found, Tracing) else None


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        tracing, problems = lenient_from(Headers(scope=scope), {})
        if problems:
            log.debug("%s %s: %s", scope.get("method"), scope.get("path"), "; ".join(problems))
        scope.setdefault("state", {})["medmij_tracing"] = tracing

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[MEDMIJ_REQUEST_ID] = tracing.request_id
                headers[X_CORRELATION_ID] = tracing.correlation_id
                elapsed = (time.perf_counter() - started) * 1000
                headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
            await send(message)

        await self.app(scope, receive, send_with_ids)
