"""What a scripted patient does at each choice of a retrieval, as plain data.

The choices are the buttons of the screens (the DVA's, ``medmij_stack.authserver``
templates ``landing.html``, ``digid.html``, ``toestemming.html``): their values are the
hidden field values those forms carry, so a behaviour is exactly what a person clicks.
A behaviour model (``medmij simulate``) draws one :class:`Behaviour` per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Abandon", "AtConsent", "AtDigid", "AtLanding", "Behaviour"]


class AtLanding(StrEnum):
    """The DVA's landing page: the form with ``action=login`` or ``action=cancel``."""

    CONTINUE = "login"
    CANCEL = "cancel"


class AtDigid(StrEnum):
    """The DigiD simulator: log in with a BSN, let the login fail, or cancel."""

    LOG_IN = "login"
    FAIL = "fail"
    CANCEL = "cancel"


class AtConsent(StrEnum):
    """The toestemmingsverklaring: ``decision=allow`` or ``decision=deny``."""

    ALLOW = "allow"
    DENY = "deny"


class Abandon(StrEnum):
    """Where a person stops and never comes back (closes the tab)."""

    AT_SEARCH = "search"  # saw the search results, chose nothing
    AT_LANDING = "landing"  # saw the DVA's landing page
    AT_DIGID = "digid"  # saw DigiD
    AT_CONSENT = "consent"  # saw the toestemmingsverklaring


@dataclass(frozen=True)
class Behaviour:
    """One attempt's choices; the default is the happy path without langdurige toestemming."""

    landing: AtLanding = AtLanding.CONTINUE
    digid: AtDigid = AtDigid.LOG_IN
    consent: AtConsent = AtConsent.ALLOW
    langdurig: bool = False  # tick "Ik geef toestemming voor onbepaalde tijd"
    abandon: Abandon | None = None
    bsn: str | None = None  # typed at DigiD; None: the patient's own BSN
