"""Step 5: the toestemmingsverklaring and the code; and the annuleringspagina.

The toestemmingsverklaring names the person, the PGO, the zorgaanbieder and the
gegevensdiensten the beschikbaarheidstoets found (:mod:`authserver.availability`); the
person may tick langdurige toestemming (AS 2.0.0: a refresh token). Allowing checks the
authorization request again against the lists of this moment (the OCL or ZAL may have
changed since) and sends the PGO the code (RFC 6749 4.1.2) for exactly what was
available; denying sends ``access_denied`` with the same description as "no data" does
(:class:`authserver.errors.NotGranted`; "Authorization denied." only in the ketenlog).

The annuleringspagina is where a person who stopped (on the landingspagina, or at DigiD)
lands; its button sends the PGO ``access_denied`` "Authorization cancelled.".
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from medmij_stack.protocol.ketenlog import EventType, ResponseInfo

from . import paths
from .authorize import show_flow
from .errors import (
    AUTHORIZATION_DENIED,
    NO_SUCH_RESOURCES,
    Cancelled,
    FlowUnavailable,
    NotGranted,
)
from .frontchannel import CurrentVisit, FormField, FrontChannel, SessionCookie, Visit
from .oauth.grant_types import Person
from .oauth.requests import Incoming, MedMijRequest
from .oauth.scopes import granted_scope
from .sessions import Step
from .tables import Flow

__all__ = ["back_to_pgo", "cancelled_page", "consent", "consent_page", "mount"]

_TRUE = frozenset({"ja", "on", "true", "1", "yes"})


def consent_page(front: FrontChannel, flow_id: str, cookie: str | None) -> Response:
    """The toestemmingsverklaring, for the gegevensdiensten that are available."""
    flow = front.flow(flow_id, cookie)
    if flow.step != Step.CONSENT:
        return show_flow(front, flow.id, cookie)
    trail = front.trail(flow)
    trail.add(EventType.SHOW_CONSENT_PAGE)
    person = front.dva.digid.person(flow.bsn or "")
    response = front.pages.render(
        "toestemming.html",
        person_name=person.name if person else "testpersoon",
        pgo_naam=front.pgo_naam(flow.client_id),
        zorgaanbieder_naam=front.zorgaanbieder_naam(flow.zorgaanbieder),
        gegevensdiensten=[front.gegevensdienst_naam(g) for g in (flow.beschikbaar or "").split()],
        consent_url=f"{paths.FLOW}/{flow.id}/toestemming",
        csrf_token=flow.csrf_token,
    )
    return front.done(trail, response)


def consent(
    front: FrontChannel,
    flow_id: str,
    cookie: str | None,
    csrf_token: str | None,
    decision: str | None,
    langdurig: str | None,
    visit: Visit,
) -> Response:
    """The person's decision: the code for what was available, or access_denied."""
    flow = front.checked_form(flow_id, cookie, csrf_token)
    if decision not in ("allow", "deny"):
        raise FlowUnavailable("the form was not one of this page's (decision)", flow_id=flow.id)
    # The flow's move, the code and the ketenlog records: one write transaction.
    with front.unit():
        return _decided(front, flow, decision, langdurig, visit)


def _decided(
    front: FrontChannel, flow: Flow, decision: str, langdurig: str | None, visit: Visit
) -> Response:
    flow = front.advance(flow, (Step.CONSENT,), Step.DONE)
    trail = front.visiting(visit, flow)
    if decision == "deny":
        trail.add(EventType.RECEIVE_CONSENT_DENIAL)
        raise NotGranted(AUTHORIZATION_DENIED)
    trail.add(EventType.RECEIVE_CONSENT)
    # Checked again against the lists of this moment: the OCL or ZAL may have changed.
    params = parse_qsl(flow.query, keep_blank_values=True)
    oauth_request = MedMijRequest(
        Incoming("GET", f"{front.authorize_url}?{flow.query}", {}, params)
    )
    checked = front.dva.oauth.check_authorization_request(oauth_request)
    beschikbaar = set((flow.beschikbaar or "").split())
    available = tuple(g for g in checked.scope.gegevensdiensten if g in beschikbaar)
    if not available:
        raise NotGranted(NO_SUCH_RESOURCES)
    assert flow.bsn is not None
    person = Person(
        bsn=flow.bsn,
        zorgaanbiedernaam=checked.scope.zorgaanbiedernaam,
        gegevensdiensten=available,
        scope=granted_scope(checked.scope, available),
        # Never a refresh token for a subscription (Toestemmingsverklaring, Abonneren: "Ook
        # wordt hiermee geen toestemming gegeven voor langdurige toestemming"); such scopes
        # are refused at the authorization request (oauth/scopes.py), this is the last guard.
        langdurig=(
            checked.scope.subscribe_days is None and (langdurig or "").strip().lower() in _TRUE
        ),
        flow_id=flow.id,
        session_id=flow.session_id,
        trace_id=flow.trace_id,
    )
    location = front.dva.oauth.issue_code(oauth_request, checked, person)
    trail.add(
        EventType.SEND_AUTHORIZATION_RESPONSE,
        response=ResponseInfo(id=flow.request_id, status=303),
    )
    return front.done(trail, RedirectResponse(location, status_code=303))


def cancelled_page(front: FrontChannel, flow_id: str, cookie: str | None) -> Response:
    """The annuleringspagina: the person stopped; one button back to the PGO."""
    flow = front.flow(flow_id, cookie, allow_expired=True)
    if flow.step != Step.CANCELLED:
        return show_flow(front, flow.id, cookie)
    trail = front.trail(flow)
    trail.add(EventType.SHOW_CANCELLATION_PAGE)
    response = front.pages.render(
        "annulering.html",
        pgo_naam=front.pgo_naam(flow.client_id),
        back_url=f"{paths.FLOW}/{flow.id}/terug",
        csrf_token=flow.csrf_token,
    )
    return front.done(trail, response)


def back_to_pgo(
    front: FrontChannel, flow_id: str, cookie: str | None, csrf_token: str | None, visit: Visit
) -> Response:
    """Back to the PGO from the annuleringspagina, with access_denied, cancelled."""
    flow = front.checked_form(flow_id, cookie, csrf_token, allow_expired=True)
    flow = front.advance(flow, (Step.CANCELLED,), Step.DONE)
    front.visiting(visit, flow)
    raise Cancelled()


def mount(app: FastAPI, front: FrontChannel) -> None:
    @app.get(paths.FLOW + "/{flow_id}/toestemming", include_in_schema=False)
    def toestemming(flow_id: str, cookie: SessionCookie = None) -> Response:
        return consent_page(front, flow_id, cookie)

    @app.post(paths.FLOW + "/{flow_id}/toestemming", include_in_schema=False)
    def toestemming_decision(
        flow_id: str,
        visit: CurrentVisit,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        decision: FormField = None,
        langdurig: FormField = None,
    ) -> Response:
        return consent(front, flow_id, cookie, csrf_token, decision, langdurig, visit)

    @app.get(paths.FLOW + "/{flow_id}/geannuleerd", include_in_schema=False)
    def geannuleerd(flow_id: str, cookie: SessionCookie = None) -> Response:
        return cancelled_page(front, flow_id, cookie)

    @app.post(paths.FLOW + "/{flow_id}/terug", include_in_schema=False)
    def terug(
        flow_id: str,
        visit: CurrentVisit,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
    ) -> Response:
        return back_to_pgo(front, flow_id, cookie, csrf_token, visit)
