"""The collector app: takes ketenlog batches over mutual TLS and gives the records back.

Every request except ``/health`` must come over mutual TLS from a node on the Whitelist
(:class:`medmij_stack.runtime.asgi_tls.ClientCertificateGate`; refusals are
``{"error": "access_denied", …}``). Behind the gate:

* ``POST /v1/logs``: a batch (:mod:`.batch` describes it and its refusals), stored once per
  delivery id (:mod:`.store`). The answer is ``{"received": n, "stored": s, "duplicates": d}``:
  ``stored`` records were new, ``duplicates`` were held already (a batch sent again).
* ``GET /v1/records?after=&limit=&sender=&from=&to=``: the records held, in order of arrival
  after collector id ``after`` (default 0), at most ``limit`` (and the configured page size),
  optionally of one ``sender`` and with an event time from ``from`` (inclusive) to ``to``
  (exclusive), both ISO 8601 with an offset. The answer is ``{"records": [{"id", "sender",
  "sequence", "received_at", "record"}], "next": <the after of the next page, or null>}``. A
  node reads what it delivered itself; the hosts in ``settings.readers`` read everything.
* ``GET /health``: the node's lists, 503 until they and the database are there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.oauth_errors import NO_STORE
from medmij_stack.runtime.asgi_tls import ASGIApp, ClientCertificateGate, admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_body
from medmij_stack.runtime.ketenlog_delivery import DELIVERY_PATH, RECORDS_PATH
from medmij_stack.runtime.metrics import EXEMPT_PATHS, METRICS_PATH, MeasuredRequests, metrics_route
from medmij_stack.runtime.node import ListSubscription

from .batch import BatchRefused, parse_batch
from .metrics import collector_metrics
from .settings import CollectorSettings
from .store import CollectorStore, Conflict

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_JSON = "application/json"


def _refusal(refused: BatchRefused) -> JSONResponse:
    return JSONResponse(refused.to_json(), status_code=refused.status, headers=NO_STORE)


def _moment(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise BatchRefused(400, "invalid_request", f"{name} must be ISO 8601 with an offset")
    return moment


def _whole(request: Request, name: str, default: int, *, least: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < least:
        raise BatchRefused(400, "invalid_request", f"{name} must be a whole number ≥ {least}")
    return int(text)


class _Collector:
    """The running collector: its settings and, once opened, its store."""

    def __init__(
        self, settings: CollectorSettings, store: CollectorStore | None, clock: Clock
    ) -> None:
        self.settings = settings
        self._store = store
        self.clock = clock  # stamps when a batch was received

    @property
    def ready(self) -> bool:
        return self._store is not None

    def store(self) -> CollectorStore:
        if self._store is None:
            raise RuntimeError("the store is not open yet")
        return self._store

    def open(self, store: CollectorStore) -> None:
        self._store = store

    async def deliver(self, request: Request) -> Response:
        settings = self.settings
        if not self.ready:
            return _refusal(
                BatchRefused(503, "temporarily_unavailable", "the collector is still starting")
            )
        try:
            sent = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if sent != _JSON:
                raise BatchRefused(415, "unsupported_media_type", f"a batch is sent as {_JSON}")
            try:
                body = await read_body(request, max_bytes=settings.max_batch_bytes)
            except UnreadableRequest as unread:
                raise BatchRefused(
                    unread.status,
                    "too_large" if unread.status == 413 else "invalid_request",
                    f"{unread.description}; at most {settings.max_batch_bytes} bytes are taken "
                    "at once",
                ) from None
            entries = await asyncio.to_thread(
                parse_batch,
                body,
                admitted=admitted_hostnames(request.scope),
                locations=settings.locations,
                max_records=settings.max_batch_records,
            )
            try:
                stored = await asyncio.to_thread(self.store().deliver, entries, self.clock())
            except Conflict as conflict:
                raise BatchRefused(
                    409, "conflict", str(conflict), record=conflict.index, member="sequence"
                ) from None
        except BatchRefused as refused:
            log.info(
                "batch from %s refused: %s",
                ", ".join(sorted(admitted_hostnames(request.scope))),
                refused.description,
            )
            return _refusal(refused)
        return JSONResponse(
            {"received": len(entries), "stored": stored.stored, "duplicates": stored.duplicates},
            headers=NO_STORE,
        )

    async def records(self, request: Request) -> Response:
        settings = self.settings
        if not self.ready:
            return _refusal(
                BatchRefused(503, "temporarily_unavailable", "the collector is still starting")
            )
        caller = admitted_hostnames(request.scope)
        try:
            after = _whole(request, "after", 0, least=0)
            limit = min(
                _whole(request, "limit", settings.max_read_records, least=1),
                settings.max_read_records,
            )
            since, until = _moment(request, "from"), _moment(request, "to")
            sender = request.query_params.get("sender")
            reads_all = bool(caller & set(settings.readers))
            if sender is not None and not reads_all and sender.lower() not in caller:
                raise BatchRefused(
                    403, "access_denied", f"{sender} delivered these records, not this node"
                )
        except BatchRefused as refused:
            return _refusal(refused)
        senders = [sender] if sender is not None else (None if reads_all else sorted(caller))
        held = await asyncio.to_thread(
            self.store().records,
            after=after,
            limit=limit,
            senders=senders,
            since=since,
            until=until,
        )
        return JSONResponse(
            {
                "records": [h.to_json() for h in held],
                "next": held[-1].id if len(held) == limit else None,
            },
            headers=NO_STORE,
        )


def create_app(
    settings: CollectorSettings,
    *,
    store: CollectorStore | None = None,
    clock: Clock = system_clock,
) -> ASGIApp:
    """The collector of ``settings``; ``store`` replaces its database (default: opened at
    ``settings.database`` when the app starts); ``clock`` gives the time of day (the virtual
    clock of a simulation world, medmij_stack.runtime.clock)."""
    subscription = ListSubscription.for_node(settings, clock=clock)
    collector = _Collector(settings, store, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with subscription.lifespan(app):
            opened = None
            if store is None:
                opened = await asyncio.to_thread(CollectorStore, settings.database)
                collector.open(opened)
            try:
                yield
            finally:
                if opened is not None:
                    opened.close()

    app = FastAPI(
        title="MedMij ketenlog collector",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.lists = subscription
    app.state.collector = collector

    @app.get("/health")
    def health() -> JSONResponse:
        status, body = subscription.node_health("collector", settings.hostname)
        if not collector.ready:
            status, body["status"] = 503, "starting"
        return JSONResponse(body, status_code=status)

    app.add_route(DELIVERY_PATH, collector.deliver, methods=["POST"])
    app.add_route(RECORDS_PATH, collector.records, methods=["GET"])
    # Counts per node and event, no person (collector.metrics); a scraper needs no certificate.
    registry, measured = collector_metrics(
        lambda: collector.store().engine if collector.ready else None
    )
    app.add_middleware(MeasuredRequests, metrics=measured)
    app.add_route(METRICS_PATH, metrics_route(registry), methods=["GET"])

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Starlette's own refusals (no route, wrong method), in the collector's error shape.
        error = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "invalid_request"
        )
        return JSONResponse(
            {"error": error, "error_description": str(exc.detail)},
            status_code=exc.status_code,
            headers={**NO_STORE, **(exc.headers or {})},
        )

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> Response:
        # The database, most likely: the deliverer sends the batch again later.
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(
            {"error": "server_error", "error_description": "the collector failed; send again"},
            status_code=500,
            headers=NO_STORE,
        )

    return ClientCertificateGate(app, whitelist=subscription.whitelist, exempt_paths=EXEMPT_PATHS)
