"""Steps 1 and 2: the authorization request, and the landingspagina it leads to.

``GET /oauth/authorize`` (core.authint.200-208) is checked against the current OCL, ZAL and
the scope by the OAuth server (:meth:`authserver.oauth.server.DvaAuthorizationServer.
check_authorization_request`); what passes becomes a flow in the browser's session
(:mod:`authserver.sessions`) and the person sees the landingspagina, which names the PGO and
the zorgaanbieder. From there the person logs in with DigiD (:mod:`authserver.digid`) or
stops (the annuleringspagina, :mod:`authserver.consent`).

The authorization request's parameters are in its query string (RFC 6749 4.1.1); the
MedMij-Request-ID and X-Correlation-ID may come as headers or as query parameters, and a
missing or malformed one costs the person nothing (medmij_stack.protocol.headers).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from medmij_stack.protocol.headers import Tracing, lenient_from
from medmij_stack.protocol.ketenlog import EventType, RequestInfo
from medmij_stack.protocol.scope import ScopeError, parse_scope

from . import paths
from .errors import FlowUnavailable, TechnicalFault
from .eventlog import Trail
from .frontchannel import CurrentVisit, FormField, FrontChannel, SessionCookie, Visit
from .oauth.requests import Incoming, MedMijRequest
from .oauth.server import CheckedRequest
from .sessions import COOKIE, FlowRequest, Step
from .tables import Flow

__all__ = ["authorize", "landing_choice", "mount", "show_flow"]

log = logging.getLogger(__name__)


def authorize(front: FrontChannel, request: Request, cookie: str | None, visit: Visit) -> Response:
    """Check the authorization request; start its flow; show the landingspagina."""
    tracing, problems = lenient_from(request.headers, request.query_params)
    for problem in problems:
        log.info("authorization request: %s", problem)
    trail = visit.trail = Trail(
        location=front.host, trace_id=tracing.correlation_id, clock=front.clock
    )
    visit.authorization_request = True
    trail.add(
        EventType.RECEIVE_AUTHORIZATION_REQUEST,
        request=RequestInfo(
            id=tracing.request_id,
            method="GET",
            uri=front.authorize_url,
            client_id=request.query_params.get("client_id"),
            server_id=front.host,
            provider_id=_provider(request.query_params.get("scope")),
        ),
    )
    if not front.dva.lists.ready:
        raise TechnicalFault("the MedMij lists are not loaded yet")
    incoming = Incoming(
        method=request.method,
        uri=str(request.url),
        headers=dict(request.headers),
        params=request.query_params.multi_items(),
    )
    checked = front.dva.oauth.check_authorization_request(MedMijRequest(incoming))
    with front.unit():
        return _start(front, request, checked, tracing, cookie, trail)


def _start(
    front: FrontChannel,
    request: Request,
    checked: CheckedRequest,
    tracing: Tracing,
    cookie: str | None,
    trail: Trail,
) -> Response:
    """The checked request becomes a flow, and the person sees its landingspagina."""
    started = front.dva.sessions.start(
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
    response = _landing(front, started.flow, trail)
    if started.cookie is not None:
        response.set_cookie(
            COOKIE, started.cookie, httponly=True, secure=True, samesite="lax", path="/"
        )
    return front.done(trail, response)


def _landing(front: FrontChannel, flow: Flow, trail: Trail) -> Response:
    trail.add(EventType.SHOW_LANDING_PAGE)
    return front.pages.render(
        "landing.html",
        pgo_naam=front.pgo_naam(flow.client_id),
        zorgaanbieder_naam=front.zorgaanbieder_naam(flow.zorgaanbieder),
        flow_url=f"{paths.FLOW}/{flow.id}",
        csrf_token=flow.csrf_token,
    )


def show_flow(front: FrontChannel, flow_id: str, cookie: str | None) -> Response:
    """Where a person who reloads or comes back lands: the page of the current step."""
    flow = front.flow(flow_id, cookie)
    if flow.step == Step.LANDING:
        trail = front.trail(flow)
        return front.done(trail, _landing(front, flow, trail))
    following = {
        Step.DIGID: f"{paths.DIGID_LOGIN}?{urlencode({'RelayState': flow.id})}",
        Step.CONSENT: f"{paths.FLOW}/{flow.id}/toestemming",
        Step.CANCELLED: f"{paths.FLOW}/{flow.id}/geannuleerd",
    }
    if flow.step not in following:
        raise FlowUnavailable.step_taken(flow.step, flow.id)
    return RedirectResponse(following[flow.step], status_code=303)


def landing_choice(
    front: FrontChannel,
    flow_id: str,
    cookie: str | None,
    csrf_token: str | None,
    action: str | None,
) -> Response:
    """The person's choice on the landingspagina: log in with DigiD, or stop."""
    flow = front.checked_form(flow_id, cookie, csrf_token)
    trail = front.trail(flow)
    if action == "login":
        # Idempotent: someone back from DigiD by the back button may press it again.
        with front.unit():
            flow = front.advance(flow, (Step.LANDING, Step.DIGID), Step.DIGID)
            trail.add(EventType.SEND_AUTHENTICATION_REQUEST)
            url = f"{paths.DIGID_LOGIN}?{urlencode({'RelayState': flow.id})}"
            return front.done(trail, RedirectResponse(url, status_code=303))
    if action == "cancel":
        with front.unit():
            front.advance(flow, (Step.LANDING,), Step.CANCELLED)
            url = f"{paths.FLOW}/{flow.id}/geannuleerd"
            return front.done(trail, RedirectResponse(url, status_code=303))
    raise FlowUnavailable("the form was not one of this page's (action)", flow_id=flow.id)


def _provider(raw_scope: str | None) -> str | None:
    """The zorgaanbieder a scope names, for the ketenlog, before anything is checked."""
    if not raw_scope:
        return None
    try:
        return parse_scope(raw_scope).zorgaanbiedernaam
    except ScopeError:
        return None


def mount(app: FastAPI, front: FrontChannel) -> None:
    @app.get(paths.AUTHORIZE, include_in_schema=False)
    def authorization_request(
        request: Request, visit: CurrentVisit, cookie: SessionCookie = None
    ) -> Response:
        return authorize(front, request, cookie, visit)

    @app.get(paths.FLOW + "/{flow_id}", include_in_schema=False)
    def flow_page(flow_id: str, cookie: SessionCookie = None) -> Response:
        return show_flow(front, flow_id, cookie)

    @app.post(paths.FLOW + "/{flow_id}", include_in_schema=False)
    def landing_page_choice(
        flow_id: str,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        action: FormField = None,
    ) -> Response:
        return landing_choice(front, flow_id, cookie, csrf_token, action)
