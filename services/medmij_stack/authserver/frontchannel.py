"""The front channel's common ground: the pages, the names shown, the flow, the refusals.

The steps of one authorization each have a module of their own, in the order a person
meets them ([SPEC-1.x] steps 2-10), with the ketenlog events of each step
(medmij_stack.protocol.ketenlog names)::

    authorize.py        GET  /oauth/authorize     checks against OCL, ZAL, scope
                                                  receive_authorization_request
                          bad client_id / redirect_uri: error page, no redirect
                                                  authorization_request_error,
                                                  show_authorization_request_error_page
                          any other fault: redirect with the error
                                                  send_authorization_request_error
                          else the landingspagina show_landing_page
                        POST /oauth/flow/{id}     action=login: to DigiD
                                                  send_authentication_request
                                                  action=cancel: to the annuleringspagina
    digid/simulator.py  GET  /digid/inloggen      DigiD, simulated (bsn; or fail; or cancel)
    digid/assertion_consumer.py
                        GET  /oauth/digid/acs     back from DigiD: the artifact resolved on
                                                  the back channel
                                                  send_artifact_resolution_request, then
                                                  receive_authentication_response,
                                                  receive_authentication_error or
                                                  receive_authorization_cancellation
    availability.py       the beschikbaarheidstoets
                                                  send_availability_request, then
                                                  receive_availability_response or
                                                  receive_availability_error
    consent.py          GET  /oauth/flow/{id}/toestemming   show_consent_page
                        POST /oauth/flow/{id}/toestemming   decision=allow: the code
                                                  receive_consent, send_authorization_response
                                                  decision=deny: receive_consent_denial,
                                                  send_authorization_error
                        GET  /oauth/flow/{id}/geannuleerd   show_cancellation_page
                        POST /oauth/flow/{id}/terug         send_authorization_cancellation

This module holds what they share: :class:`Pages` (the HTML), :class:`FrontChannel` (the
names shown to the person, the flow a request acts on) and the one refusal handler.

Every refusal is raised as the tree of :mod:`authserver.errors` (an error page, a redirect
to the PGO with the error, the "verlopen" or the "technische storing" page) and rendered in
one place, :meth:`FrontChannel.refusal`, the app's one exception handler, which writes the
refusal's ketenlog event. What it needs to know of the request (its trail, where the PGO
hears of a refusal) a step puts in the request's :class:`Visit` as it learns it.

The pages are the ones RFC0070 mandates (landingspagina, annuleringspagina,
toestemmingsverklaring, technische storing) plus the error page for a request that cannot
be answered by redirect, the DigiD simulator and the "expired" page: plain HTML forms that
work without JavaScript, in Dutch at B1 level, with stable field names. Every page is sent
with ``Cache-Control: no-store`` (pages carry CSRF tokens and personal data), may not be
framed (the consent must not be clickjacked), loads nothing but its own stylesheet, and
sends no Referer (the authorization request's URL holds the ``state``).

Handlers are plain ``def`` functions (FastAPI runs them in its thread pool): the database
and the beschikbaarheidstoets are synchronous calls. The one exception is the assertion
consumer, which awaits the artifact resolution and runs its database steps in the thread
pool.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Cookie, Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, OAuthError

from . import paths
from .errors import (
    AUTHORIZATION_FAILED,
    FlowError,
    FlowUnavailable,
    FrontChannelError,
    Redirect,
    TechnicalFault,
    Unavailability,
    UntrustedRequest,
)
from .eventlog import Trail
from .sessions import COOKIE, Step
from .tables import Flow

if TYPE_CHECKING:
    from .runtime import Dva

__all__ = [
    "STATIC_DIR",
    "CurrentVisit",
    "FormField",
    "FrontChannel",
    "Pages",
    "SessionCookie",
    "Visit",
    "mount_front",
]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_TEMPLATES = Path(__file__).resolve().parent / "templates"

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE)]
FormField = Annotated[str | None, Form()]

# What the PGO hears when a flow it started cannot be finished (exception 5).
_NOT_SETTLED = OAuthError(ACCESS_DENIED, AUTHORIZATION_FAILED)


class Pages:
    """The screens as HTML: Jinja2 templates, and the headers every page gets."""

    def __init__(self, dva_naam: str) -> None:
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        self._common = {"dva_naam": dva_naam, "stylesheet": paths.STYLESHEET}

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self._env.get_template(template).render(**self._common, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


@dataclass
class Visit:
    """What one front-channel request has learnt that the refusal handler needs.

    ``trail``: the request's ketenlog records so far; ``redirect``: where the PGO hears of
    a refusal, once the flow (or the checked authorization request) says;
    ``zorgaanbieder``: the Zorgaanbiedernaam the flow is for, which the "technische
    storing" page names;
    ``authorization_request``: the request is the authorization request itself, whose
    refusals go back with 302 and send_authorization_request_error.
    """

    trail: Trail | None = None
    redirect: Redirect | None = None
    authorization_request: bool = False
    zorgaanbieder: str | None = None


async def _visit(request: Request) -> Visit:
    visit = Visit()
    request.state.visit = visit
    return visit


CurrentVisit = Annotated[Visit, Depends(_visit)]


class FrontChannel:
    """What every step of the front channel uses: the DVA, the names shown, the flow."""

    def __init__(self, dva: Dva) -> None:
        self.dva = dva
        self.pages = dva.pages
        self.host = dva.settings.front_hostname
        self.clock = dva.clock
        self.authorize_url = dva.settings.front_url + paths.AUTHORIZE

    # --- names shown to the person ---------------------------------------------------------

    def pgo_naam(self, client_id: str) -> str:
        ocl = self.dva.lists.lists.ocl.current
        entry = None if ocl is None else ocl.get(client_id)
        return client_id if entry is None else entry.organisatienaam

    def zorgaanbieder_naam(self, naam: str) -> str:
        return self.dva.settings.weergavenamen.get(naam, naam.removesuffix("@medmij"))

    def gegevensdienst_naam(self, gegevensdienst: str) -> str:
        gnl = self.dva.lists.lists.gnl.current
        name = None if gnl is None else gnl.weergavenaam(gegevensdienst)
        if name is None and gegevensdienst in catalogue.CATALOGUE:
            name = catalogue.CATALOGUE[gegevensdienst].naam
        return name or f"Gegevensdienst {gegevensdienst}"

    # --- the flow a request acts on ----------------------------------------------------------

    def trail(self, flow: Flow) -> Trail:
        return Trail(
            location=self.host,
            trace_id=flow.trace_id,
            session_id=flow.session_id,
            clock=self.clock,
        )

    @staticmethod
    def redirect(flow: Flow) -> Redirect:
        return Redirect(flow.client_id, flow.redirect_uri, flow.state)

    def visiting(self, visit: Visit, flow: Flow) -> Trail:
        """This request acts on ``flow``: its refusals are recorded and sent there."""
        visit.trail = self.trail(flow)
        visit.redirect = self.redirect(flow)
        visit.zorgaanbieder = flow.zorgaanbieder
        return visit.trail

    def flow(self, flow_id: str, cookie: str | None, *, allow_expired: bool = False) -> Flow:
        return self.dva.sessions.flow(flow_id, cookie, allow_expired=allow_expired)

    def checked_form(
        self,
        flow_id: str,
        cookie: str | None,
        csrf_token: str | None,
        *,
        allow_expired: bool = False,
    ) -> Flow:
        """The flow a form was posted to, when the form carries that flow's CSRF token."""
        flow = self.flow(flow_id, cookie, allow_expired=allow_expired)
        if not self.dva.sessions.csrf_ok(flow, csrf_token):
            raise FlowUnavailable(
                "the form was not sent from this flow (CSRF token)", flow_id=flow.id
            )
        return flow

    def advance(
        self,
        flow: Flow,
        allowed: tuple[str, ...],
        to: str,
        *,
        bsn: str | None = None,
        beschikbaar: tuple[str, ...] | None = None,
    ) -> Flow:
        return self.dva.sessions.advance(flow, allowed, to, bsn=bsn, beschikbaar=beschikbaar)

    def unit(self) -> contextlib.AbstractContextManager[None]:
        """One write transaction for the rest of a request (:meth:`Database.unit_of_work`):
        the step's move and its ketenlog records commit together, once, instead of a
        transaction each. Opened after the flow is read, so the write lock is not held while
        the request is checked; committed also when a refusal is raised (what led to it
        stays, as it did when each write committed by itself)."""
        return self.dva.db.unit_of_work()

    def done(self, trail: Trail, response: Response) -> Response:
        """The step is answered: its ketenlog records are written."""
        trail.flush(self.dva.ketenlog)
        return response

    # --- refusals ------------------------------------------------------------------------------

    async def refusal(self, request: Request, exc: Exception) -> Response:
        """The app's one exception handler: every refusal, and every fault of our own."""
        visit = getattr(request.state, "visit", None)
        cookie = request.cookies.get(COOKIE)
        return await run_in_threadpool(
            self.render_refusal, exc, visit if isinstance(visit, Visit) else Visit(), cookie
        )

    def render_refusal(self, exc: Exception, visit: Visit, cookie: str | None) -> Response:
        """Render one refusal of the tree (see authserver.errors) and record it."""
        trail = visit.trail or Trail(location=self.host, trace_id=new_id(), clock=self.clock)
        redirect = visit.redirect
        error: FrontChannelError
        if isinstance(exc, FlowError) and (exc.redirect or redirect) is None:
            exc = RuntimeError(f"no redirect URI to send {exc} to")
        if not isinstance(exc, FrontChannelError):
            # A fault of our own, not of the request: the person gets the technische-storing
            # page (no way back: nothing about the request may be trusted here), the log the
            # trace id to find it by.
            trail = Trail(location=self.host, trace_id=new_id(), clock=self.clock)
            log.error("unexpected error (trace %s)", trail.trace_id, exc_info=exc)
            error, redirect = TechnicalFault(f"unexpected {type(exc).__name__}"), None
        elif isinstance(exc, FlowUnavailable):
            # Nothing is recorded: the flow is not one this request may speak for.
            trail = Trail(location=self.host, trace_id=new_id(), clock=self.clock)
            error, redirect = exc, self._way_back(exc.flow_id, cookie)
        else:
            error = exc
        return self.done(trail, self._refusal_response(error, trail, redirect, visit))

    def _refusal_response(
        self, error: FrontChannelError, trail: Trail, redirect: Redirect | None, visit: Visit
    ) -> Response:
        pgo_naam = None if redirect is None else self.pgo_naam(redirect.client_id)
        if isinstance(error, UntrustedRequest):
            trail.add(
                EventType.AUTHORIZATION_REQUEST_ERROR,
                error=ErrorInfo(code=error.error, description=error.description, status=400),
            )
            trail.add(EventType.SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE)
            return self.pages.render(
                "fout.html",
                400,
                reason=error.reason.value,
                trace_id=trail.trace_id,
            )
        if isinstance(error, FlowError):
            to = error.redirect or redirect
            assert to is not None  # render_refusal made one without it a fault of our own
            event, status = (
                (EventType.SEND_AUTHORIZATION_REQUEST_ERROR, 302)
                if visit.authorization_request
                else (error.event, 303)
            )
            info = ErrorInfo(code=error.error, description=error.logged_description, status=status)
            trail.add(event, error=info)
            return RedirectResponse(to.with_error(error.oauth), status_code=status)
        if isinstance(error, TechnicalFault):
            log.warning("technische storing (trace %s): %s", trail.trace_id, error.description)
            trail.add(
                EventType.SHOW_TECHNICAL_ERROR_PAGE,
                error=ErrorInfo(code="other", description=error.description, status=503),
            )
            # Technische storing, Core: the DVA names itself as the supplier of the
            # zorgaanbieder's computer system; a fault before any flow is known names none.
            zorgaanbieder = visit.zorgaanbieder if redirect is not None else None
            return self.pages.render(
                "storing.html",
                503,
                dva_telefoonnummer=self.dva.settings.dva_telefoonnummer,
                zorgaanbieder_naam=(
                    None if zorgaanbieder is None else self.zorgaanbieder_naam(zorgaanbieder)
                ),
                trace_id=trail.trace_id,
                session_id=trail.session_id,
                back_link=None if redirect is None else redirect.with_error(_NOT_SETTLED),
                pgo_naam=pgo_naam,
            )
        assert isinstance(error, FlowUnavailable)
        expired = error.reason is Unavailability.EXPIRED
        return self.pages.render(
            "verlopen.html",
            400,
            expired=expired,
            done=error.reason is Unavailability.DONE,
            minutes=self.dva.settings.flow_ttl_seconds // 60,
            back_link=(
                redirect.with_error(_NOT_SETTLED) if expired and redirect is not None else None
            ),
            pgo_naam=pgo_naam,
        )

    def _way_back(self, flow_id: str, cookie: str | None) -> Redirect | None:
        """For a flow that cannot go on in this browser: where the person may go back to."""
        try:
            flow = self.flow(flow_id, cookie, allow_expired=True)
        except FlowUnavailable:
            return None
        return None if flow.step in (Step.DONE, Step.STORING) else self.redirect(flow)


def mount_front(app: FastAPI, dva: Dva) -> FrontChannel:
    """The refusal handler, the front page and the stylesheet; the steps mount their own."""
    front = FrontChannel(dva)
    app.add_exception_handler(FrontChannelError, front.refusal)
    app.add_exception_handler(Exception, front.refusal)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return front.pages.render("index.html", metadata_url=dva.settings.issuer + paths.METADATA)

    @app.get(paths.STYLESHEET, include_in_schema=False)
    def stylesheet() -> Response:
        return FileResponse(
            STATIC_DIR / "dva.css",
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return front
