"""MedMij-Request-ID and X-Correlation-ID on every answer of the resource server, and its time.

``core.rscint.201``: the PGO sends both with every resource request. The resource server
echoes them in its answer (as MGO's DVA does, docs/protocol.md#resource-requests), so that
the PGO can tie an answer, and an error above all, to its request in the ketenlog. Following
:func:`medmij_stack.protocol.headers.lenient_from`, a missing or malformed id costs the person
nothing: the answer then carries a fresh one, and the problem is logged.

The front (:class:`zorgaanbieder.front.ResourceFront`) puts them on every answer, a refusal
by the Whitelist gate included.
It also says how long the server took, as ``Server-Timing: app;dur=<ms>`` (W3C Server
Timing): measurement (docs/architecture.md#performance-budgets, "server time") then needs no
access to the server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from starlette.datastructures import Headers

from medmij_stack.protocol.headers import (
    MEDMIJ_REQUEST_ID,
    X_CORRELATION_ID,
    HeaderError,
    Tracing,
    lenient_from,
)
from medmij_stack.runtime.asgi_tls import Scope

__all__ = ["id_fields", "timing_field", "tracing_for", "tracing_of", "with_ids"]

log = logging.getLogger(__name__)


def tracing_of(scope: Scope) -> Tracing | None:
    """The ids this middleware found or made for the request."""
    found = (scope.get("state") or {}).get("medmij_tracing")
    return found if isinstance(found, Tracing) else None


REQUEST_ID = MEDMIJ_REQUEST_ID.lower().encode("latin-1")
CORRELATION_ID = X_CORRELATION_ID.lower().encode("latin-1")
SERVER_TIMING = b"server-timing"
SET_HERE = frozenset({REQUEST_ID, CORRELATION_ID, SERVER_TIMING})


def _ids_sent(scope: Scope) -> Tracing | None:
    """Both ids as sent, when each header is there and valid: what :func:`lenient_from` finds
    then too (the first field of each name, as Starlette's ``Headers.get``), without its
    case-insensitive lookups. None when anything is missing or off: the lenient way decides."""
    request_id = correlation_id = None
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            request_id = value if request_id is None else request_id
        elif name == CORRELATION_ID:
            correlation_id = value if correlation_id is None else correlation_id
    if request_id is None or correlation_id is None:
        return None
    try:
        return Tracing(request_id.decode("latin-1"), correlation_id.decode("latin-1"))
    except HeaderError:
        return None


def tracing_for(scope: Scope) -> Tracing:
    """The ids of a request: as sent when both are there and valid, else what
    :func:`lenient_from` makes of them (a fresh id for a missing or malformed one, the
    problem logged)."""
    tracing = _ids_sent(scope)
    if tracing is None:
        tracing, problems = lenient_from(Headers(scope=scope), {})
        if problems:
            log.debug("%s %s: %s", scope.get("method"), scope.get("path"), "; ".join(problems))
    return tracing


def id_fields(tracing: Tracing) -> list[tuple[bytes, bytes]]:
    """The answer's MedMij-Request-ID and X-Correlation-ID header fields."""
    return [
        (REQUEST_ID, tracing.request_id.encode("latin-1")),
        (CORRELATION_ID, tracing.correlation_id.encode("latin-1")),
    ]


def timing_field(started: float) -> tuple[bytes, bytes]:
    """``Server-Timing: app;dur=<ms>`` since ``started`` (``time.perf_counter``)."""
    elapsed = (time.perf_counter() - started) * 1000
    return (SERVER_TIMING, f"app;dur={elapsed:.2f}".encode("latin-1"))


def with_ids(
    headers: Iterable[tuple[bytes, bytes]], tracing: Tracing, started: float
) -> list[tuple[bytes, bytes]]:
    """An answer's header fields with ours: any the app set of these names are replaced (as
    Starlette's MutableHeaders would)."""
    return [
        *(field for field in headers if field[0].lower() not in SET_HERE),
        *id_fields(tracing),
        timing_field(started),
    ]
