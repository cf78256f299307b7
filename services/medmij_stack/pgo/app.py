"""The PGO server app: the web application a patient uses, and the OAuth client behind it.

This node is the OAuth client of the MedMij network: the browser talks to it on the
front channel (no client certificate), and it calls token and resource endpoints with
its own certificate (mutual TLS). What it does:

* accounts (:mod:`.account_pages`): sign up and log in, server-side sessions, CSRF on
  every form, lock-out on wrong passwords;
* Verzamelen (:mod:`.retrieval_pages`, :mod:`.verzamelen`): search the ZAL, the
  authorization request with PKCE, the callback, the token over mutual TLS, every query
  of every granted gegevensdienst, storage per source;
* the records in Dutch (:mod:`.record_pages`), langdurige toestemming
  (:mod:`.consent_pages`), and the measurement record (:mod:`.eventlog`).

``create_app(settings)`` is the factory the stack calls; ``clock``, ``retrieve`` and
``client`` let tests and simulations put in their own time, engine or transport.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.runtime.metrics import METRICS_PATH, metrics_route
from medmij_stack.runtime.node import ListSubscription

from .account_pages import mount_accounts
from .consent_pages import mount_consents
from .errors import BadRequest, FormExpired, NotFound, NotLoggedIn
from .metrics import pgo_metrics
from .pages import STATIC_DIR
from .record_pages import mount_records
from .retrieval_pages import mount_retrieval
from .retrieval_runs import RetrieveService
from .runtime import Pgo
from .settings import PgoSettings
from .web import BodyLimit, Web

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: PgoSettings,
    *,
    clock: Clock = system_clock,
    retrieve: RetrieveService | None = None,
    client: httpx.AsyncClient | None = None,
    lists: ListSubscription | None = None,
) -> FastAPI:
    # The lists are judged on the same clock (a Tijdstempel too far ahead is refused).
    subscription = lists or ListSubscription.for_node(settings, clock=clock)
    pgo = Pgo(settings, lists=subscription, clock=clock, retrieve=retrieve, client=client)
    app = FastAPI(
        title="PGO", lifespan=pgo.lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.lists = subscription
    app.state.pgo = pgo
    web = Web(pgo)

    @app.get("/health", include_in_schema=False)
    def health() -> JSONResponse:
        status, body = subscription.node_health("pgo", settings.hostname)
        return JSONResponse(body, status_code=status)

    @app.get("/static/pgo.css", include_in_schema=False)
    def stylesheet() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "pgo.css",
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    mount_accounts(app, web)
    mount_retrieval(app, web)
    mount_records(app, web)
    mount_consents(app, web)

    async def not_logged_in(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/inloggen", status_code=303)

    async def form_expired(request: Request, exc: Exception) -> Response:
        session = await web.session(request)
        return web.render(
            "fout.html",
            session,
            status=400,
            title="Dit formulier is verlopen",
            what="Je hebt een formulier verstuurd dat niet meer geldig is. "
            "We hebben er niets mee gedaan.",
            next="Ga terug, laad de pagina opnieuw en probeer het nog een keer.",
        )

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        session = await web.session(request)
        return web.render(
            "fout.html",
            session,
            status=400,
            title="Dit verzoek klopt niet",
            what=exc.message,
            next="Ga terug en probeer het opnieuw.",
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, NotFound) else "Deze pagina bestaat niet."
        session = await web.session(request)
        return web.render(
            "fout.html",
            session,
            status=404,
            title="Niet gevonden",
            what=message,
            next="Ga naar je overzicht.",
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        if exc.status_code == 405:
            return web.render(
                "fout.html",
                None,
                status=405,
                title="Dit kan zo niet",
                what="Deze pagina kun je zo niet gebruiken.",
                next="Ga naar je overzicht.",
            )
        return web.render(
            "fout.html",
            None,
            status=exc.status_code,
            title="Dit verzoek klopt niet",
            what="We konden dit verzoek niet verwerken.",
            next="Ga terug.",
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error at %s", request.url.path, exc_info=exc)
        return web.render(
            "fout.html",
            None,
            status=500,
            title="Er ging bij ons iets mis",
            what="Door een fout in je PGO lukte dit niet. Je gegevens zijn niet aangepast.",
            next="Probeer het later nog een keer. Gebeurt dit vaker? "
            f"Neem dan contact op met {settings.helpdesk_text}.",
        )

    app.add_exception_handler(NotLoggedIn, not_logged_in)
    app.add_exception_handler(FormExpired, form_expired)
    app.add_exception_handler(BadRequest, bad_request)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    app.add_middleware(BodyLimit)
    # Counts, no persons (pgo.metrics); a scraper needs no account.
    app.add_route(METRICS_PATH, metrics_route(pgo_metrics(pgo.db.engine)), methods=["GET"])
    return app
