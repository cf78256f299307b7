"""What the resource server records of every resource request: ketenlog records and metrics.

The front (:class:`zorgaanbieder.front.ResourceFront`) calls :class:`Recorder` once a request
has been answered, after its Whitelist gate and with the request's MedMij-Request-ID and
X-Correlation-ID (:mod:`zorgaanbieder.tracing`): what it records comes from MedMij nodes only;
a connection the gate refuses (no node certificate, or a node not on the Whitelist) is no
participant's request and is left to the server log. The app's own error answers (404, 401
of a bad token, 500 of a failure) are recorded. Per request it queues
``receive_resource_request`` and then ``send_resource_response`` or
``send_resource_error_response`` on the
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
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.headers import Tracing
from medmij_stack.runtime.metrics import LATENCY_BUCKETS, METRICS_PATH, counted_in

from .endpoints import ServedEndpoint
from .eventlog import ResourceKetenlog

__all__ = ["Recorder", "ResourceMetrics", "Where", "endpoints_where"]

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


class Recorder:
    """What is recorded of one answered resource request (see the module docstring)."""

    def __init__(
        self,
        *,
        ketenlog: ResourceKetenlog,
        metrics: ResourceMetrics,
        hostname: str,
        where: Where,
        clock: Clock = system_clock,
    ) -> None:
        # The ketenlog's time of day (virtual in a simulation world,
        # medmij_stack.runtime.clock); the latency is measured on the monotonic clock.
        self.clock = clock
        self.ketenlog = ketenlog
        self.metrics = metrics
        self.hostname = hostname
        self.where = where

    @staticmethod
    def observed(path: str) -> bool:
        """Whether a request for ``path`` is a resource request, recorded here."""
        return path not in _NOT_RESOURCE

    def record(
        self,
        *,
        tracing: Tracing,
        peers: frozenset[str],
        method: str,
        path: str,
        arrived: datetime,
        seconds: float,
        status: int | None,
        challenge: str | None,
    ) -> None:
        """Count the request and queue its two ketenlog records. ``status`` None: no answer
        was started (a failure, counted as 500); ``challenge`` the answer's
        WWW-Authenticate, whose ``error`` is the error record's code."""
        code = 500 if status is None else status
        found = self.where(path)
        zorgaanbieder, dienst = found if found is not None else (None, None)
        success = 200 <= code < 300
        self.metrics.count(zorgaanbieder, dienst, code, success, seconds)
        # RequestInfo.to_json() of the request, its None members left out, in its order.
        request: dict[str, str | int] = {"id": tracing.request_id}
        if method:
            request["method"] = method
        request["uri"] = path
        if peers:
            request["client_id"] = min(peers)  # the first in sorted order
        request["server_id"] = self.hostname
        if zorgaanbieder is not None:
            request["provider_id"] = zorgaanbieder
        if dienst is not None and dienst.isdigit():
            request["service_id"] = int(dienst)
        error_code = None
        if not success:
            matched = _ERROR_CODE.search(challenge) if challenge is not None else None
            error_code = matched.group(1) if matched else "other"
        ketenlog = self.ketenlog
        before = ketenlog.dropped
        ketenlog.add_answer(
            location=self.hostname,
            trace_id=tracing.correlation_id,
            request=request,
            received=arrived,
            answered=self.clock(),
            status=code,
            error_code=error_code,
        )
        if ketenlog.dropped > before:
            self.metrics.ketenlog_dropped.inc(ketenlog.dropped - before)
