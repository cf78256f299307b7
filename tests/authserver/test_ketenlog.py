"""The authorisation server's ketenlog: every step recorded, with the flow's ids, for reports."""

from __future__ import annotations

from medmij_stack.authserver.eventlog import Ketenlog
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import EventType

from .conftest import PGO, TestWorld
from .flows import authorize_url, exchange, obtain_code, token_request


def _ketenlog(tw: TestWorld) -> Ketenlog:
    log: Ketenlog = tw.app_state().dva.ketenlog
    return log


def test_a_whole_flow_is_recorded_step_by_step_under_its_correlation_id(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        response = token_request(
            pgo,
            tw,
            {
                "grant_type": "authorization_code",
                "code": issued.code,
                "client_id": PGO,
                "redirect_uri": "https://pgo.localhost/medmij/callback",
            },
            correlation_id=issued.correlation_id,
        )
    assert response.status_code == 200
    records = _ketenlog(tw).records(trace_id=issued.correlation_id)
    assert [r.event.type for r in records] == [
        EventType.RECEIVE_AUTHORIZATION_REQUEST,
        EventType.SHOW_LANDING_PAGE,
        EventType.SEND_AUTHENTICATION_REQUEST,
        EventType.SEND_ARTIFACT_RESOLUTION_REQUEST,
        EventType.RECEIVE_AUTHENTICATION_RESPONSE,
        EventType.SEND_AVAILABILITY_REQUEST,
        EventType.RECEIVE_AVAILABILITY_RESPONSE,
        EventType.SHOW_CONSENT_PAGE,
        EventType.RECEIVE_CONSENT,
        EventType.SEND_AUTHORIZATION_RESPONSE,
        EventType.RECEIVE_TOKEN_REQUEST,
        EventType.SEND_TOKEN_RESPONSE,
    ]
    sessions = {r.event.session_id for r in records}
    assert len(sessions) == 1  # the token exchange is tied to the person's session too
    assert None not in sessions
    first, last = records[0], records[-1]
    assert first.event.location == "inlog.dva.localhost"
    assert first.request is not None
    assert first.request.client_id == PGO
    assert first.request.provider_id == "ziekenhuistest@medmij"
    assert last.event.location == "api.dva.localhost"
    assert last.response is not None
    assert last.response.status == 200
    times = [r.event.datetime for r in records]
    assert times == sorted(times)


def test_the_medmij_request_id_of_a_request_is_its_request_id(tw: TestWorld) -> None:
    request_id, correlation_id = new_id(), new_id()
    url = authorize_url(tw.front_url(), request_id=request_id, correlation_id=correlation_id)
    with tw.client() as browser:
        assert browser.get(url).status_code == 200
    (received, shown) = _ketenlog(tw).records(trace_id=correlation_id)
    assert received.request is not None
    assert received.request.id == request_id
    assert shown.event.type is EventType.SHOW_LANDING_PAGE


def test_errors_are_recorded_with_their_oauth_code(tw: TestWorld) -> None:
    correlation_id = new_id()
    with tw.client() as browser:
        browser.get(
            authorize_url(tw.front_url(), client_id="x.localhost", correlation_id=correlation_id)
        )
    types = [r.event.type for r in _ketenlog(tw).records(trace_id=correlation_id)]
    assert types == [
        EventType.RECEIVE_AUTHORIZATION_REQUEST,
        EventType.AUTHORIZATION_REQUEST_ERROR,
        EventType.SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE,
    ]
    issued = obtain_code(tw)
    replay_trace = new_id()
    with tw.client(PGO) as pgo:
        exchange(pgo, tw, issued.code)
        token_request(
            pgo,
            tw,
            {"grant_type": "authorization_code", "code": issued.code, "client_id": PGO,
             "redirect_uri": "https://pgo.localhost/medmij/callback"},
            correlation_id=replay_trace,
        )  # fmt: skip
    failed = _ketenlog(tw).records(trace_id=replay_trace)[-1]
    assert failed.event.type is EventType.SEND_TOKEN_ERROR
    assert failed.error is not None
    assert failed.error.code == "invalid_grant"
    assert failed.error.status == 400


def test_a_refused_peer_is_recorded_too(tw: TestWorld) -> None:
    correlation_id = new_id()
    with tw.client() as anonymous:
        anonymous.post(
            tw.token_url(), data={"grant_type": "x"}, headers={"X-Correlation-ID": correlation_id}
        )
    (received, refused) = _ketenlog(tw).records(trace_id=correlation_id)
    assert received.event.type is EventType.RECEIVE_TOKEN_REQUEST
    assert refused.error is not None
    assert refused.error.code == "access_denied"
    assert refused.error.status == 403
