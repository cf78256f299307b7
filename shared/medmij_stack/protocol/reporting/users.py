"""Unique users by the outcome of their retrievals: per month, per year, over twelve months.

These are the figures MedMij's monitoring quotes ("about 15,000 PGO users had at least one
successful retrieval and about 8,000 at least one unsuccessful one"): persons, not attempts,
counted by the outcome of their attempts' ``verzamelen.flow-end``. A person with a success
and a failure in the same month is in both sets, so the two overlap and do not add up; the
overlap and both remainders are given too. Attempts that have not ended are in neither set
(they are counted apart, as ``attempts_unfinished``). Retrievals the PGO runs by itself on a
long-term consent count for the person they were run for.

Active users are persons with at least one successful retrieval ("succesvol afgeronde UC
Verzamelen", Managementinformatie,
https://afsprakenstelsel.medmij.nl/display/PUBLIC/Managementinformatie) in a calendar year
(the count starts again every January) or in the twelve months ending at a given month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from medmij_stack.protocol.reporting.attempts import Attempt
from medmij_stack.protocol.reporting.months import Month, Period

__all__ = [
    "OutcomeUsers",
    "active_in_last_12_months",
    "active_in_year",
    "outcome_users",
    "outcome_users_by_month",
]


@dataclass(frozen=True)
class OutcomeUsers:
    """Persons with at least one successful and with at least one failed retrieval."""

    succeeded: int
    """Persons with ≥ 1 successful retrieval."""
    failed: int
    """Persons with ≥ 1 failed retrieval (they may have succeeded too)."""
    both: int
    only_succeeded: int
    only_failed: int
    attempts_succeeded: int
    attempts_failed: int
    attempts_unfinished: int

    @property
    def users(self) -> int:
        """Persons with at least one ended retrieval: the union of the two sets."""
        return self.only_succeeded + self.both + self.only_failed

    def to_json(self) -> dict[str, Any]:
        return {
            "users_with_success": self.succeeded,
            "users_with_failure": self.failed,
            "users_with_both": self.both,
            "users_with_only_success": self.only_succeeded,
            "users_with_only_failure": self.only_failed,
            "users": self.users,
            "attempts_succeeded": self.attempts_succeeded,
            "attempts_failed": self.attempts_failed,
            "attempts_unfinished": self.attempts_unfinished,
        }


def outcome_users(attempts: Iterable[Attempt]) -> OutcomeUsers:
    """The outcome sets over ``attempts`` (filter them to a month first)."""
    chosen = list(attempts)
    succeeded = {a.person for a in chosen if a.succeeded}
    failed = {a.person for a in chosen if a.failed}
    return OutcomeUsers(
        succeeded=len(succeeded),
        failed=len(failed),
        both=len(succeeded & failed),
        only_succeeded=len(succeeded - failed),
        only_failed=len(failed - succeeded),
        attempts_succeeded=sum(a.succeeded for a in chosen),
        attempts_failed=sum(a.failed for a in chosen),
        attempts_unfinished=sum(a.unfinished for a in chosen),
    )


def outcome_users_by_month(
    attempts: Iterable[Attempt], period: Period
) -> tuple[tuple[Month, OutcomeUsers], ...]:
    """:func:`outcome_users` for every month of ``period``; a month without attempts is zeros."""
    chosen = list(attempts)
    return tuple((m, outcome_users(a for a in chosen if a.month == m)) for m in period)


def active_in_year(attempts: Iterable[Attempt], year: int, through: Month | None = None) -> int:
    """Persons with ≥ 1 successful retrieval in calendar ``year``, from January on.

    ``through`` stops the count at the end of that month (the year so far, as a monthly
    report sees it); without it the whole year counts.
    """
    last = through if through is not None and through.year == year else Month(year, 12)
    if through is not None and through.year < year:
        return 0
    return len({a.person for a in attempts if a.succeeded and Month(year, 1) <= a.month <= last})


def active_in_last_12_months(attempts: Iterable[Attempt], ending: Month) -> int:
    """Persons with ≥ 1 successful retrieval in the twelve months up to and with ``ending``."""
    first = ending.shifted(-11)
    return len({a.person for a in attempts if a.succeeded and first <= a.month <= ending})
