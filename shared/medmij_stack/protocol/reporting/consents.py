"""Long-term consents (langdurige toestemming) held at a moment, for AantalLangdurigeToestemming.

With langdurige toestemming (AS 2.0.0, RFC0054,
https://afsprakenstelsel.medmij.nl/display/MACM/RFC0054+Langdurige+en+offline+autorisatie+van+DVP)
the PGO holds a refresh token per person and zorgaanbieder. The DVP-rapportage counts the
persons holding one "aan het einde van de maand", by a count on the PGO's tokens rather than
from the funnel (decision of 2026-03-02 in the pilot's LOGBOEK,
https://github.com/Stichting-MedMij/Ontwikkeling-afsprakenstelsel-Onderhoud-en-doorontwikkelingBeheerrapportage-optimalisatie-PoP-C3.005).
The PGO hands each consent over as a span: from the token's grant until it was revoked or
lapsed (six months after its last use), or open while it still holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from medmij_stack.protocol.reporting.errors import ReportingError

__all__ = ["LongTermConsent", "holders_at"]


@dataclass(frozen=True)
class LongTermConsent:
    """One long-term consent of ``person`` at ``zorgaanbieder``, held from ``granted_at``
    until ``ended_at`` (revoked or lapsed; ``None`` while it holds)."""

    person: str
    zorgaanbieder: str
    granted_at: datetime
    ended_at: datetime | None = None

    def __post_init__(self) -> None:
        moments = [self.granted_at] + ([self.ended_at] if self.ended_at is not None else [])
        if any(m.tzinfo is None for m in moments):
            raise ReportingError("long-term consent: its times must carry their offset")
        if self.ended_at is not None and self.ended_at < self.granted_at:
            raise ReportingError(
                f"long-term consent of {self.person} at {self.zorgaanbieder} ends before"
                " it was granted"
            )

    def held_just_before(self, moment: datetime) -> bool:
        """Held at the last instant before ``moment`` (a month's end, exclusive)."""
        return self.granted_at < moment and (self.ended_at is None or self.ended_at >= moment)


def holders_at(consents: Iterable[LongTermConsent], moment: datetime) -> int:
    """How many persons hold at least one long-term consent just before ``moment``.

    A person with consents at three zorgaanbieders counts once: the report counts users.
    """
    return len({c.person for c in consents if c.held_just_before(moment)})
