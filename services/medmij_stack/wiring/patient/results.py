"""What a scripted patient reports: per step how long it took, per attempt how it ended.

Steps are the stretches a person waits through, each from the click to the next page
shown (redirects in between included):

``login``        the PGO's login form posted → the overview
``search``       "gegevens ophalen" → the search results
``authorize``    "ophalen" posted → the DVA's landing page (the authorization request)
``digid``        "inloggen met DigiD" → DigiD → artifact resolution and the
                 beschikbaarheidstoets → the toestemmingsverklaring (or back to the PGO)
``consent``      the decision posted → the redirect to the PGO
``cancellation`` "annuleren" → the annuleringspagina → "terug naar de PGO"
``callback``     the redirect URI → token, every query, storage → the outcome known
``revoke``       the consents page → "toestemming intrekken" → the consents page
``return``       back at an attempt whose page broke off: its outcome page, read again
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from medmij_stack.protocol.funnel import FailureReason, Outcome

from .behaviour import Abandon, Behaviour
from .html_forms import HtmlForm

__all__ = [
    "AttemptResult",
    "OfferedService",
    "OutcomeMessage",
    "ReturnVisit",
    "SearchHit",
    "ServiceOutcome",
    "Step",
    "StepTiming",
]


class Step(StrEnum):
    LOGIN = "login"
    SEARCH = "search"
    AUTHORIZE = "authorize"
    DIGID = "digid"
    CONSENT = "consent"
    CANCELLATION = "cancellation"
    CALLBACK = "callback"
    REVOKE = "revoke"
    RETURN = "return"


@dataclass(frozen=True)
class StepTiming:
    step: Step
    started: datetime
    seconds: float
    requests: int  # HTTP requests made in the step, redirects included


@dataclass(frozen=True)
class OfferedService:
    """A ``gegevensdienst`` checkbox of a search hit."""

    id: str
    label: str
    checked: bool


@dataclass(frozen=True)
class SearchHit:
    """One zorgaanbieder on the search page, with its "ophalen" form."""

    zorgaanbieder: str  # Zorgaanbiedernaam, the form's hidden field
    naam: str  # the name shown above the form
    services: tuple[OfferedService, ...]
    form: HtmlForm

    def service_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.services)


@dataclass(frozen=True)
class ServiceOutcome:
    """One gegevensdienst of an attempt, as the PGO's outcome view reports it."""

    gegevensdienst: str
    outcome: Outcome | None
    reason: FailureReason | None
    resources: Mapping[str, int]  # resource type → how many were fetched

    @property
    def total(self) -> int:
        return sum(self.resources.values())


@dataclass(frozen=True)
class OutcomeMessage:
    """What the PGO told the person on the page the attempt ended on (Dutch)."""

    title: str
    text: str


@dataclass(frozen=True)
class ReturnVisit:
    """An attempt's outcome page read again later, as a person whose page broke off
    mid-attempt (the PGO went away) comes back to see how it went.

    ``message`` is the page (its heading says what the person sees); ``outcome``,
    ``reason`` and ``situation`` are the PGO's outcome view of it, None while the attempt
    has not ended (still at the DVA) or when there is no view (``source`` ``html``);
    ``stage`` where the view says the attempt is (``zoeken``, ``bij-dva``, …; None without
    a view).
    """

    flow_id: str
    outcome: Outcome | None
    reason: FailureReason | None
    situation: str | None
    message: OutcomeMessage
    source: str
    url: str
    stage: str | None = None

    @property
    def ended(self) -> bool:
        return self.outcome is not None


@dataclass(frozen=True)
class AttemptResult:
    """One retrieval attempt as the patient lived it.

    ``outcome`` is None when the patient abandoned the attempt or the PGO never said.
    ``source`` says where outcome and reason were read: ``json`` (the PGO's outcome view),
    ``html`` (only the outcome page was there to read) or ``none`` (abandoned).
    """

    zorgaanbieder: str
    gegevensdiensten: tuple[str, ...]  # what the patient chose
    behaviour: Behaviour
    flow_id: str | None
    outcome: Outcome | None
    reason: FailureReason | None
    step: str | None  # the process step the PGO names for a failure
    situation: str | None  # what the PGO told the person (medmij_stack.pgo.situations)
    message: OutcomeMessage | None
    services: tuple[ServiceOutcome, ...]
    timings: tuple[StepTiming, ...]
    abandoned: Abandon | None = None
    without_dva: bool = False  # a langdurige toestemming let the PGO fetch at once
    source: str = "json"
    url: str | None = None  # the outcome page
    # Every URL requested since the previous attempt (the login and search included).
    visited: tuple[str, ...] = field(default=(), repr=False)

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    def seconds(self, step: Step) -> float | None:
        """Time spent in ``step`` (summed when it happened more than once)."""
        spent = [t.seconds for t in self.timings if t.step is step]
        return sum(spent) if spent else None

    def resources(self) -> dict[str, int]:
        """Resource types and counts over every gegevensdienst."""
        total: Counter[str] = Counter()
        for service in self.services:
            total.update(service.resources)
        return dict(sorted(total.items()))
