"""Users who complete every step, with a 95% Wilson interval: the user test's figure.

The 2022 user research (Kantar, for MedMij) counts the share of users that got all the way
through: they searched for their zorgaanbieder, logged in with DigiD, gave consent and saw
their data. Here, precisely:

* **users**: persons with at least one attempt they started themselves (initiator
  ``person``) in the period, each counted once per PGO (a PGO knows its own users only);
* **completed**: those of them with at least one such attempt that ended in success, i.e.
  the PGO retrieved every chosen gegevensdienst and showed it. A success passed the search,
  DigiD and the consent, except where a langdurige toestemming from before let the PGO fetch
  at once (none in ``kantar-2022``, whose PGOs never tick "langdurig").

Both are counted from the ground truth (:func:`from_truth`) and from the PGOs' own funnel
events (:func:`from_events`); ``medmij simulate`` holds one against the other. The interval
is Wilson's score interval (:func:`wilson`), good for small counts and shares near 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medmij_stack.protocol.funnel import FunnelEvent, Initiator, Outcome
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.months import Period

__all__ = ["Completion", "CompletionFigures", "from_events", "from_truth", "wilson"]

Z_95 = 1.959963984540054  # the normal quantile of 0.975


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval of ``successes`` out of ``trials`` (0 trials: ``(0, 1)``)."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    if trials == 0:
        return 0.0, 1.0
    share = successes / trials
    z2 = z * z
    centre = (share + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(share * (1 - share) / trials + z2 / (4 * trials**2))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Completion:
    """The share of ``users`` that ``completed``, its interval, and the target it is held to."""

    completed: int
    users: int
    target: float | None = None

    @property
    def share(self) -> float:
        return self.completed / self.users if self.users else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.completed, self.users)

    @property
    def target_within(self) -> bool | None:
        if self.target is None:
            return None
        low, high = self.interval
        return low <= self.target <= high

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "completed": self.completed,
            "users": self.users,
            "share": round(self.share, 4),
            "wilson_95": [round(low, 4), round(high, 4)],
            "target": self.target,
            "target_within": self.target_within,
        }


@dataclass(frozen=True)
class CompletionFigures:
    overall: Completion
    per_pgo: Mapping[str, Completion]

    def counts(self) -> dict[str, tuple[int, int]]:
        """(completed, users) overall (key ``*``) and per PGO: what must agree."""
        result = {"*": (self.overall.completed, self.overall.users)}
        result |= {pgo: (c.completed, c.users) for pgo, c in self.per_pgo.items()}
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_json(),
            "per_pgo": {pgo: c.to_json() for pgo, c in sorted(self.per_pgo.items())},
        }


def _figures(
    attempts: Iterable[tuple[str, Any, bool]],
    target: float | None,
    targets: Mapping[str, float],
) -> CompletionFigures:
    started: dict[str, set[Any]] = defaultdict(set)
    completed: dict[str, set[Any]] = defaultdict(set)
    for pgo, person, succeeded in attempts:
        started[pgo].add(person)
        if succeeded:
            completed[pgo].add(person)
    per_pgo = {
        pgo: Completion(len(completed[pgo]), len(people), targets.get(pgo))
        for pgo, people in started.items()
    }
    overall = Completion(
        sum(c.completed for c in per_pgo.values()),
        sum(c.users for c in per_pgo.values()),
        target,
    )
    return CompletionFigures(overall, per_pgo)


def from_truth(
    truth: Iterable[Any],
    target: float | None = None,
    targets: Mapping[str, float] | None = None,
) -> CompletionFigures:
    """From the ground truth's attempts (``TruthAttempt``: every one is the person's own)."""
    return _figures(
        ((a.pgo, a.user, a.outcome is Outcome.SUCCESS) for a in truth), target, targets or {}
    )


def from_events(
    events: Iterable[FunnelEvent],
    period: Period,
    target: float | None = None,
    targets: Mapping[str, float] | None = None,
) -> CompletionFigures:
    """From the PGOs' funnel events: the attempts persons started in ``period``."""
    return _figures(
        (
            (a.pgo, a.person, a.succeeded)
            for a in fold_attempts(events)
            if a.month in period and a.initiator is Initiator.PERSON
        ),
        target,
        targets or {},
    )
