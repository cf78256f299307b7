"""The PGO's funnel events and the failure taxonomy every retrieval attempt maps to.

A retrieval attempt (one flow: one zorgaanbieder, the gegevensdiensten chosen there) leaves a
trail of funnel events on the PGO, from ``verzamelen.flow-start`` to exactly one
``verzamelen.flow-end`` with its outcome. A failed attempt carries exactly one
:class:`FailureReason`, and with it the :class:`ProcessStep` where it failed, so that reports
can say where patients drop out (zorgaanbieder zoeken → DigiD → uitwisseling) and why.

These events are the PGO's own measurement record, next to the ketenlog
(:mod:`medmij_stack.protocol.ketenlog`), which follows MedMij's Logging interface. Both carry
the flow's X-Correlation-ID (``flow_id`` here, ``trace_id`` there), so the two can be joined.
Times come from an injectable :data:`Clock`, so a simulation can let months pass in minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Clock",
    "Device",
    "FailureReason",
    "FunnelError",
    "FunnelEvent",
    "FunnelStep",
    "Initiator",
    "Outcome",
    "ProcessStep",
    "system_clock",
]

Clock = Callable[[], datetime]
"""Gives the current time, timezone-aware. Services take one so a simulation can move time."""


def system_clock() -> datetime:
    return datetime.now(UTC)


class FunnelError(ValueError):
    """An event that does not have the funnel-event shape; the message says which member."""


class FunnelStep(StrEnum):
    """The funnel events of Verzamelen on the PGO, in the order a successful attempt has them."""

    FLOW_START = "verzamelen.flow-start"
    ZORGAANBIEDER_GEKOZEN = "verzamelen.zorgaanbieder-gekozen"
    GEGEVENSDIENST_GEKOZEN = "verzamelen.gegevensdienst-gekozen"
    INGELOGD_BIJ_DVA = "verzamelen.ingelogd-bij-dva"
    FLOW_END = "verzamelen.flow-end"


class ProcessStep(StrEnum):
    """MedMij's process steps of a retrieval, where an attempt can end."""

    ZORGAANBIEDER_ZOEKEN = "zorgaanbieder-zoeken"
    """Finding the zorgaanbieder and gegevensdienst in the PGO."""
    DIGID = "digid"
    """At the DVA: the authorization request, DigiD, the beschikbaarheidstoets and consent."""
    UITWISSELING = "uitwisseling"
    """Back on the PGO: token exchange, every query, validation and storage."""


class Outcome(StrEnum):
    SUCCESS = "succes"
    FAILURE = "mislukt"


class FailureReason(StrEnum):
    """Why an attempt failed: exactly one per failed attempt."""

    ABANDONED_AT_SEARCH = "afgehaakt-bij-zoeken"
    """The person started but never chose a zorgaanbieder (or left before going to the DVA)."""
    DIGID_FAILED = "digid-mislukt"
    """The DVA answered ``unauthorized_client``: the DigiD login failed."""
    DIGID_CANCELLED = "digid-geannuleerd"
    """The person cancelled at the DVA's landing page or at DigiD (``access_denied``)."""
    CONSENT_DENIED = "toestemming-geweigerd"
    """The person refused consent, or the zorgaanbieder has nothing for them (``access_denied``
    after DigiD: the DVA may not let the PGO tell these two apart)."""
    NO_DATA = "geen-gegevens"
    """The beschikbaarheidstoets was negative, where the PGO can know it (its own records)."""
    INVALID_REQUEST = "ongeldig-verzoek"
    """The DVA refused the authorization request, or the callback was malformed or forged."""
    TOKEN_ERROR = "token-fout"  # noqa: S105 - a reason, not a secret
    """The token endpoint refused the code or could not be reached."""
    RESOURCE_ERROR = "resource-fout"
    """A resource request failed: an HTTP error status, a timeout or no connection."""
    INVALID_CONTENT = "ongeldige-inhoud"
    """A resource answer was not valid FHIR of the gegevensdienst's version."""
    CLIENT_ERROR = "client-fout"
    """The PGO itself failed (its own error, not the DVA's)."""

    @property
    def step(self) -> ProcessStep:
        """The process step this reason ends an attempt at."""
        return _STEP[self]


_STEP: Mapping[FailureReason, ProcessStep] = {
    FailureReason.ABANDONED_AT_SEARCH: ProcessStep.ZORGAANBIEDER_ZOEKEN,
    FailureReason.DIGID_FAILED: ProcessStep.DIGID,
    FailureReason.DIGID_CANCELLED: ProcessStep.DIGID,
    FailureReason.CONSENT_DENIED: ProcessStep.DIGID,
    FailureReason.NO_DATA: ProcessStep.DIGID,
    FailureReason.INVALID_REQUEST: ProcessStep.DIGID,
    FailureReason.TOKEN_ERROR: ProcessStep.UITWISSELING,
    FailureReason.RESOURCE_ERROR: ProcessStep.UITWISSELING,
    FailureReason.INVALID_CONTENT: ProcessStep.UITWISSELING,
    FailureReason.CLIENT_ERROR: ProcessStep.UITWISSELING,
}


class Device(StrEnum):
    """Where the person used the PGO; ``system`` for retrievals the PGO starts by itself."""

    APP = "app"
    PC = "pc"
    WEB = "web"
    SYSTEM = "system"


class Initiator(StrEnum):
    PERSON = "person"
    SYSTEM = "system"
    """A retrieval started by the PGO with a refresh token (langdurige toestemming)."""


@dataclass(frozen=True)
class FunnelEvent:
    """One funnel event of one attempt.

    ``flow_id`` is the attempt's X-Correlation-ID; ``person`` a pseudonymous id of the PGO
    account (never a BSN); ``pgo`` the PGO's OCL hostname. ``outcome``, and for a failure
    ``reason`` and ``step``, are set on ``verzamelen.flow-end`` only.
    """

    name: FunnelStep
    at: datetime
    flow_id: str
    person: str
    pgo: str
    device: Device
    initiator: Initiator
    zorgaanbieder: str | None = None
    gegevensdiensten: tuple[str, ...] = ()
    outcome: Outcome | None = None
    reason: FailureReason | None = None
    step: ProcessStep | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise FunnelError("at: a funnel event's time must carry its offset")
        ending = self.name is FunnelStep.FLOW_END
        if ending != (self.outcome is not None):
            raise FunnelError("outcome: set on verzamelen.flow-end, and only there")
        failed = self.outcome is Outcome.FAILURE
        if failed != (self.reason is not None) or failed != (self.step is not None):
            raise FunnelError("reason, step: set for a failed attempt, and only then")
        if self.initiator is Initiator.SYSTEM and self.device is not Device.SYSTEM:
            raise FunnelError("device: a system-initiated retrieval has device 'system'")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name.value,
            "at": self.at.isoformat(),
            "flow_id": self.flow_id,
            "person": self.person,
            "pgo": self.pgo,
            "device": self.device.value,
            "initiator": self.initiator.value,
            "zorgaanbieder": self.zorgaanbieder,
            "gegevensdiensten": list(self.gegevensdiensten),
            "outcome": self.outcome.value if self.outcome else None,
            "reason": self.reason.value if self.reason else None,
            "step": self.step.value if self.step else None,
            "detail": self.detail,
        }
        return data

    @classmethod
    def from_json(cls, data: Any) -> FunnelEvent:
        if not isinstance(data, Mapping):
            raise FunnelError("a funnel event is a JSON object")
        try:
            return cls(
                name=FunnelStep(data["name"]),
                at=datetime.fromisoformat(data["at"]),
                flow_id=str(data["flow_id"]),
                person=str(data["person"]),
                pgo=str(data["pgo"]),
                device=Device(data["device"]),
                initiator=Initiator(data["initiator"]),
                zorgaanbieder=data.get("zorgaanbieder"),
                gegevensdiensten=tuple(str(g) for g in data.get("gegevensdiensten") or ()),
                outcome=Outcome(data["outcome"]) if data.get("outcome") else None,
                reason=FailureReason(data["reason"]) if data.get("reason") else None,
                step=ProcessStep(data["step"]) if data.get("step") else None,
                detail=data.get("detail"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, FunnelError):
                raise
            raise FunnelError(f"not a funnel event: {exc}") from exc
