"""The ketenlog of every way a retrieval can end other than with a token.

Each test walks one path and compares what the authorisation server recorded under the
request's X-Correlation-ID: the event types in order, and for an error its OAuth code and
HTTP status. Reports are computed from these records (medmij_stack.protocol.ketenlog), so a
refusal recorded under another name or code would count wrongly there.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import EventType, Record

from .browser import Browser, Landing
from .conftest import PGO, TestWorld
from .flows import REDIRECT_URI, authorize_url, exchange, obtain_code, token_request

Step = tuple[EventType, str | None, int | None]

_ARRIVAL = [
    (EventType.RECEIVE_AUTHORIZATION_REQUEST, None, None),
    (EventType.SHOW_LANDING_PAGE, None, None),
]
_TO_DIGID = [*_ARRIVAL, (EventType.SEND_AUTHENTICATION_REQUEST, None, None)]
_RESOLVED = [
    *_TO_DIGID,
    (EventType.SEND_ARTIFACT_RESOLUTION_REQUEST, None, None),
    (EventType.RECEIVE_AUTHENTICATION_RESPONSE, None, 200),
    (EventType.SEND_AVAILABILITY_REQUEST, None, None),
]


def _steps(records: list[Record]) -> list[Step]:
    def status(record: Record) -> int | None:
        if record.error is not None:
            return record.error.status
        return None if record.response is None else record.response.status

    return [(r.event.type, None if r.error is None else r.error.code, status(r)) for r in records]


def _recorded(tw: TestWorld, trace_id: str) -> list[Step]:
    return _steps(tw.app_state().dva.ketenlog.records(trace_id=trace_id))


def _refusal_reason(tw: TestWorld, trace_id: str) -> str | None:
    """The description the DVA's own ketenlog gave the refusal sent to the PGO."""
    records = tw.app_state().dva.ketenlog.records(trace_id=trace_id)
    (sent,) = [r for r in records if r.event.type is EventType.SEND_AUTHORIZATION_ERROR]
    return None if sent.error is None else sent.error.description


def _sessions(tw: TestWorld, trace_id: str) -> set[str | None]:
    return {r.event.session_id for r in tw.app_state().dva.ketenlog.records(trace_id=trace_id)}


def _to_digid(
    browser: Browser, tw: TestWorld, trace_id: str, scope: str = "ziekenhuistest"
) -> Landing:
    landing = browser.open(authorize_url(tw.front_url(), scope=scope, correlation_id=trace_id))
    return browser.choose(landing, "action", "login")


# --- the front channel ---------------------------------------------------------------------


def test_an_untrusted_request_is_recorded_with_invalid_client(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.client() as browser:
        browser.get(authorize_url(tw.front_url(), client_id="x.localhost", correlation_id=trace_id))
    assert _recorded(tw, trace_id) == [
        (EventType.RECEIVE_AUTHORIZATION_REQUEST, None, None),
        (EventType.AUTHORIZATION_REQUEST_ERROR, "invalid_client", 400),
        (EventType.SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE, None, None),
    ]
    # No browser session was opened, yet the Logging interface's events carry a session id
    # (the request's own), one for the three.
    (session,) = _sessions(tw, trace_id)
    assert isinstance(session, str)
    assert session


def test_a_bad_redirect_uri_is_recorded_with_invalid_request(tw: TestWorld) -> None:
    trace_id = new_id()
    url = authorize_url(tw.front_url(), redirect_uri=None, correlation_id=trace_id)
    with tw.client() as browser:
        browser.get(url)
    assert _recorded(tw, trace_id)[1] == (
        EventType.AUTHORIZATION_REQUEST_ERROR,
        "invalid_request",
        400,
    )


def test_a_fault_in_the_authorization_request_is_sent_back_with_302(tw: TestWorld) -> None:
    trace_id = new_id()
    url = authorize_url(tw.front_url(), scope="nergens", correlation_id=trace_id)
    with tw.client() as browser:
        assert browser.get(url).status_code == 302
    assert _recorded(tw, trace_id) == [
        (EventType.RECEIVE_AUTHORIZATION_REQUEST, None, None),
        (EventType.SEND_AUTHORIZATION_REQUEST_ERROR, "invalid_request", 302),
    ]


def test_a_refused_consent(tw: TestWorld) -> None:
    trace_id = new_id()
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        consent = browser.choose(_to_digid(browser, tw, trace_id), "action", "login", bsn=bsn)
        browser.choose(consent, "decision", "deny")
    assert _recorded(tw, trace_id) == [
        *_RESOLVED,
        (EventType.RECEIVE_AVAILABILITY_RESPONSE, None, 200),
        (EventType.SHOW_CONSENT_PAGE, None, None),
        (EventType.RECEIVE_CONSENT_DENIAL, None, None),
        (EventType.SEND_AUTHORIZATION_ERROR, "access_denied", 303),
    ]
    assert len(_sessions(tw, trace_id)) == 1
    # The PGO hears "The request is not granted."; the DVA's own log keeps why.
    assert _refusal_reason(tw, trace_id) == "Authorization denied."


def test_no_data_at_the_zorgaanbieder(tw: TestWorld) -> None:
    trace_id = new_id()
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        browser.choose(_to_digid(browser, tw, trace_id, "huisartstest"), "action", "login", bsn=bsn)
    assert _recorded(tw, trace_id) == [
        *_RESOLVED,
        (EventType.RECEIVE_AVAILABILITY_RESPONSE, None, 200),
        (EventType.SEND_AUTHORIZATION_ERROR, "access_denied", 303),
    ]
    assert _refusal_reason(tw, trace_id) == "No such resources."


def test_a_failed_digid_login(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.browser() as browser:
        browser.choose(_to_digid(browser, tw, trace_id), "action", "fail")
    assert _recorded(tw, trace_id) == [
        *_TO_DIGID,
        (EventType.SEND_ARTIFACT_RESOLUTION_REQUEST, None, None),
        (EventType.RECEIVE_AUTHENTICATION_ERROR, "other", None),
        (EventType.SEND_AUTHORIZATION_ERROR, "unauthorized_client", 303),
    ]


def test_a_cancellation_at_digid(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.browser() as browser:
        cancelled = browser.choose(_to_digid(browser, tw, trace_id), "action", "cancel")
        browser.submit(cancelled, Browser.forms(cancelled.response)[0])
    assert _recorded(tw, trace_id) == [
        *_TO_DIGID,
        (EventType.SEND_ARTIFACT_RESOLUTION_REQUEST, None, None),
        (EventType.RECEIVE_AUTHORIZATION_CANCELLATION, None, None),
        (EventType.SHOW_CANCELLATION_PAGE, None, None),
        (EventType.SEND_AUTHORIZATION_CANCELLATION, "access_denied", 303),
    ]


def test_a_cancellation_on_the_landing_page(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url(), correlation_id=trace_id))
        cancelled = browser.choose(landing, "action", "cancel")
        browser.submit(cancelled, Browser.forms(cancelled.response)[0])
    assert _recorded(tw, trace_id) == [
        *_ARRIVAL,
        (EventType.SHOW_CANCELLATION_PAGE, None, None),
        (EventType.SEND_AUTHORIZATION_CANCELLATION, "access_denied", 303),
    ]


def test_a_failing_beschikbaarheidstoets(tw: TestWorld) -> None:
    tw.resource.down = True
    trace_id = new_id()
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        browser.choose(_to_digid(browser, tw, trace_id), "action", "login", bsn=bsn)
    assert _recorded(tw, trace_id) == [
        *_RESOLVED,
        (EventType.RECEIVE_AVAILABILITY_ERROR, "other", None),
        (EventType.SHOW_TECHNICAL_ERROR_PAGE, "other", 503),
    ]


def test_a_flow_that_cannot_go_on_records_nothing_more(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url(), correlation_id=trace_id))
        flow_id = urlsplit(Browser.forms(landing.response)[0].action).path.rsplit("/", 1)[-1]
        browser.choose(landing, "action", "login", csrf_token="wrong")
        with sqlite3.connect(tw.database()) as db:
            db.execute(
                "UPDATE authorization_flows SET expires_at = '2000-01-01 00:00:00' WHERE id = ?",
                (flow_id,),
            )
        assert browser.choose(landing, "action", "login").response.status_code == 400
    assert _recorded(tw, trace_id) == _ARRIVAL


# --- the back channel ----------------------------------------------------------------------


def test_a_token_request_that_is_no_form_is_recorded_with_invalid_request(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.client(PGO) as pgo:
        pgo.post(tw.token_url(), json={"grant_type": "x"}, headers={"X-Correlation-ID": trace_id})
    assert _recorded(tw, trace_id) == [
        (EventType.RECEIVE_TOKEN_REQUEST, None, None),
        (EventType.SEND_TOKEN_ERROR, "invalid_request", 400),
    ]
    (received, failed) = tw.app_state().dva.ketenlog.records(trace_id=trace_id)
    assert received.request is not None
    assert received.request.client_id is None
    assert failed.error is not None
    assert failed.error.request_id == received.request.id


def test_a_replayed_code_is_recorded_in_the_persons_session(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    replay_trace = new_id()
    with tw.client(PGO) as pgo:
        exchange(pgo, tw, issued.code)
        token_request(
            pgo,
            tw,
            {"grant_type": "authorization_code", "code": issued.code, "client_id": PGO,
             "redirect_uri": REDIRECT_URI},
            correlation_id=replay_trace,
        )  # fmt: skip
    assert _recorded(tw, replay_trace) == [
        (EventType.RECEIVE_TOKEN_REQUEST, None, None),
        (EventType.SEND_TOKEN_ERROR, "invalid_grant", 400),
    ]
    (session,) = _sessions(tw, replay_trace)
    assert session is not None
    assert _sessions(tw, issued.correlation_id) == {session}
    (received, _) = tw.app_state().dva.ketenlog.records(trace_id=replay_trace)
    assert received.request is not None
    assert received.request.client_id == PGO
    assert received.request.grant_type == "authorization_code"


def test_an_unsupported_grant_type_is_recorded(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.client(PGO) as pgo:
        response = token_request(
            pgo, tw, {"grant_type": "password", "client_id": PGO}, correlation_id=trace_id
        )
    assert response.json() == {"error": "unsupported_grant_type"}
    assert _recorded(tw, trace_id) == [
        (EventType.RECEIVE_TOKEN_REQUEST, None, None),
        (EventType.SEND_TOKEN_ERROR, "unsupported_grant_type", 400),
    ]


def test_introspection_by_a_pgo_is_recorded_with_invalid_client(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.client(PGO) as pgo:
        pgo.post(
            tw.back_url() + "/oauth/introspect",
            data={"token": "x"},
            headers={"X-Correlation-ID": trace_id},
        )
    assert _recorded(tw, trace_id) == [
        (EventType.RECEIVE_INTROSPECTION_REQUEST, None, None),
        (EventType.SEND_INTROSPECTION_ERROR, "invalid_client", 400),
    ]


def test_revocation_and_its_refusal_by_the_gate(tw: TestWorld) -> None:
    answered, refused = new_id(), new_id()
    with tw.client(PGO) as pgo:
        pgo.post(
            tw.back_url() + "/oauth/revoke",
            data={"token": "nothing-issued", "client_id": PGO},
            headers={"X-Correlation-ID": answered},
        )
    with tw.client() as anonymous:
        anonymous.post(
            tw.back_url() + "/oauth/revoke",
            data={"token": "x"},
            headers={"X-Correlation-ID": refused},
        )
    assert _recorded(tw, answered) == [
        (EventType.RECEIVE_REVOCATION_REQUEST, None, None),
        (EventType.SEND_REVOCATION_RESPONSE, None, 200),
    ]
    assert _recorded(tw, refused) == [
        (EventType.RECEIVE_REVOCATION_REQUEST, None, None),
        (EventType.SEND_REVOCATION_ERROR, "access_denied", 403),
    ]


def test_the_artifact_resolution_service_records_nothing(tw: TestWorld) -> None:
    trace_id = new_id()
    with tw.client("api.dva.localhost") as own:
        response = own.post(
            tw.back_url() + "/digid/artifact-resolution",
            json={"artifact": "AAQAAMFbLinKZvkKaW5ub3ZlbnRlZA"},
            headers={"X-Correlation-ID": trace_id},
        )
    assert response.status_code == 404
    assert _recorded(tw, trace_id) == []
