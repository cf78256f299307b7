"""The front channel: the authorization endpoint and the DVA screens, step by step.

Sequence ([SPEC-1.x] steps 2-10; DESIGN.md 6), with the ketenlog events of each step
(medmij_stack.protocol.ketenlog names)::

    GET  /oauth/authorize     checks against OCL, ZAL, scope
                              receive_authorization_request
      bad client_id / redirect_uri: error page, no redirect
                              authorization_request_error, show_authorization_request_error_page
      any other fault: redirect with the error
                              send_authorization_request_error
      else the landingspagina show_landing_page
    POST /oauth/flow/{id}     action=login: to DigiD   send_authentication_request
                              action=cancel: to the annuleringspagina
    GET  /digid/inloggen      the DigiD simulator (bsn; or fail; or cancel)
    GET  /oauth/digid/acs     artifact resolution      send_artifact_resolution_request, then
                              (back channel, see       receive_artifact_resolution_response,
                              authserver.digid)        receive_authentication_error or
                                                       receive_authorization_cancellation
                              no clear answer          show_technical_error_page
                              beschikbaarheidstoets    send_availability_request, then
                              receive_availability_response or receive_availability_error
    GET  /oauth/flow/{id}/toestemming   toestemmingsverklaring   show_consent_page
    POST /oauth/flow/{id}/toestemming   decision=allow: the code  receive_consent,
                                                                  send_authorization_response
                                        decision=deny             receive_consent_denial,
                                                                  send_authorization_error
    GET  /oauth/flow/{id}/geannuleerd   annuleringspagina         show_cancellation_page
    POST /oauth/flow/{id}/terug         back to the PGO           send_authorization_cancellation

Every refusal is raised as the tree of :mod:`authserver.errors` (an error page, a redirect
to the PGO with the error, the "verlopen" or the "technische storing" page) and rendered in
one place, :meth:`FrontChannel.refusal`, the app's one exception handler, which writes the
refusal's ketenlog event. What it needs to know of the request (its trail, where the PGO
hears of a refusal) the step puts in the request's :class:`Visit` as it learns it.

Handlers are plain ``def`` functions (FastAPI runs them in its thread pool): the database
and the beschikbaarheidstoets are synchronous calls. The one exception is the assertion
consumer, which awaits the artifact resolution and runs its database steps in the thread
pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Cookie, Depends, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.dva_contract import AvailabilityQuestion
from medmij_stack.protocol.headers import Tracing, lenient_from, new_id
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, UNAUTHORIZED_CLIENT, OAuthError
from medmij_stack.protocol.scope import ScopeError, parse_scope

from . import paths
from .adapter import front_channel_request
from .digid import Outcome, Resolution
from .errors import (
    AUTHENTICATION_FAILED,
    AUTHORIZATION_DENIED,
    AUTHORIZATION_FAILED,
    NO_SUCH_RESOURCES,
    Cancelled,
    FlowError,
    FlowUnavailable,
    FrontChannelError,
    Redirect,
    TechnicalFault,
    Unavailability,
    UntrustedRequest,
)
from .eventlog import Trail
from .oauth.grants import Person
from .oauth.requests import Incoming, MedMijRequest
from .oauth.scopes import granted_scope
from .pages import STATIC_DIR
from .runtime import Dva
from .sessions import COOKIE, FlowRequest, Step
from .tables import Flow

__all__ = ["FrontChannel", "Visit", "mount_front"]

log = logging.getLogger(__name__)

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE)]
FormField = Annotated[str | None, Form()]
_TRUE = frozenset({"ja", "on", "true", "1", "yes"})


# What the PGO hears when a flow it started cannot be finished (exception 5).
_NOT_SETTLED = OAuthError(ACCESS_DENIED, AUTHORIZATION_FAILED)


@dataclass
class Visit:
    """What one front-channel request has learnt that the refusal handler needs.

    ``trail``: the request's ketenlog records so far; ``redirect``: where the PGO hears of
    a refusal, once the flow (or the checked authorization request) says;
    ``authorization_request``: the request is the authorization request itself, whose
    refusals go back with 302 and send_authorization_request_error.
    """

    trail: Trail | None = None
    redirect: Redirect | None = None
    authorization_request: bool = False


async def _visit(request: Request) -> Visit:
    visit = Visit()
    request.state.visit = visit
    return visit


CurrentVisit = Annotated[Visit, Depends(_visit)]


class FrontChannel:
    def __init__(self, dva: Dva) -> None:
        self.dva = dva
        self.host = dva.settings.front_hostname
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

    # --- plumbing ----------------------------------------------------------------------------

    def trail(self, flow: Flow) -> Trail:
        return Trail(location=self.host, trace_id=flow.trace_id, session_id=flow.session_id)

    @staticmethod
    def redirect(flow: Flow) -> Redirect:
        return Redirect(flow.client_id, flow.redirect_uri, flow.state)

    def visiting(self, visit: Visit, flow: Flow) -> Trail:
        """This request acts on ``flow``: its refusals are recorded and sent there."""
        visit.trail = self.trail(flow)
        visit.redirect = self.redirect(flow)
        return visit.trail

    def flow(self, flow_id: str, cookie: str | None, *, allow_expired: bool = False) -> Flow:
        return self.dva.sessions.flow(flow_id, cookie, allow_expired=allow_expired)

    def checked_form(self, flow_id: str, cookie: str | None, csrf_token: str | None) -> Flow:
        flow = self.flow(flow_id, cookie)
        if not self.dva.sessions.csrf_ok(flow, csrf_token):
            raise FlowUnavailable(
                "the form was not sent from this flow (CSRF token)", flow_id=flow.id
            )
        return flow

    def advance(self, flow: Flow, allowed: tuple[str, ...], to: str, **values: object) -> Flow:
        return self.dva.sessions.advance(flow, allowed, to, **values)  # type: ignore[arg-type]

    def done(self, trail: Trail, response: Response) -> Response:
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
        trail = visit.trail or Trail(location=self.host, trace_id=new_id())
        redirect = visit.redirect
        error: FrontChannelError
        if isinstance(exc, FlowError) and (exc.redirect or redirect) is None:
            exc = RuntimeError(f"no redirect URI to send {exc} to")
        if not isinstance(exc, FrontChannelError):
            # A fault of our own, not of the request: the person gets the technische-storing
            # page (no way back: nothing about the request may be trusted here), the log the
            # trace id to find it by.
            trail = Trail(location=self.host, trace_id=new_id())
            log.error("unexpected error (trace %s)", trail.trace_id, exc_info=exc)
            error, redirect = TechnicalFault(f"unexpected {type(exc).__name__}"), None
        elif isinstance(exc, FlowUnavailable):
            # Nothing is recorded: the flow is not one this request may speak for.
            trail = Trail(location=self.host, trace_id=new_id())
            error, redirect = exc, self.expired_flow(exc.flow_id, cookie)
        else:
            error = exc
        return self.done(trail, self._refusal_response(error, trail, redirect, visit))

    def _refusal_response(
        self, error: FrontChannelError, trail: Trail, redirect: Redirect | None, visit: Visit
    ) -> Response:
        pages = self.dva.pages
        pgo_naam = None if redirect is None else self.pgo_naam(redirect.client_id)
        if isinstance(error, UntrustedRequest):
            trail.add(
                EventType.AUTHORIZATION_REQUEST_ERROR,
                error=ErrorInfo(code=error.error, description=error.description, status=400),
            )
            trail.add(EventType.SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE)
            return pages.render(
                "fout.html",
                400,
                reason=error.reason.value,
                description=error.description,
                trace_id=trail.trace_id,
            )
        if isinstance(error, FlowError):
            to = error.redirect or redirect
            assert to is not None  # render_refusal sent a FlowError without one elsewhere
            event, status = (
                (EventType.SEND_AUTHORIZATION_REQUEST_ERROR, 302)
                if visit.authorization_request
                else (error.event, 303)
            )
            info = ErrorInfo(code=error.error, description=error.description, status=status)
            trail.add(event, error=info)
            return RedirectResponse(to.with_error(error.oauth), status_code=status)
        if isinstance(error, TechnicalFault):
            log.warning("technische storing (trace %s): %s", trail.trace_id, error.description)
            trail.add(
                EventType.SHOW_TECHNICAL_ERROR_PAGE,
                error=ErrorInfo(code="other", description=error.description, status=503),
            )
            return pages.render(
                "storing.html",
                503,
                dva_telefoonnummer=self.dva.settings.dva_telefoonnummer,
                trace_id=trail.trace_id,
                session_id=trail.session_id,
                back_link=None if redirect is None else redirect.with_error(_NOT_SETTLED),
                pgo_naam=pgo_naam,
            )
        assert isinstance(error, FlowUnavailable)
        expired = error.reason is Unavailability.EXPIRED
        return pages.render(
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

    def expired_flow(self, flow_id: str, cookie: str | None) -> Redirect | None:
        """For a flow that expired in this browser: where the person may go back to."""
        try:
            flow = self.flow(flow_id, cookie, allow_expired=True)
        except FlowUnavailable:
            return None
        return None if flow.step in (Step.DONE, Step.STORING) else self.redirect(flow)

    # --- 1. the authorization request ------------------------------------------------------

    def authorize(self, request: Request, cookie: str | None, visit: Visit) -> Response:
        incoming = front_channel_request(request)
        tracing, problems = lenient_from(request.headers, request.query_params)
        for problem in problems:
            log.info("authorization request: %s", problem)
        trail = visit.trail = Trail(location=self.host, trace_id=tracing.correlation_id)
        visit.authorization_request = True
        raw_scope = request.query_params.get("scope")
        trail.add(
            EventType.RECEIVE_AUTHORIZATION_REQUEST,
            request=RequestInfo(
                id=tracing.request_id,
                method="GET",
                uri=self.authorize_url,
                client_id=request.query_params.get("client_id"),
                server_id=self.host,
                provider_id=_provider(raw_scope),
            ),
        )
        if not self.dva.lists.ready:
            raise TechnicalFault("the MedMij lists are not loaded yet")
        checked = self.dva.oauth.check_authorization_request(MedMijRequest(incoming))
        started = self.dva.sessions.start(
            cookie,
            FlowRequest(
                query=request.url.query,
                client_id=checked.client.client_id,
                redirect_uri=checked.redirect_uri,
                state=checked.state,
                zorgaanbieder=checked.scope.zorgaanbiedernaam,
                gegevensdiensten=checked.scope.gegevensdiensten,
                request_id=tracing.request_id,
                trace_id=tracing.correlation_id,
            ),
        )
        trail.bind_session(started.flow.session_id)
        response = self.landing(started.flow, trail)
        if started.cookie is not None:
            response.set_cookie(
                COOKIE, started.cookie, httponly=True, secure=True, samesite="lax", path="/"
            )
        return self.done(trail, response)

    # --- 2. landingspagina -----------------------------------------------------------------

    def landing(self, flow: Flow, trail: Trail) -> Response:
        trail.add(EventType.SHOW_LANDING_PAGE)
        return self.dva.pages.render(
            "landing.html",
            pgo_naam=self.pgo_naam(flow.client_id),
            zorgaanbieder_naam=self.zorgaanbieder_naam(flow.zorgaanbieder),
            flow_url=f"{paths.FLOW}/{flow.id}",
            csrf_token=flow.csrf_token,
        )

    def show_flow(self, flow_id: str, cookie: str | None) -> Response:
        """Where a person who reloads or comes back lands: the page of the current step."""
        flow = self.flow(flow_id, cookie)
        if flow.step == Step.LANDING:
            trail = self.trail(flow)
            return self.done(trail, self.landing(flow, trail))
        following = {
            Step.DIGID: f"{paths.DIGID_LOGIN}?{urlencode({'RelayState': flow.id})}",
            Step.CONSENT: f"{paths.FLOW}/{flow.id}/toestemming",
            Step.CANCELLED: f"{paths.FLOW}/{flow.id}/geannuleerd",
        }
        if flow.step not in following:
            raise FlowUnavailable.step_taken(flow.step, flow.id)
        return RedirectResponse(following[flow.step], status_code=303)

    def landing_choice(
        self, flow_id: str, cookie: str | None, csrf_token: str | None, action: str | None
    ) -> Response:
        flow = self.checked_form(flow_id, cookie, csrf_token)
        trail = self.trail(flow)
        if action == "login":
            # Idempotent: someone back from DigiD by the back button may press it again.
            flow = self.advance(flow, (Step.LANDING, Step.DIGID), Step.DIGID)
            trail.add(EventType.SEND_AUTHENTICATION_REQUEST)
            url = f"{paths.DIGID_LOGIN}?{urlencode({'RelayState': flow.id})}"
            return self.done(trail, RedirectResponse(url, status_code=303))
        if action == "cancel":
            self.advance(flow, (Step.LANDING,), Step.CANCELLED)
            url = f"{paths.FLOW}/{flow.id}/geannuleerd"
            return self.done(trail, RedirectResponse(url, status_code=303))
        raise FlowUnavailable("the form was not one of this page's (action)", flow_id=flow.id)

    # --- 3. DigiD (simulator) --------------------------------------------------------------

    def digid_page(
        self, flow: Flow, *, problem: str | None = None, bsn: str = "", status: int = 200
    ) -> Response:
        return self.dva.pages.render(
            "digid.html",
            status,
            persons=self.dva.digid.persons,
            login_url=paths.DIGID_LOGIN,
            relay_state=flow.id,
            csrf_token=flow.csrf_token,
            problem=problem,
            bsn=bsn,
        )

    def digid_login_page(self, relay_state: str | None, cookie: str | None) -> Response:
        flow = self.flow(relay_state or "", cookie)
        if flow.step != Step.DIGID:
            return self.show_flow(flow.id, cookie)
        return self.digid_page(flow)

    def digid_login(
        self,
        relay_state: str | None,
        cookie: str | None,
        csrf_token: str | None,
        action: str | None,
        bsn: str | None,
    ) -> Response:
        flow = self.checked_form(relay_state or "", cookie, csrf_token)
        if flow.step != Step.DIGID:
            raise FlowUnavailable.step_taken(flow.step, flow.id)
        digid = self.dva.digid
        if action == "login":
            typed = (bsn or "").strip()
            if not digid.plausible(typed):
                return self.digid_page(
                    flow,
                    problem="Dit is geen geldig BSN. Een BSN heeft 9 cijfers.",
                    bsn=typed[:20],
                    status=400,
                )
            if digid.person(typed) is None:
                return self.digid_page(
                    flow,
                    problem=(
                        "Dit BSN hoort niet bij een testpersoon. Kies een testpersoon uit de lijst."
                    ),
                    bsn=typed,
                    status=400,
                )
            artifact = digid.issue_artifact(flow.id, Outcome.SUCCESS, typed)
        elif action == "fail":
            artifact = digid.issue_artifact(flow.id, Outcome.FAILURE)
        elif action == "cancel":
            artifact = digid.issue_artifact(flow.id, Outcome.CANCELLED)
        else:
            return self.digid_page(flow, problem="Kies een van de knoppen.", status=400)
        query = urlencode({"SAMLart": artifact, "RelayState": flow.id})
        return RedirectResponse(f"{paths.ACS}?{query}", status_code=303)

    # --- 4. back from DigiD: artifact resolution and beschikbaarheidstoets -----------------

    async def assertion_consumer(
        self, artifact: str | None, relay_state: str | None, cookie: str | None, visit: Visit
    ) -> Response:
        """Where DigiD sends the person back: the artifact is resolved over the back channel."""
        flow = await run_in_threadpool(self.flow, relay_state or "", cookie)
        if flow.step != Step.DIGID:
            raise FlowUnavailable.step_taken(flow.step, flow.id)
        trail = self.visiting(visit, flow)
        resolution: Resolution | None = None
        request_id: str | None = None
        if artifact:
            tracing = Tracing.new(flow.trace_id)
            request_id = tracing.request_id
            trail.add(
                EventType.SEND_ARTIFACT_RESOLUTION_REQUEST,
                request=RequestInfo(
                    id=tracing.request_id,
                    method="POST",
                    uri=self.dva.authenticator.url,
                    server_id=self.dva.settings.hostname,
                ),
            )
            try:
                resolution = await self.dva.authenticator.resolve(artifact, tracing)
            except TechnicalFault:
                # The flow ends in the technische-storing page, with the way back to the PGO.
                await run_in_threadpool(self.advance, flow, (Step.DIGID,), Step.STORING)
                raise
        return await run_in_threadpool(self.resolved, flow, trail, resolution, request_id)

    def authentication_failed(self, flow: Flow, trail: Trail, why: str) -> FlowError:
        """DigiD gave no person: back to the PGO with unauthorized_client."""
        trail.add(
            EventType.RECEIVE_AUTHENTICATION_ERROR, error=ErrorInfo(code="other", description=why)
        )
        self.advance(flow, (Step.DIGID,), Step.DONE)
        return FlowError(UNAUTHORIZED_CLIENT, AUTHENTICATION_FAILED)

    def resolved(
        self, flow: Flow, trail: Trail, resolution: Resolution | None, request_id: str | None
    ) -> Response:
        """Act on what DigiD said: on to the beschikbaarheidstoets, or back to the PGO."""
        if resolution is None or resolution.flow_id != flow.id:
            raise self.authentication_failed(flow, trail, "artifact unknown, expired or used")
        if resolution.outcome is Outcome.FAILURE:
            raise self.authentication_failed(flow, trail, "DigiD could not authenticate")
        if resolution.outcome is Outcome.CANCELLED:
            trail.add(EventType.RECEIVE_AUTHORIZATION_CANCELLATION)
            self.advance(flow, (Step.DIGID,), Step.CANCELLED)
            url = f"{paths.FLOW}/{flow.id}/geannuleerd"
            return self.done(trail, RedirectResponse(url, status_code=303))
        assert resolution.bsn is not None
        trail.add(
            EventType.RECEIVE_ARTIFACT_RESOLUTION_RESPONSE,
            response=ResponseInfo(id=request_id, status=200),
        )
        asked = tuple(flow.gegevensdiensten.split())
        tracing = Tracing.new(flow.trace_id)
        trail.add(
            EventType.SEND_AVAILABILITY_REQUEST,
            request=RequestInfo(
                id=tracing.request_id,
                method="POST",
                uri=self.dva.availability.url,
                server_id=self.dva.settings.hostname,
                provider_id=flow.zorgaanbieder,
            ),
        )
        try:
            available = self.dva.availability.ask(
                AvailabilityQuestion(flow.zorgaanbieder, resolution.bsn, asked), tracing
            )
        except TechnicalFault as fault:
            trail.add(
                EventType.RECEIVE_AVAILABILITY_ERROR,
                error=ErrorInfo(
                    code="other", description=fault.description, request_id=tracing.request_id
                ),
            )
            self.advance(flow, (Step.DIGID,), Step.STORING)
            raise
        trail.add(
            EventType.RECEIVE_AVAILABILITY_RESPONSE,
            response=ResponseInfo(id=tracing.request_id, status=200),
        )
        if not available:
            self.advance(flow, (Step.DIGID,), Step.DONE)
            raise FlowError(ACCESS_DENIED, NO_SUCH_RESOURCES)
        self.advance(flow, (Step.DIGID,), Step.CONSENT, bsn=resolution.bsn, beschikbaar=available)
        url = f"{paths.FLOW}/{flow.id}/toestemming"
        return self.done(trail, RedirectResponse(url, status_code=303))

    # --- 5. toestemmingsverklaring ---------------------------------------------------------

    def consent_page(self, flow_id: str, cookie: str | None) -> Response:
        flow = self.flow(flow_id, cookie)
        if flow.step != Step.CONSENT:
            return self.show_flow(flow.id, cookie)
        trail = self.trail(flow)
        trail.add(EventType.SHOW_CONSENT_PAGE)
        person = self.dva.digid.person(flow.bsn or "")
        response = self.dva.pages.render(
            "toestemming.html",
            person_name=person.name if person else "testpersoon",
            pgo_naam=self.pgo_naam(flow.client_id),
            zorgaanbieder_naam=self.zorgaanbieder_naam(flow.zorgaanbieder),
            gegevensdiensten=[
                self.gegevensdienst_naam(g) for g in (flow.beschikbaar or "").split()
            ],
            consent_url=f"{paths.FLOW}/{flow.id}/toestemming",
            csrf_token=flow.csrf_token,
        )
        return self.done(trail, response)

    def consent(
        self,
        flow_id: str,
        cookie: str | None,
        csrf_token: str | None,
        decision: str | None,
        langdurig: str | None,
        visit: Visit,
    ) -> Response:
        flow = self.checked_form(flow_id, cookie, csrf_token)
        if decision not in ("allow", "deny"):
            raise FlowUnavailable("the form was not one of this page's (decision)", flow_id=flow.id)
        flow = self.advance(flow, (Step.CONSENT,), Step.DONE)
        trail = self.visiting(visit, flow)
        if decision == "deny":
            trail.add(EventType.RECEIVE_CONSENT_DENIAL)
            raise FlowError(ACCESS_DENIED, AUTHORIZATION_DENIED)
        trail.add(EventType.RECEIVE_CONSENT)
        # Checked again against the lists of this moment: the OCL or ZAL may have changed.
        params = parse_qsl(flow.query, keep_blank_values=True)
        oauth_request = MedMijRequest(
            Incoming("GET", f"{self.authorize_url}?{flow.query}", {}, params)
        )
        checked = self.dva.oauth.check_authorization_request(oauth_request)
        beschikbaar = set((flow.beschikbaar or "").split())
        available = tuple(g for g in checked.scope.gegevensdiensten if g in beschikbaar)
        if not available:
            raise FlowError(ACCESS_DENIED, NO_SUCH_RESOURCES)
        assert flow.bsn is not None
        person = Person(
            bsn=flow.bsn,
            zorgaanbiedernaam=checked.scope.zorgaanbiedernaam,
            gegevensdiensten=available,
            scope=granted_scope(checked.scope, available),
            langdurig=(langdurig or "").strip().lower() in _TRUE,
            flow_id=flow.id,
            session_id=flow.session_id,
            trace_id=flow.trace_id,
        )
        location = self.dva.oauth.issue_code(oauth_request, checked, person)
        trail.add(
            EventType.SEND_AUTHORIZATION_RESPONSE,
            response=ResponseInfo(id=flow.request_id, status=303),
        )
        return self.done(trail, RedirectResponse(location, status_code=303))

    # --- annuleringspagina -----------------------------------------------------------------

    def cancelled_page(self, flow_id: str, cookie: str | None) -> Response:
        flow = self.flow(flow_id, cookie, allow_expired=True)
        if flow.step != Step.CANCELLED:
            return self.show_flow(flow.id, cookie)
        trail = self.trail(flow)
        trail.add(EventType.SHOW_CANCELLATION_PAGE)
        response = self.dva.pages.render(
            "annulering.html",
            pgo_naam=self.pgo_naam(flow.client_id),
            back_url=f"{paths.FLOW}/{flow.id}/terug",
            csrf_token=flow.csrf_token,
        )
        return self.done(trail, response)

    def back_to_pgo(
        self, flow_id: str, cookie: str | None, csrf_token: str | None, visit: Visit
    ) -> Response:
        flow = self.flow(flow_id, cookie, allow_expired=True)
        if not self.dva.sessions.csrf_ok(flow, csrf_token):
            raise FlowUnavailable(
                "the form was not sent from this flow (CSRF token)", flow_id=flow.id
            )
        flow = self.advance(flow, (Step.CANCELLED,), Step.DONE)
        self.visiting(visit, flow)
        raise Cancelled()


def _provider(raw_scope: str | None) -> str | None:
    if not raw_scope:
        return None
    try:
        return parse_scope(raw_scope).zorgaanbiedernaam
    except ScopeError:
        return None


def mount_front(app: FastAPI, dva: Dva) -> FrontChannel:
    """Put the authorization endpoint, the screens and their refusal handler on the app."""
    front = FrontChannel(dva)
    app.add_exception_handler(FrontChannelError, front.refusal)
    app.add_exception_handler(Exception, front.refusal)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return dva.pages.render("index.html", metadata_url=dva.settings.issuer + paths.METADATA)

    @app.get(paths.STYLESHEET, include_in_schema=False)
    def stylesheet() -> Response:
        return FileResponse(
            STATIC_DIR / "dva.css",
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get(paths.AUTHORIZE, include_in_schema=False)
    def authorize(request: Request, visit: CurrentVisit, cookie: SessionCookie = None) -> Response:
        return front.authorize(request, cookie, visit)

    @app.get(paths.FLOW + "/{flow_id}", include_in_schema=False)
    def flow_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return front.show_flow(flow_id, cookie)

    @app.post(paths.FLOW + "/{flow_id}", include_in_schema=False)
    def landing_choice(
        flow_id: str,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        action: FormField = None,
    ) -> Response:
        return front.landing_choice(flow_id, cookie, csrf_token, action)

    @app.get(paths.DIGID_LOGIN, include_in_schema=False)
    def digid_login_page(
        relay_state: Annotated[str | None, Query(alias="RelayState")] = None,
        cookie: SessionCookie = None,
    ) -> Response:
        return front.digid_login_page(relay_state, cookie)

    @app.post(paths.DIGID_LOGIN, include_in_schema=False)
    def digid_login(
        relay_state: Annotated[str | None, Form(alias="RelayState")] = None,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        action: FormField = None,
        bsn: FormField = None,
    ) -> Response:
        return front.digid_login(relay_state, cookie, csrf_token, action, bsn)

    @app.get(paths.ACS, include_in_schema=False)
    async def assertion_consumer(
        visit: CurrentVisit,
        artifact: Annotated[str | None, Query(alias="SAMLart")] = None,
        relay_state: Annotated[str | None, Query(alias="RelayState")] = None,
        cookie: SessionCookie = None,
    ) -> Response:
        # Async: the artifact resolution is awaited, not run in a thread (the database
        # steps before and after it are).
        return await front.assertion_consumer(artifact, relay_state, cookie, visit)

    @app.get(paths.FLOW + "/{flow_id}/toestemming", include_in_schema=False)
    def consent_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return front.consent_page(flow_id, cookie)

    @app.post(paths.FLOW + "/{flow_id}/toestemming", include_in_schema=False)
    def consent(
        flow_id: str,
        visit: CurrentVisit,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        decision: FormField = None,
        langdurig: FormField = None,
    ) -> Response:
        return front.consent(flow_id, cookie, csrf_token, decision, langdurig, visit)

    @app.get(paths.FLOW + "/{flow_id}/geannuleerd", include_in_schema=False)
    def cancelled_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return front.cancelled_page(flow_id, cookie)

    @app.post(paths.FLOW + "/{flow_id}/terug", include_in_schema=False)
    def back_to_pgo(
        flow_id: str,
        visit: CurrentVisit,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
    ) -> Response:
        return front.back_to_pgo(flow_id, cookie, csrf_token, visit)

    return front
