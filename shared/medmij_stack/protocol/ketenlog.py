"""The ketenlog: MedMij's near-real-time log of every step of a flow (Logging interface).

Spec (Logging interface, AS 2.x,
https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface; Loggingbeleid;
docs/protocol.md "The ketenlog"): every participant
records each step of Verzamelen (and the same steps of Delen and Abonneren) as a JSON
record, delivered in batches to MedMij's central "EagleEye". A record holds "datum,
session-id, trace-id, identiteit van de verstuurder en ontvanger". This module is the
record model only: dataclasses that read and write the record shape, no I/O. Each
service stores its own records and reports are computed from them.

Record shape (as MGO implements it, ``medmij_logging/schemas.py``)::

    {"event":    {"type", "location", "datetime", "session_id", "trace_id"},
     "request":  {"id", "method", "uri", "client_id", "server_id", "grant_type",
                  "initiated_by", "provider_id", "service_id"},          # optional
     "response": {"id", "status"},                                        # optional
     "error":    {"code", "description", "request_id", "status"}}         # optional

Readings taken:

* ``trace_id`` is the X-Correlation-ID of the flow and ``request.id`` / ``response.id``
  the MedMij-Request-ID of the request concerned; ``session_id`` is the recording
  party's own id of the person's session (MGO mixes these up; this project takes the
  reading docs/protocol.md "The ketenlog" gives).
* ``datetime`` is ISO 8601 with an explicit offset; records are made in UTC.
* Event names, in three groups kept apart (:class:`Provenance`): the Logging
  interface's own events (``INTERFACE_EVENTS``: events 1 to 5 with their alternatives,
  and the artifact resolution request), each logged at exactly the interface's point;
  the names MGO's DVP records for the token and resource steps (``MGO_EVENTS``); and this
  stack's own names for the steps the interface does not name (``OWN_EVENTS``), which
  follow its verb_object pattern and are never passed off as the interface's. Every name
  is listed here, so that a service cannot invent one in passing.
* ``session_id`` is a non-empty string on every event of the Logging interface (the
  Loggingbeleid lists "session-id" among what each record holds); a back-channel step of
  our own that belongs to no person session may have it null.
* Unknown members of a record are ignored when reading (the central schema may grow),
  but a missing or mistyped mandatory member is a ``KetenlogError``.
"""

# ruff: noqa: S105 - "token" in an event name is not a secret

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "INFERRED_EVENTS",
    "INTERFACE_EVENTS",
    "MGO_EVENTS",
    "OWN_EVENTS",
    "SPEC_EVENTS",
    "ErrorInfo",
    "Event",
    "EventType",
    "KetenlogError",
    "Provenance",
    "Record",
    "RequestInfo",
    "ResponseInfo",
]


class KetenlogError(ValueError):
    """A record that does not have the ketenlog shape; the message says which member."""


class EventType(StrEnum):
    """Every event name this stack records, grouped by where the name comes from.

    The groups are kept apart on purpose (:class:`Provenance`, :attr:`provenance`): the
    Logging interface's own events first, then the names MGO's production DVP records for
    the token and resource steps, then the names of this stack, which MedMij's central
    log does not define. Values never change: stored records are read back by them.
    """

    # --- the Logging interface, at its points (numbers as on the page) --------------------
    SEND_AUTHORIZATION_REQUEST = "send_authorization_request"  # 1, DVP
    RECEIVE_AUTHORIZATION_REQUEST = "receive_authorization_request"  # 2, DVA
    SHOW_LANDING_PAGE = "show_landing_page"  # 3
    AUTHORIZATION_REQUEST_ERROR = "authorization_request_error"  # 3.1, with the next
    SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE = "show_authorization_request_error_page"  # 3.1
    SEND_AUTHORIZATION_REQUEST_ERROR = "send_authorization_request_error"  # 3.2
    SEND_AUTHENTICATION_REQUEST = "send_authentication_request"  # 4, to DigiD
    SEND_AUTHORIZATION_CANCELLATION = "send_authorization_cancellation"  # 4.1
    RECEIVE_AUTHENTICATION_RESPONSE = "receive_authentication_response"  # 5, from DigiD
    RECEIVE_AUTHORIZATION_CANCELLATION = "receive_authorization_cancellation"  # 5.1
    RECEIVE_AUTHENTICATION_ERROR = "receive_authentication_error"  # 5.2
    SEND_ARTIFACT_RESOLUTION_REQUEST = "send_artifact_resolution_request"  # to DigiD

    # --- MGO's DVP (minvws/nl-mgo-dvp-proxy, medmij_logging) --------------------------------
    SEND_TOKEN_REQUEST = "send_token_request"
    SEND_RESOURCE_REQUEST = "send_resource_request"
    RECEIVE_RESOURCE_RESPONSE = "receive_resource_response"
    RECEIVE_RESOURCE_REQUEST_ERROR = "receive_resource_request_error"
    RECEIVE_RESOURCE_ERROR_RESPONSE = "receive_resource_error_response"

    # --- this stack's own, by the Logging interface's verb_object pattern -----------------
    # DVP (PGO server)
    RECEIVE_AUTHORIZATION_RESPONSE = "receive_authorization_response"
    RECEIVE_AUTHORIZATION_ERROR = "receive_authorization_error"
    RECEIVE_TOKEN_RESPONSE = "receive_token_response"
    RECEIVE_TOKEN_ERROR = "receive_token_error"
    # DVA authorisation server, front channel
    SHOW_CANCELLATION_PAGE = "show_cancellation_page"
    SEND_AVAILABILITY_REQUEST = "send_availability_request"
    RECEIVE_AVAILABILITY_RESPONSE = "receive_availability_response"
    RECEIVE_AVAILABILITY_ERROR = "receive_availability_error"
    SHOW_CONSENT_PAGE = "show_consent_page"
    RECEIVE_CONSENT = "receive_consent"
    RECEIVE_CONSENT_DENIAL = "receive_consent_denial"
    SEND_AUTHORIZATION_RESPONSE = "send_authorization_response"
    SEND_AUTHORIZATION_ERROR = "send_authorization_error"
    SHOW_TECHNICAL_ERROR_PAGE = "show_technical_error_page"
    # No longer written (receive_authentication_response, event 5, is logged at its point);
    # kept so that records stored before still read.
    RECEIVE_ARTIFACT_RESOLUTION_RESPONSE = "receive_artifact_resolution_response"
    # DVA authorisation server, back channel
    RECEIVE_TOKEN_REQUEST = "receive_token_request"
    SEND_TOKEN_RESPONSE = "send_token_response"
    SEND_TOKEN_ERROR = "send_token_error"
    RECEIVE_REVOCATION_REQUEST = "receive_revocation_request"
    SEND_REVOCATION_RESPONSE = "send_revocation_response"
    SEND_REVOCATION_ERROR = "send_revocation_error"
    RECEIVE_INTROSPECTION_REQUEST = "receive_introspection_request"
    SEND_INTROSPECTION_RESPONSE = "send_introspection_response"
    SEND_INTROSPECTION_ERROR = "send_introspection_error"
    # DVA resource server
    RECEIVE_RESOURCE_REQUEST = "receive_resource_request"
    SEND_RESOURCE_RESPONSE = "send_resource_response"
    SEND_RESOURCE_ERROR_RESPONSE = "send_resource_error_response"

    @property
    def provenance(self) -> Provenance:
        if self in INTERFACE_EVENTS:
            return Provenance.LOGGING_INTERFACE
        if self in MGO_EVENTS:
            return Provenance.MGO
        return Provenance.OWN

    @property
    def inferred(self) -> bool:
        """True for names this stack derived by symmetry rather than read in the spec."""
        return self not in SPEC_EVENTS

    @property
    def requires_session(self) -> bool:
        """The Logging interface's events carry the person's session id, always."""
        return self in INTERFACE_EVENTS


class Provenance(StrEnum):
    """Where an event name comes from."""

    LOGGING_INTERFACE = "logging-interface"  # the Afsprakenstelsel's Logging interface
    MGO = "mgo"  # MGO's production DVP, for the steps the page does not name
    OWN = "own"  # this stack's: not defined by MedMij's central log


INTERFACE_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.SEND_AUTHORIZATION_REQUEST,
        EventType.RECEIVE_AUTHORIZATION_REQUEST,
        EventType.SHOW_LANDING_PAGE,
        EventType.AUTHORIZATION_REQUEST_ERROR,
        EventType.SHOW_AUTHORIZATION_REQUEST_ERROR_PAGE,
        EventType.SEND_AUTHORIZATION_REQUEST_ERROR,
        EventType.SEND_AUTHENTICATION_REQUEST,
        EventType.SEND_AUTHORIZATION_CANCELLATION,
        EventType.RECEIVE_AUTHENTICATION_RESPONSE,
        EventType.RECEIVE_AUTHORIZATION_CANCELLATION,
        EventType.RECEIVE_AUTHENTICATION_ERROR,
        EventType.SEND_ARTIFACT_RESOLUTION_REQUEST,
    }
)
"""The events of the Logging interface (AS 2.x, events 1 to 5 and their alternatives, and
the artifact resolution request), logged at exactly its points."""

MGO_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.SEND_TOKEN_REQUEST,
        EventType.SEND_RESOURCE_REQUEST,
        EventType.RECEIVE_RESOURCE_RESPONSE,
        EventType.RECEIVE_RESOURCE_REQUEST_ERROR,
        EventType.RECEIVE_RESOURCE_ERROR_RESPONSE,
    }
)
"""The names MGO's production DVP records for the steps after the authorization."""

SPEC_EVENTS: frozenset[EventType] = INTERFACE_EVENTS | MGO_EVENTS
"""Event names found in the Logging interface or MGO's implementation of it."""

OWN_EVENTS: frozenset[EventType] = frozenset(EventType) - SPEC_EVENTS
"""This stack's own event names; check them against the EagleEye swagger."""

INFERRED_EVENTS: frozenset[EventType] = OWN_EVENTS
"""The former name of :data:`OWN_EVENTS`."""


# --- reading helpers -------------------------------------------------------------------


def _table(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise KetenlogError(f"{where} must be an object, got {type(data).__name__}")
    return data


def _text(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise KetenlogError(f"{where}.{name} must be a non-empty string")
    return value


def _optional_text(data: Mapping[str, Any], name: str, where: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise KetenlogError(f"{where}.{name} must be a string or null")
    return value


def _optional_int(data: Mapping[str, Any], name: str, where: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    # bool is an int subclass, and True is no HTTP status.
    if not isinstance(value, int) or isinstance(value, bool):
        raise KetenlogError(f"{where}.{name} must be a whole number or null")
    return value


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


# --- the record ------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """What happened, where, when, and in which session and flow."""

    type: EventType
    location: str
    datetime: datetime
    session_id: str | None
    trace_id: str

    def __post_init__(self) -> None:
        if self.datetime.tzinfo is None or self.datetime.utcoffset() is None:
            raise KetenlogError("event.datetime must carry a UTC offset")
        if not self.location:
            raise KetenlogError("event.location must be a non-empty string")
        if not self.trace_id:
            raise KetenlogError("event.trace_id must be a non-empty string")
        if self.type.requires_session and not self.session_id:
            raise KetenlogError(
                f"event.session_id must be a non-empty string for {self.type.value} "
                "(an event of the Logging interface)"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "location": self.location,
            "datetime": self.datetime.isoformat(),
            "session_id": self.session_id,
            "trace_id": self.trace_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> Event:
        table = _table(data, "event")
        kind = _text(table, "type", "event")
        try:
            event_type = EventType(kind)
        except ValueError:
            raise KetenlogError(f"event.type {kind!r} is not a known ketenlog event") from None
        stamp = _text(table, "datetime", "event")
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            raise KetenlogError(f"event.datetime {stamp!r} is not ISO 8601") from None
        return cls(
            type=event_type,
            location=_text(table, "location", "event"),
            datetime=moment,
            session_id=_optional_text(table, "session_id", "event"),
            trace_id=_text(table, "trace_id", "event"),
        )


@dataclass(frozen=True)
class RequestInfo:
    """The request an event is about: ``id`` is its MedMij-Request-ID."""

    id: str | None = None
    method: str | None = None
    uri: str | None = None
    client_id: str | None = None
    server_id: str | None = None
    grant_type: str | None = None
    initiated_by: str | None = None
    provider_id: str | None = None
    service_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "id": self.id,
                "method": self.method,
                "uri": self.uri,
                "client_id": self.client_id,
                "server_id": self.server_id,
                "grant_type": self.grant_type,
                "initiated_by": self.initiated_by,
                "provider_id": self.provider_id,
                "service_id": self.service_id,
            }
        )

    @classmethod
    def from_json(cls, data: Any) -> RequestInfo:
        table = _table(data, "request")
        texts = {
            name: _optional_text(table, name, "request")
            for name in (
                "id",
                "method",
                "uri",
                "client_id",
                "server_id",
                "grant_type",
                "initiated_by",
                "provider_id",
            )
        }
        return cls(**texts, service_id=_optional_int(table, "service_id", "request"))


@dataclass(frozen=True)
class ResponseInfo:
    """The response sent or received: ``id`` echoes the request's MedMij-Request-ID."""

    id: str | None
    status: int

    def to_json(self) -> dict[str, Any]:
        return _drop_none({"id": self.id, "status": self.status})

    @classmethod
    def from_json(cls, data: Any) -> ResponseInfo:
        table = _table(data, "response")
        status = _optional_int(table, "status", "response")
        if status is None:
            raise KetenlogError("response.status must be a whole number")
        return cls(id=_optional_text(table, "id", "response"), status=status)


@dataclass(frozen=True)
class ErrorInfo:
    """An error: ``code`` is the OAuth / RFC 6750 error code, or ``other``."""

    code: str
    description: str | None = None
    request_id: str | None = None
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "code": self.code,
                "description": self.description,
                "request_id": self.request_id,
                "status": self.status,
            }
        )

    @classmethod
    def from_json(cls, data: Any) -> ErrorInfo:
        table = _table(data, "error")
        return cls(
            code=_text(table, "code", "error"),
            description=_optional_text(table, "description", "error"),
            request_id=_optional_text(table, "request_id", "error"),
            status=_optional_int(table, "status", "error"),
        )


@dataclass(frozen=True)
class Record:
    """One ketenlog record: an event, and what it concerned."""

    event: Event
    request: RequestInfo | None = None
    response: ResponseInfo | None = None
    error: ErrorInfo | None = None

    @classmethod
    def now(
        cls,
        type: EventType,
        *,
        location: str,
        session_id: str | None,
        trace_id: str,
        request: RequestInfo | None = None,
        response: ResponseInfo | None = None,
        error: ErrorInfo | None = None,
        at: datetime | None = None,
    ) -> Record:
        """A record of something that happens at this moment: ``at``, read from the
        service's clock (a simulation's is virtual), else the system clock's now."""
        moment = datetime.now(UTC) if at is None else at
        event = Event(type, location, moment, session_id, trace_id)
        return cls(event, request, response, error)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"event": self.event.to_json()}
        if self.request is not None:
            document["request"] = self.request.to_json()
        if self.response is not None:
            document["response"] = self.response.to_json()
        if self.error is not None:
            document["error"] = self.error.to_json()
        return document

    @classmethod
    def from_json(cls, data: Any) -> Record:
        table = _table(data, "record")
        if "event" not in table:
            raise KetenlogError("record.event is missing")
        request, response, error = (table.get(k) for k in ("request", "response", "error"))
        return cls(
            event=Event.from_json(table["event"]),
            request=None if request is None else RequestInfo.from_json(request),
            response=None if response is None else ResponseInfo.from_json(response),
            error=None if error is None else ErrorInfo.from_json(error),
        )
