"""What the resource server records of every resource request: ketenlog records and metrics.

An ASGI middleware around the FHIR front (:mod:`zorgaanbieder.front`) and the FastAPI app
behind it, behind the Whitelist gate and inside
:class:`zorgaanbieder.tracing.TracingMiddleware` (whose MedMij-Request-ID and X-Correlation-ID
it reads): what it records comes from MedMij nodes only; a connection the gate refuses (no
node certificate, or a node not on the Whitelist) is no participant's request and is left
to the server log. The app's own error answers (404, 401 of a bad token, 500 of a failure)
pass through it and are recorded. Per request it queues ``receive_resource_request`` and then
``send_resource_response`` or ``send_resource_error_response`` on the
:class:`zorgaanbieder.eventlog.ResourceKetenlog` (never waiting for the database), and counts
the request and its time in the Prometheus metrics (:class:`ResourceMetrics`). ``/health``,
``/metrics`` and the beschikbaarheidstoets (the authorisation server's question, not a
resource request) are not resource requests and are left out.

The record names the asking PGO by the host name in its client certificate (``client_id``),
this node (``server_id``), the zorgaanbieder (``provider_id``) and the gegevensdienst
(``service_id``) of the FHIR base the path addresses, but no person: the query string is not
recorded (``uri`` is the path), and the metrics' labels are zorgaanbieder, gegevensdienst and
status only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.ketenlog import (
    ErrorInfo,
    Event,
    EventType,
    Record,
    RequestInfo,
    ResponseInfo,
)
from medmij_stack.runtime.asgi_tls import ASGIApp, Message, Receive, Scope, Send, admitted_hostnames
from medmij_stack.runtime.metrics import LATENCY_BUCKETS, METRICS_PATH, counted_in

from .endpoints import ServedEndpoint
from .eventlog import ResourceKetenlog
from .tracing import tracing_of

__all__ = ["Observation", "ResourceMetrics", "Where", "endpoints_where"]

_NOT_RESOURCE = frozenset({"/health", METRICS_PATH, AVAILABILITY_PATH})
_ERROR_CODE = re.compile(r'error="([^"]*)"')
_UNKNOWN = "onbekend"

Where = Callable[[str], tuple[str, str] | None]
"""The (zorgaanbieder, gegevensdienst) of a request path, or None when it addresses none."""


def endpoints_where(endpoints: Iterable[ServedEndpoint]) -> Where:
    """:data:`Where` for the FHIR bases ``/<zorgaanbieder>/<gegevensdienst>/fhir`` served here."""
    served = {
        (e.zorgaanbieder.bare, e.dienst.id): (e.zorgaanbieder.naam, e.dienst.id) for e in endpoints
    }

    def where(path: str) -> tuple[str, str] | None:
        parts = path.split("/", 4)
        if len(parts) < 4 or parts[3] != "fhir":
            return None
        return served.get((parts[1], parts[2]))

    return where


class ResourceMetrics:
    """The resource server's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "medmij_resource_requests",
            "Resource requests answered, by zorgaanbieder, gegevensdienst and HTTP status.",
            ["zorgaanbieder", "gegevensdienst", "status"],
            registry=counted_in(self.registry),
        )
        self.latency = Histogram(
            "medmij_resource_request_duration_seconds",
            "Time from a resource request's arrival to the end of its answer.",
            ["gegevensdienst", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=counted_in(self.registry),
        )
        self.ketenlog_dropped = Counter(
            "medmij_resource_ketenlog_dropped_records",
            "Ketenlog records dropped because the write queue was full.",
            registry=counted_in(self.registry),
        )
        # The labelled children, found once: ``labels()`` takes a lock and builds a key on
        # every call. Bounded by the endpoints served times the statuses answered.
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, bool], Any] = {}

    def count(
        self,
        zorgaanbieder: str | None,
        dienst: str | None,
        status: int,
        success: bool,
        seconds: float,
    ) -> None:
        """One resource request answered with ``status`` after ``seconds``."""
        zorgaanbieder, dienst = zorgaanbieder or _UNKNOWN, dienst or _UNKNOWN
        counter = self._counted.get((zorgaanbieder, dienst, status))
        if counter is None:
            counter = self.requests.labels(zorgaanbieder, dienst, str(status))
            self._counted[(zorgaanbieder, dienst, status)] = counter
        counter.inc()
        timer = self._timed.get((dienst, success))
        if timer is None:
            timer = self.latency.labels(dienst, "success" if success else "error")
            self._timed[(dienst, success)] = timer
        timer.observe(seconds)


class Observation:
    """The ASGI wrapper described in the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ketenlog: ResourceKetenlog,
        metrics: ResourceMetrics,
        hostname: str,
        where: Where,
        clock: Clock = system_clock,
    ) -> None:
        self.app = app
        # The ketenlog's time of day (virtual in a simulation world,
        # medmij_stack.runtime.clock); the latency is measured on the monotonic clock.
        self.clock = clock
        self.ketenlog = ketenlog
        self.metrics = metrics
        self.hostname = hostname
        self.where = where

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in _NOT_RESOURCE:
            await self.app(scope, receive, send)
            return
        arrived = self.clock()
        started = time.perf_counter()
        answer: dict[str, object] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = int(message["status"])
                for name, value in message.get("headers", ()):
                    if name.lower() == b"www-authenticate":
                        answer["challenge"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._observe(scope, path, arrived, time.perf_counter() - started, answer)

    def _observe(
        self,
        scope: Scope,
        path: str,
        arrived: datetime,
        seconds: float,
        answer: dict[str, object],
    ) -> None:
        status = answer.get("status")
        code = status if isinstance(status, int) else 500  # no answer started: a failure
        found = self.where(path)
        zorgaanbieder, dienst = found if found is not None else (None, None)
        success = 200 <= code < 300
        self.metrics.count(zorgaanbieder, dienst, code, success, seconds)
        tracing = tracing_of(scope)
        if tracing is None:  # outside TracingMiddleware: nothing to tie the records to
            return
        peers = admitted_hostnames(scope)
        request = RequestInfo(
            id=tracing.request_id,
            method=str(scope.get("method", "")) or None,
            uri=path,
            client_id=min(peers) if peers else None,  # the first in sorted order
            server_id=self.hostname,
            provider_id=zorgaanbieder,
            service_id=int(dienst) if dienst is not None and dienst.isdigit() else None,
        )

        def record(
            kind: EventType,
            at: datetime,
            response: ResponseInfo | None = None,
            error: ErrorInfo | None = None,
        ) -> Record:
            event = Event(kind, self.hostname, at, None, tracing.correlation_id)
            return Record(event, request, response, error)

        answered = self.clock()
        if success:
            last = record(
                EventType.SEND_RESOURCE_RESPONSE,
                answered,
                response=ResponseInfo(id=tracing.request_id, status=code),
            )
        else:
            challenge = answer.get("challenge")
            matched = _ERROR_CODE.search(challenge) if isinstance(challenge, str) else None
            last = record(
                EventType.SEND_RESOURCE_ERROR_RESPONSE,
                answered,
                response=ResponseInfo(id=tracing.request_id, status=code),
                error=ErrorInfo(
                    code=matched.group(1) if matched else "other",
                    request_id=tracing.request_id,
                    status=code,
                ),
            )
        before = self.ketenlog.dropped
        self.ketenlog.add([record(EventType.RECEIVE_RESOURCE_REQUEST, arrived), last])
        if self.ketenlog.dropped > before:
            self.metrics.ketenlog_dropped.inc(self.ketenlog.dropped - before)
