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

Errors are raised as the tree of :mod:`authserver.errors` and rendered in one place,
:meth:`FrontChannel.fail`. Handlers are plain ``def`` functions (FastAPI runs them in its
thread pool): the database and the beschikbaarheidstoets are synchronous calls. The one
exception is the assertion consumer, which awaits the artifact resolution and runs its
database steps in the thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Cookie, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.dva_contract import AvailabilityQuestion
from medmij_stack.protocol.headers import Tracing, lenient_from, new_id
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.protocol.scope import ScopeError, parse_scope

from . import paths
from .adapter import front_channel_request
from .digid import Outcome, Resolution
from .errors import (
    ACCESS_DENIED,
    AUTHENTICATION_FAILED,
    AUTHORIZATION_CANCELLED,
    AUTHORIZATION_DENIED,
    AUTHORIZATION_FAILED,
    NO_SUCH_RESOURCES,
    UNAUTHORIZED_CLIENT,
    DvaError,
    FlowError,
    FlowUnavailable,
    PageReason,
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

__all__ = ["FrontChannel", "mount_front"]

log = logging.getLogger(__name__)

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE)]
FormField = Annotated[str | None, Form()]
_TRUE = frozenset({"ja", "on", "true", "1", "yes"})


@dataclass(frozen=True)
class Target:
    """Where an error may be sent: a redirect URI already checked for its client."""

    redirect_uri: str
    state: str | None
    pgo_naam: str

    def with_error(self, error: str, description: str) -> str:
        params = [("error", error), ("error_description", description)]
        if self.state is not None:
            params.append(("state", self.state))
        return f"{self.redirect_uri}?{urlencode(params)}"


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

    def target(self, flow: Flow) -> Target:
        return Target(flow.redirect_uri, flow.state, self.pgo_naam(flow.client_id))

    def flow(self, flow_id: str, cookie: str | None, *, allow_expired: bool = False) -> Flow:
        return self.dva.sessions.flow(flow_id, cookie, allow_expired=allow_expired)

    def checked_form(self, flow_id: str, cookie: str | None, csrf_token: str | None) -> Flow:
        flow = self.flow(flow_id, cookie)
        if not self.dva.sessions.csrf_ok(flow, csrf_token):
            raise FlowUnavailable("the form was not sent from this flow (CSRF token)")
        return flow

    def advance(self, flow: Flow, allowed: tuple[str, ...], to: str, **values: object) -> Flow:
        return self.dva.sessions.advance(flow, allowed, to, **values)  # type: ignore[arg-type]

    def error_redirect(
        self,
        trail: Trail,
        target: Target,
        error: str,
        description: str,
        event: EventType = EventType.SEND_AUTHORIZATION_ERROR,
        status: int = 303,
    ) -> Response:
        """Send the error to the PGO: 303 after a form, 302 for the authorization request."""
        trail.add(event, error=ErrorInfo(code=error, description=description, status=status))
        return RedirectResponse(target.with_error(error, description), status_code=status)

    def done(self, trail: Trail, response: Response) -> Response:
        trail.flush(self.dva.ketenlog)
        return response

    def fail(self, error: DvaError, trail: Trail, target: Target | None) -> Response:
        """The one renderer of the error tree (see authserver.errors)."""
        pages = self.dva.pages
        if isinstance(error, UntrustedRequest):
            code = (
                "invalid_client" if error.reason is PageReason.CLIENT_UNKNOWN else "invalid_request"
            )
            trail.add(
                EventType.AUTHORIZATION_REQUEST_ERROR,
                error=ErrorInfo(code=code, description=error.description, status=400),
            )
            trail.add(EventType.SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE)
            response = pages.render(
                "fout.html",
                400,
                reason=error.reason.value,
                description=error.description,
                trace_id=trail.trace_id,
            )
        elif isinstance(error, FlowError):
            if target is None:
                raise RuntimeError("a FlowError needs a checked redirect URI") from error
            response = self.error_redirect(trail, target, error.error, error.description)
        elif isinstance(error, TechnicalFault):
            log.warning("technische storing (trace %s): %s", trail.trace_id, error.description)
            trail.add(
                EventType.SHOW_TECHNICAL_ERROR_PAGE,
                error=ErrorInfo(code="other", description=error.description, status=503),
            )
            response = pages.render(
                "storing.html",
                503,
                dva_telefoonnummer=self.dva.settings.dva_telefoonnummer,
                trace_id=trail.trace_id,
                session_id=trail.session_id,
                back_link=(
                    None
                    if target is None
                    else target.with_error(ACCESS_DENIED, AUTHORIZATION_FAILED)
                ),
                pgo_naam=None if target is None else target.pgo_naam,
            )
        else:
            assert isinstance(error, FlowUnavailable)
            expired = error.reason is Unavailability.EXPIRED
            response = pages.render(
                "verlopen.html",
                400,
                expired=expired,
                done=error.reason is Unavailability.DONE,
                minutes=self.dva.settings.flow_ttl_seconds // 60,
                back_link=(
                    target.with_error(ACCESS_DENIED, AUTHORIZATION_FAILED)
                    if expired and target is not None
                    else None
                ),
                pgo_naam=None if target is None else target.pgo_naam,
            )
        return self.done(trail, response)

    def expired_flow(self, flow_id: str, cookie: str | None) -> Target | None:
        """For a flow that expired in this browser: where the person may go back to."""
        try:
            flow = self.flow(flow_id, cookie, allow_expired=True)
        except FlowUnavailable:
            return None
        return None if flow.step in (Step.DONE, Step.STORING) else self.target(flow)

    def unavailable(self, error: FlowUnavailable, flow_id: str, cookie: str | None) -> Response:
        trail = Trail(location=self.host, trace_id=new_id())
        return self.fail(error, trail, self.expired_flow(flow_id, cookie))

    # --- 1. the authorization request ------------------------------------------------------

    def authorize(self, request: Request, cookie: str | None) -> Response:
        incoming = front_channel_request(request)
        tracing, problems = lenient_from(request.headers, request.query_params)
        for problem in problems:
            log.info("authorization request: %s", problem)
        trail = Trail(location=self.host, trace_id=tracing.correlation_id)
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
            return self.fail(TechnicalFault("the MedMij lists are not loaded yet"), trail, None)
        oauth_request = MedMijRequest(incoming)
        try:
            checked = self.dva.oauth.check_authorization_request(oauth_request)
        except UntrustedRequest as untrusted:
            return self.fail(untrusted, trail, None)
        except FlowError as fault:
            payload = oauth_request.payload
            target = Target(payload.redirect_uri, payload.state, self.pgo_naam(payload.client_id))
            response = self.error_redirect(
                trail,
                target,
                fault.error,
                fault.description,
                EventType.SEND_AUTHORIZATION_REQUEST_ERROR,
                status=302,
            )
            return self.done(trail, response)
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
            raise FlowUnavailable.step_taken(flow.step)
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
        raise FlowUnavailable("the form was not one of this page's (action)")

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
            raise FlowUnavailable.step_taken(flow.step)
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
        self, artifact: str | None, relay_state: str | None, cookie: str | None
    ) -> Response:
        """Where DigiD sends the person back: the artifact is resolved over the back channel."""
        flow = await run_in_threadpool(self.flow, relay_state or "", cookie)
        if flow.step != Step.DIGID:
            raise FlowUnavailable.step_taken(flow.step)
        trail = self.trail(flow)
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
            except TechnicalFault as fault:
                return await run_in_threadpool(self.storing, flow, trail, fault)
        return await run_in_threadpool(self.resolved, flow, trail, resolution, request_id)

    def storing(self, flow: Flow, trail: Trail, fault: TechnicalFault) -> Response:
        """The flow ends in the technische-storing page, with the way back to the PGO."""
        self.advance(flow, (Step.DIGID,), Step.STORING)
        return self.fail(fault, trail, self.target(flow))

    def authentication_failed(self, flow: Flow, trail: Trail, target: Target, why: str) -> Response:
        """DigiD gave no person: back to the PGO with unauthorized_client."""
        trail.add(
            EventType.RECEIVE_AUTHENTICATION_ERROR, error=ErrorInfo(code="other", description=why)
        )
        self.advance(flow, (Step.DIGID,), Step.DONE)
        return self.done(
            trail, self.error_redirect(trail, target, UNAUTHORIZED_CLIENT, AUTHENTICATION_FAILED)
        )

    def resolved(
        self, flow: Flow, trail: Trail, resolution: Resolution | None, request_id: str | None
    ) -> Response:
        """Act on what DigiD said: on to the beschikbaarheidstoets, or back to the PGO."""
        target = self.target(flow)
        if resolution is None or resolution.flow_id != flow.id:
            return self.authentication_failed(
                flow, trail, target, "artifact unknown, expired or used"
            )
        if resolution.outcome is Outcome.FAILURE:
            return self.authentication_failed(flow, trail, target, "DigiD could not authenticate")
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
            return self.fail(fault, trail, target)
        trail.add(
            EventType.RECEIVE_AVAILABILITY_RESPONSE,
            response=ResponseInfo(id=tracing.request_id, status=200),
        )
        if not available:
            self.advance(flow, (Step.DIGID,), Step.DONE)
            return self.done(
                trail, self.error_redirect(trail, target, ACCESS_DENIED, NO_SUCH_RESOURCES)
            )
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
    ) -> Response:
        flow = self.checked_form(flow_id, cookie, csrf_token)
        if decision not in ("allow", "deny"):
            raise FlowUnavailable("the form was not one of this page's (decision)")
        flow = self.advance(flow, (Step.CONSENT,), Step.DONE)
        trail = self.trail(flow)
        target = self.target(flow)
        if decision == "deny":
            trail.add(EventType.RECEIVE_CONSENT_DENIAL)
            return self.done(
                trail, self.error_redirect(trail, target, ACCESS_DENIED, AUTHORIZATION_DENIED)
            )
        trail.add(EventType.RECEIVE_CONSENT)
        # Checked again against the lists of this moment: the OCL or ZAL may have changed.
        params = parse_qsl(flow.query, keep_blank_values=True)
        oauth_request = MedMijRequest(
            Incoming("GET", f"{self.authorize_url}?{flow.query}", {}, params)
        )
        try:
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
        except DvaError as error:
            return self.fail(error, trail, target)
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

    def back_to_pgo(self, flow_id: str, cookie: str | None, csrf_token: str | None) -> Response:
        flow = self.flow(flow_id, cookie, allow_expired=True)
        if not self.dva.sessions.csrf_ok(flow, csrf_token):
            raise FlowUnavailable("the form was not sent from this flow (CSRF token)")
        flow = self.advance(flow, (Step.CANCELLED,), Step.DONE)
        trail = self.trail(flow)
        response = self.error_redirect(
            trail,
            self.target(flow),
            ACCESS_DENIED,
            AUTHORIZATION_CANCELLED,
            EventType.SEND_AUTHORIZATION_CANCELLATION,
        )
        return self.done(trail, response)


def _provider(raw_scope: str | None) -> str | None:
    if not raw_scope:
        return None
    try:
        return parse_scope(raw_scope).zorgaanbiedernaam
    except ScopeError:
        return None


def mount_front(app: FastAPI, dva: Dva) -> FrontChannel:
    """Put the authorization endpoint and the screens on the front-channel app."""
    front = FrontChannel(dva)

    def guarded(flow_id: str, cookie: str | None, act: Callable[[], Response]) -> Response:
        try:
            return act()
        except FlowUnavailable as gone:
            return front.unavailable(gone, flow_id, cookie)

    async def unexpected(request: Request, exc: Exception) -> Response:
        # A fault of our own, not of the request: the person gets the technische-storing
        # page (no way back: nothing about the request may be trusted here), the log the
        # trace id to find it by.
        trail = Trail(location=front.host, trace_id=new_id())
        log.error("unexpected error (trace %s)", trail.trace_id, exc_info=exc)
        return await run_in_threadpool(
            front.fail, TechnicalFault(f"unexpected {type(exc).__name__}"), trail, None
        )

    app.add_exception_handler(Exception, unexpected)

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
    def authorize(request: Request, cookie: SessionCookie = None) -> Response:
        return front.authorize(request, cookie)

    @app.get(paths.FLOW + "/{flow_id}", include_in_schema=False)
    def flow_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return guarded(flow_id, cookie, lambda: front.show_flow(flow_id, cookie))

    @app.post(paths.FLOW + "/{flow_id}", include_in_schema=False)
    def landing_choice(
        flow_id: str,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        action: FormField = None,
    ) -> Response:
        return guarded(
            flow_id, cookie, lambda: front.landing_choice(flow_id, cookie, csrf_token, action)
        )

    @app.get(paths.DIGID_LOGIN, include_in_schema=False)
    def digid_login_page(
        relay_state: Annotated[str | None, Query(alias="RelayState")] = None,
        cookie: SessionCookie = None,
    ) -> Response:
        return guarded(
            relay_state or "", cookie, lambda: front.digid_login_page(relay_state, cookie)
        )

    @app.post(paths.DIGID_LOGIN, include_in_schema=False)
    def digid_login(
        relay_state: Annotated[str | None, Form(alias="RelayState")] = None,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        action: FormField = None,
        bsn: FormField = None,
    ) -> Response:
        return guarded(
            relay_state or "",
            cookie,
            lambda: front.digid_login(relay_state, cookie, csrf_token, action, bsn),
        )

    @app.get(paths.ACS, include_in_schema=False)
    async def assertion_consumer(
        artifact: Annotated[str | None, Query(alias="SAMLart")] = None,
        relay_state: Annotated[str | None, Query(alias="RelayState")] = None,
        cookie: SessionCookie = None,
    ) -> Response:
        # Async: the artifact resolution is awaited, not run in a thread (the database
        # steps before and after it are).
        try:
            return await front.assertion_consumer(artifact, relay_state, cookie)
        except FlowUnavailable as gone:
            return await run_in_threadpool(front.unavailable, gone, relay_state or "", cookie)

    @app.get(paths.FLOW + "/{flow_id}/toestemming", include_in_schema=False)
    def consent_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return guarded(flow_id, cookie, lambda: front.consent_page(flow_id, cookie))

    @app.post(paths.FLOW + "/{flow_id}/toestemming", include_in_schema=False)
    def consent(
        flow_id: str,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        decision: FormField = None,
        langdurig: FormField = None,
    ) -> Response:
        return guarded(
            flow_id,
            cookie,
            lambda: front.consent(flow_id, cookie, csrf_token, decision, langdurig),
        )

    @app.get(paths.FLOW + "/{flow_id}/geannuleerd", include_in_schema=False)
    def cancelled_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return guarded(flow_id, cookie, lambda: front.cancelled_page(flow_id, cookie))

    @app.post(paths.FLOW + "/{flow_id}/terug", include_in_schema=False)
    def back_to_pgo(
        flow_id: str, cookie: SessionCookie = None, csrf_token: FormField = None
    ) -> Response:
        return guarded(flow_id, cookie, lambda: front.back_to_pgo(flow_id, cookie, csrf_token))

    return front
