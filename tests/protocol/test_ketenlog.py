"""The ketenlog record model: the MedMij record shape, read and written without loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from medmij_stack.protocol.ketenlog import (
    INFERRED_EVENTS,
    INTERFACE_EVENTS,
    MGO_EVENTS,
    OWN_EVENTS,
    SPEC_EVENTS,
    ErrorInfo,
    Event,
    EventType,
    KetenlogError,
    Provenance,
    Record,
    RequestInfo,
    ResponseInfo,
)

TRACE = "c0e7b545-9606-4eef-bea7-75d8addaa54b"
REQUEST = "57510be1-73e6-4a75-9db8-ee005cced48f"


def test_a_token_request_record_has_the_medmij_shape() -> None:
    record = Record(
        Event(
            EventType.SEND_TOKEN_REQUEST,
            "pgo.localhost",
            datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=1))),
            "sessie-1",
            TRACE,
        ),
        request=RequestInfo(
            id=REQUEST,
            method="POST",
            client_id="pgo.localhost",
            server_id="api.dva.localhost",
            uri="https://api.dva.localhost/oauth/token",
            grant_type="authorization_code",
            initiated_by="person",
        ),
    )
    assert record.to_json() == {
        "event": {
            "type": "send_token_request",
            "location": "pgo.localhost",
            "datetime": "2026-11-23T10:00:00+01:00",
            "session_id": "sessie-1",
            "trace_id": TRACE,
        },
        "request": {
            "id": REQUEST,
            "method": "POST",
            "uri": "https://api.dva.localhost/oauth/token",
            "client_id": "pgo.localhost",
            "server_id": "api.dva.localhost",
            "grant_type": "authorization_code",
            "initiated_by": "person",
        },
    }


def test_records_round_trip_through_json() -> None:
    records = [
        Record.now(
            EventType.RECEIVE_RESOURCE_RESPONSE,
            location="pgo.localhost",
            session_id=None,
            trace_id=TRACE,
            request=RequestInfo(id=REQUEST, provider_id="ziekenhuisdemo@medmij", service_id=48),
            response=ResponseInfo(id=REQUEST, status=200),
        ),
        Record.now(
            EventType.SEND_TOKEN_ERROR,
            location="api.dva.localhost",
            session_id="s",
            trace_id=TRACE,
            error=ErrorInfo("invalid_grant", "Invalid grant.", REQUEST, 400),
        ),
    ]
    for record in records:
        assert Record.from_json(record.to_json()) == record
    assert records[0].event.datetime.tzinfo is UTC


def test_spec_and_inferred_names_are_told_apart() -> None:
    assert EventType.SHOW_LANDING_PAGE in SPEC_EVENTS
    assert not EventType.SHOW_LANDING_PAGE.inferred
    assert EventType.SEND_TOKEN_RESPONSE.inferred
    assert SPEC_EVENTS.isdisjoint(INFERRED_EVENTS)
    assert frozenset(EventType) == SPEC_EVENTS | INFERRED_EVENTS


# The Logging interface (AS 2.x,
# https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface): events 1 to
# 5 and their alternatives, and the artifact resolution request.
LOGGING_INTERFACE = {
    "send_authorization_request",
    "receive_authorization_request",
    "show_landing_page",
    "authorization_request_error",
    "show_authorization_request_error_page",
    "send_authorization_request_error",
    "send_authentication_request",
    "send_authorization_cancellation",
    "receive_authentication_response",
    "receive_authorization_cancellation",
    "receive_authentication_error",
    "send_artifact_resolution_request",
}


def test_the_logging_interfaces_events_are_exactly_its_names() -> None:
    assert {e.value for e in INTERFACE_EVENTS} == LOGGING_INTERFACE
    assert all(e.provenance is Provenance.LOGGING_INTERFACE for e in INTERFACE_EVENTS)
    assert not EventType.SEND_AUTHENTICATION_REQUEST.inferred
    assert not EventType.RECEIVE_AUTHENTICATION_RESPONSE.inferred


def test_our_own_names_are_kept_apart_from_the_interfaces() -> None:
    assert INTERFACE_EVENTS.isdisjoint(MGO_EVENTS)
    assert frozenset(EventType) - INTERFACE_EVENTS - MGO_EVENTS == OWN_EVENTS
    assert EventType.SHOW_CONSENT_PAGE.provenance is Provenance.OWN
    assert EventType.RECEIVE_ARTIFACT_RESOLUTION_RESPONSE.provenance is Provenance.OWN
    assert EventType.SEND_TOKEN_REQUEST.provenance is Provenance.MGO
    # None of ours borrows a name the interface gives another step.
    assert {e.value for e in OWN_EVENTS}.isdisjoint(LOGGING_INTERFACE)


def test_the_interfaces_events_need_a_session_id_ours_on_the_back_channel_do_not() -> None:
    for missing in (None, ""):
        with pytest.raises(KetenlogError, match="session_id"):
            Record.now(
                EventType.RECEIVE_AUTHENTICATION_RESPONSE,
                location="x",
                session_id=missing,
                trace_id=TRACE,
            )
    token = Record.now(EventType.SEND_TOKEN_RESPONSE, location="x", session_id=None, trace_id=TRACE)
    assert token.to_json()["event"]["session_id"] is None
    document = Record.now(
        EventType.SHOW_LANDING_PAGE, location="x", session_id="s", trace_id=TRACE
    ).to_json()
    document["event"]["session_id"] = None
    with pytest.raises(KetenlogError, match="session_id"):
        Record.from_json(document)


def _valid() -> dict[str, Any]:
    return Record.now(
        EventType.SHOW_LANDING_PAGE, location="x", session_id="s", trace_id=TRACE
    ).to_json()


@pytest.mark.parametrize(
    ("change", "member"),
    [
        (lambda d: d.pop("event"), "record.event"),
        (lambda d: d["event"].update(type="made_up"), "event.type"),
        (lambda d: d["event"].update(datetime="yesterday"), "event.datetime"),
        (lambda d: d["event"].update(datetime="2026-11-23T10:00:00"), "UTC offset"),
        (lambda d: d["event"].pop("trace_id"), "event.trace_id"),
        (lambda d: d["event"].update(session_id=5), "event.session_id"),
        (lambda d: d.update(request=[]), "request"),
        (lambda d: d.update(response={"status": True}), "response.status"),
        (lambda d: d.update(error={"description": "x"}), "error.code"),
        (lambda d: d.update(request={"service_id": "48"}), "request.service_id"),
    ],
)
def test_a_malformed_record_says_which_member(change: Any, member: str) -> None:
    data = _valid()
    change(data)
    with pytest.raises(KetenlogError, match=member.replace(".", r"\.")):
        Record.from_json(data)


def test_unknown_members_are_ignored_when_reading() -> None:
    data = _valid()
    data["event"]["extra"] = 1
    data["future"] = {}
    assert Record.from_json(data).event.type is EventType.SHOW_LANDING_PAGE
