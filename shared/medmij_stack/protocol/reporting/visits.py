"""Visits: a person's logged-in sessions on the PGO, retrieval or not.

The 2026 DVP-rapportage counts users by their sessions, not only by their retrievals: a
"bezoeker" logged in that month and started no retrieval, a successful user is sorted by the
month of their previous login, and usage frequency counts sessions (Beheerrapportage
optimalisatie PoP C3.005, ``queries_dvp``:
https://github.com/Stichting-MedMij/Ontwikkeling-afsprakenstelsel-Onderhoud-en-doorontwikkelingBeheerrapportage-optimalisatie-PoP-C3.005).
Funnel events only exist once a retrieval starts, so the PGO records one :class:`Visit` per
session in which a person logs in. Without visits those figures still come out, counting
only persons who started a retrieval (see :mod:`medmij_stack.protocol.reporting.dvp`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medmij_stack.protocol.funnel import Device
from medmij_stack.protocol.reporting.errors import ReportingError

__all__ = ["Visit"]


@dataclass(frozen=True)
class Visit:
    """A session in which ``person`` (the same pseudonymous id as on funnel events) logged in.

    ``session`` is the PGO's own id of the session (the ketenlog's ``session_id``); the same
    session recorded twice is still one session.
    """

    person: str
    at: datetime
    session: str
    device: Device

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ReportingError("visit.at: a visit's time must carry its offset")
        if not self.person or not self.session:
            raise ReportingError("visit: person and session must be non-empty")

    def to_json(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "at": self.at.isoformat(),
            "session": self.session,
            "device": self.device.value,
        }

    @classmethod
    def from_json(cls, data: Any) -> Visit:
        if not isinstance(data, dict):
            raise ReportingError("a visit is a JSON object")
        try:
            return cls(
                person=str(data["person"]),
                at=datetime.fromisoformat(data["at"]),
                session=str(data["session"]),
                device=Device(data["device"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ReportingError):
                raise
            raise ReportingError(f"not a visit: {exc}") from exc
