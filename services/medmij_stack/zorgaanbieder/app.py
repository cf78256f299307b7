"""The DVA resource server app: FHIR gegevensdiensten on the back channel.

Every request except /health must come over mutual TLS from a node on the Whitelist;
a refusal is a FHIR OperationOutcome, the error format of this endpoint. Behind that
gate: the FHIR bases of every zorgaanbieder and gegevensdienst served here
(:mod:`zorgaanbieder.fhir_api`) and the beschikbaarheidstoets for this DVA's
authorisation server (:mod:`zorgaanbieder.availability`). Every answer carries the
request's MedMij-Request-ID and X-Correlation-ID (:mod:`zorgaanbieder.tracing`). The gate, the
ids, the ketenlog and metrics and the FHIR GETs are one ASGI layer before the app
(:mod:`zorgaanbieder.front`).

Before serving, the lifespan opens the store, removes whatever an earlier run left there
that this one does not serve, and loads what it does (:mod:`zorgaanbieder.provisioning`);
the answer caches are emptied on every load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH, REVOCATION_PATH
from medmij_stack.protocol.fhir import FhirFormat
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.runtime.asgi_tls import ASGIApp, Scope
from medmij_stack.runtime.backchannel import node_async_client
from medmij_stack.runtime.metrics import EXEMPT_PATHS, METRICS_PATH, metrics_route
from medmij_stack.runtime.node import ListSubscription

from .access import AccessResolver
from .answers import AnswerCache
from .availability import Availability, BirthDates, today_in_amsterdam
from .dataset import Dataset
from .endpoints import Endpoints
from .errors import FhirError, MethodNotAllowed, NotFound, ServerFailure
from .eventlog import ResourceKetenlog
from .fhir_api import FhirApi, error_response
from .fhir_xml import FhirXmlError, XmlFragments
from .front import ResourceFront
from .introspection import Introspector
from .observation import Recorder, ResourceMetrics, endpoints_where
from .records import Records
from .rendering import Renderer, operation_outcome
from .revocations import RevocationNotices, SharedRevocations
from .settings import ZorgaanbiederSettings

__all__ = ["ResourceServer", "create_app", "operation_outcome"]

log = logging.getLogger(__name__)


def _refuse(scope: Scope, reason: str) -> ASGIApp:
    return JSONResponse(
        operation_outcome("security", reason),
        status_code=403,
        media_type="application/fhir+json",
    )


class ResourceServer:
    """The state of one running resource server: its store, caches and token checks."""

    def __init__(
        self,
        settings: ZorgaanbiederSettings,
        *,
        records: Records | None,
        introspector: Introspector | None,
        published: date | None = None,
    ) -> None:
        self.settings = settings
        self.endpoints = Endpoints(settings, published=published or date.today())
        self.fragments = XmlFragments(settings.xml_cache_entries)
        self.answers = AnswerCache(settings.answer_cache_entries)
        self.introspector = introspector
        self._records = records
        self._access: AccessResolver | None = None if records is None else self._resolver()

    def _resolver(self) -> AccessResolver:
        return AccessResolver(self.records(), self.introspector)

    def records(self) -> Records:
        if self._records is None:
            raise ServerFailure("the store is not open yet")
        return self._records

    def access(self) -> AccessResolver:
        if self._access is None:
            raise ServerFailure("the store is not open yet")
        return self._access

    def open(self, records: Records) -> None:
        self._records = records
        self._access = self._resolver()

    def load(self, datasets: Sequence[Dataset]) -> int:
        """Make the store hold exactly these datasets: remove the data of every other
        endpoint (what an earlier run served under another world, or with the Nictiz
        material), then load each. Returns how many endpoints changed. Blocking: run in
        a thread."""
        records = self.records()
        served: list[Dataset] = []
        for dataset in datasets:
            if self.endpoints.by_key(dataset.endpoint) is None:
                log.warning("not loaded: no endpoint here for %s", dataset.endpoint)
            else:
                served.append(dataset)
        # Removed first: a qualification token is bound to one endpoint only, so the
        # Nictiz material could not load under a new zorgaanbieder name while the old
        # one still held it.
        removed = records.retain([dataset.endpoint for dataset in served])
        for endpoint in removed:
            log.info("removed: %s is not served any more", endpoint)
        changed = len(removed) + sum(records.load(dataset) for dataset in served)
        # Everything derived from the store is dropped, whether or not a version changed.
        self.answers.clear()
        self.fragments.clear()
        self.access().forget()
        if self.introspector is not None:
            self.introspector.forget()
        self._prewarm(datasets)
        return changed

    def _prewarm(self, datasets: Sequence[Dataset]) -> None:
        """Validate and write the XML of every resource now, not on a request's time, for
        the datasets whose XML is asked (Dataset.xml_at_load); the rest on first demand."""
        for dataset in datasets:
            if (
                not dataset.xml_at_load
                or len(dataset.resources) > self.settings.xml_prewarm_resources
            ):
                continue
            for resource in dataset.resources:
                key = (dataset.endpoint, resource["resourceType"], resource["id"])
                # One without an XML form is logged by the cache (and answered as such).
                with contextlib.suppress(FhirXmlError):
                    self.fragments.get(key, dataset.fhir_version, resource)


def create_app(
    settings: ZorgaanbiederSettings,
    *,
    records: Records | None = None,
    datasets: Callable[[], Sequence[Dataset]] | None = None,
    introspection_client: Callable[[], httpx.AsyncClient] | None = None,
    clock: Clock = system_clock,
) -> ASGIApp:
    """The resource server of ``settings``.

    ``records`` replaces the store (default: ``zorgaanbieder.store.Repository`` at
    ``settings.effective_database_url``), ``datasets`` what is loaded at startup (default:
    :func:`zorgaanbieder.provisioning.datasets_for`), ``introspection_client`` the HTTP
    client for the authorisation server (default: mutual TLS with this node's certificate),
    ``clock`` the time of day of the ketenlog, of token expiry and of the lists (the virtual
    clock in a simulation world, medmij_stack.runtime.clock).
    """
    subscription = ListSubscription.for_node(settings, clock=clock)
    introspector: Introspector | None = None
    if settings.introspection_url is not None:

        def client() -> httpx.AsyncClient:
            return node_async_client(settings, timeout=5.0)

        introspector = Introspector(
            settings.introspection_url,
            introspection_client or client,
            cache_seconds=settings.introspection_cache_seconds,
            whitelist=subscription.whitelist,
            # A token's exp is judged on the authorisation server's clock, which is ours.
            clock=lambda: clock().timestamp(),
        )
    server = ResourceServer(
        settings, records=records, introspector=introspector, published=clock().date()
    )
    ketenlog = ResourceKetenlog(settings.effective_database_url)  # zorgaanbieder.eventlog
    metrics = ResourceMetrics()
    askers = [] if introspector is None else [introspector.host]
    notices = RevocationNotices(introspector, senders=askers)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with subscription.lifespan(app):
            opened = None
            if records is None:
                from .store import Repository

                settings.data_dir.mkdir(parents=True, exist_ok=True)
                opened = await asyncio.to_thread(Repository.create, settings.effective_database_url)
                server.open(opened)
            chosen: Sequence[Dataset]
            if datasets is None:
                from .provisioning import datasets_for

                chosen = await asyncio.to_thread(datasets_for, settings)
            else:
                chosen = await asyncio.to_thread(datasets)
            changed = await asyncio.to_thread(server.load, chosen)
            log.info("%d datasets served, %d newly loaded", len(chosen), changed)
            shared: SharedRevocations | None = None
            if introspector is not None:
                # Revocations heard by any worker or replica (zorgaanbieder.revocations).
                shared = await asyncio.to_thread(
                    SharedRevocations.open, settings.effective_database_url, introspector
                )
                notices.shared = shared
                introspector.follow(shared.news)
            try:
                async with contextlib.AsyncExitStack() as running:
                    if shared is not None:
                        await running.enter_async_context(shared.listening())
                    await running.enter_async_context(
                        ketenlog.running(settings, subscription.whitelist)
                    )
                    yield
            finally:
                if introspector is not None:
                    introspector.follow(None)
                    await introspector.aclose()
                notices.shared = None
                if shared is not None:
                    shared.close()
                if opened is not None:
                    opened.close()

    app = FastAPI(
        title="DVA resource server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.lists = subscription
    app.state.server = server
    app.state.ketenlog = ketenlog

    @app.get("/health")
    def health() -> JSONResponse:
        status, body = subscription.node_health("zorgaanbieder", settings.hostname)
        return JSONResponse(body, status_code=status)

    api = FhirApi(
        server.endpoints,
        server.records,
        server.access,
        Renderer(server.fragments),
        server.answers,
    )
    app.router.routes.extend(api.routes())
    app.add_route(
        AVAILABILITY_PATH,
        Availability(
            server.endpoints,
            server.records,
            askers=askers,
            birth_dates=BirthDates(settings.seed, settings.persons_count),
            today=lambda: today_in_amsterdam(clock),
        ).answer,
        methods=["POST"],
    )
    app.add_route(
        REVOCATION_PATH,
        notices.answer,
        methods=["POST"],
    )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Starlette's own refusals (no route, wrong method), as OperationOutcomes.
        error: FhirError
        if exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not supported here")
        elif exc.status_code == 404:
            error = NotFound("nothing at this address")
        else:
            error = FhirError(str(exc.detail), issue_code="processing")
        response = error_response(error, FhirFormat.JSON, None)
        response.status_code = exc.status_code
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(
            ServerFailure("the resource server failed on this request"), FhirFormat.JSON, None
        )

    app.add_route(METRICS_PATH, metrics_route(metrics.registry), methods=["GET"])
    # The request ids, the Whitelist gate, the ketenlog and metrics of every resource
    # request and the FHIR GETs, in one pure-ASGI front (zorgaanbieder.front) before the
    # app; /metrics answers a scraper without a node certificate (medmij_stack.runtime.metrics).
    recorder = Recorder(
        ketenlog=ketenlog,
        metrics=metrics,
        hostname=settings.hostname,
        where=endpoints_where(server.endpoints),
        clock=clock,
    )
    return ResourceFront(
        app,
        api,
        whitelist=subscription.whitelist,
        refuse=_refuse,
        exempt_paths=EXEMPT_PATHS,
        recorder=recorder,
    )
