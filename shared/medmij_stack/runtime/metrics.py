"""Prometheus ``/metrics`` for a service: one registry per app, on the service's own listener.

Every service keeps its metrics in its own :class:`prometheus_client.CollectorRegistry` (not
the process-wide default), so that two apps in one process (tests, or the authorisation
server's two channels) never count into each other. The app routes :func:`metrics_route` at
:data:`METRICS_PATH` and gives its Whitelist gate :data:`EXEMPT_PATHS` (a scraper is no MedMij
node and has no node certificate), and the answer is the Prometheus text format
(https://prometheus.io/docs/instrumenting/exposition_formats/). :class:`MeasuredRequests`
counts and times the requests of the endpoints a service names (:class:`RequestMetrics`).

A role that runs several worker processes (``medmij serve --workers N``) counts in
prometheus_client's multiprocess mode (:func:`count_across_processes`, called by the parent
before it forks): each worker writes its counters to files of its own in one directory per
role, and ``/metrics`` in any worker answers their sum (``MultiProcessCollector``), so a scrape
gives the role's totals whichever worker answers. Process-memory metrics then register in no
registry (:func:`counted_in`; the files are where they are read from), while collectors that
count from a database at scrape time stay in the app's registry, read once by the answering
worker, not once per worker. With one process (tests, one worker) nothing changes: every app
keeps its own registry.

What is exposed is counts and timings only: labels name steps, reasons, zorgaanbieders,
gegevensdiensten, nodes, endpoints and status codes, never a person (no BSN, no person id, no
session, no trace, no token), so a scrape reveals nothing about anyone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from starlette.requests import Request
from starlette.responses import Response

from medmij_stack.runtime.asgi_tls import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "EXEMPT_PATHS",
    "LATENCY_BUCKETS",
    "METRICS_PATH",
    "MeasuredRequests",
    "RequestMetrics",
    "count_across_processes",
    "counted_in",
    "metrics_route",
    "process_ended",
]

METRICS_PATH = "/metrics"

EXEMPT_PATHS = ("/health", METRICS_PATH)
"""The paths a node's Whitelist gate lets through without a node certificate."""

# Back-channel latency buckets (seconds), up to the norms: a token within 10 s, a resource
# answer within 60 s (medmij_stack.protocol.reporting.latency).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def count_across_processes(directory: Path) -> Iterator[None]:
    """While the block runs, count every metric made in files under ``directory``, emptied
    first.

    For a parent about to fork the workers of one role: they inherit the setting, and
    prometheus_client keeps a file per process (it notices the fork by the pid). The value
    class is chosen when prometheus_client is imported, from the environment variable; the
    parent imported it long before, so it is set here as well. Both are put back when the
    block ends: a process that goes on after serving (a test calling ``medmij serve`` in
    its own process) must not keep counting every later app's metrics in this directory.
    """
    shutil.rmtree(directory, ignore_errors=True)  # a previous run's counts are not this run's
    directory.mkdir(parents=True)
    before_env, before_class = os.environ.get(_MULTIPROC_ENV), values.ValueClass
    os.environ[_MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        values.ValueClass = before_class
        if before_env is None:
            os.environ.pop(_MULTIPROC_ENV, None)
        else:
            os.environ[_MULTIPROC_ENV] = before_env


def process_ended(pid: int) -> None:
    """Bookkeeping when a worker has ended (drops its live-gauge files; its counts stay)."""
    directory = os.environ.get(_MULTIPROC_ENV)
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def counted_in(registry: CollectorRegistry) -> CollectorRegistry | None:
    """Where a process-memory metric registers: the app's ``registry``, or none when counting
    across processes (``/metrics`` reads the files then; two apps of one process must not
    give the same metric name then, as their counts would share one value in the file)."""
    return None if os.environ.get(_MULTIPROC_ENV) else registry


def metrics_route(registry: CollectorRegistry) -> Callable[[Request], Response]:
    """A Starlette endpoint answering ``GET /metrics`` from ``registry`` (for apps that route
    it themselves, behind their gate's exempt paths), plus, when counting across processes,
    the summed counts of every worker of the role. Synchronous on purpose: Starlette runs
    it in a worker thread, so a collector that reads a database never blocks the loop."""
    shared: CollectorRegistry | None = None
    directory = os.environ.get(_MULTIPROC_ENV)
    if directory:
        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared, directory)  # type: ignore[no-untyped-call]

    def metrics(request: Request) -> Response:
        body = generate_latest(registry)
        if shared is not None:
            body += generate_latest(shared)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


class RequestMetrics:
    """Requests of the endpoints that matter, counted by status and timed (Prometheus).

    ``endpoints`` maps a request path to the name it is counted under (``token``,
    ``introspection``…), or None for a path not counted. Metrics:
    ``<prefix>_requests_total{endpoint, status}`` and
    ``<prefix>_request_duration_seconds{endpoint}`` (a histogram, :data:`LATENCY_BUCKETS`).
    """

    def __init__(
        self, registry: CollectorRegistry, prefix: str, endpoints: Callable[[str], str | None]
    ) -> None:
        self.endpoints = endpoints
        self.requests = Counter(
            f"{prefix}_requests",
            "Requests answered, by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=counted_in(registry),
        )
        self.latency = Histogram(
            f"{prefix}_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=counted_in(registry),
        )


class MeasuredRequests:
    """ASGI middleware feeding :class:`RequestMetrics` (``app.add_middleware(MeasuredRequests,
    metrics=...)``)."""

    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.metrics.endpoints(scope.get("path", "")) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # no answer started: the failure handler outside answers 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
