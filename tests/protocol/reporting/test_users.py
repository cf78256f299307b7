"""Users by outcome per month (overlapping sets) and active users per year and per 12 months."""

from __future__ import annotations

from medmij_stack.protocol.funnel import FailureReason, FunnelEvent, FunnelStep, Initiator
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.months import Month, Period
from medmij_stack.protocol.reporting.users import (
    OutcomeUsers,
    active_in_last_12_months,
    active_in_year,
    outcome_users,
    outcome_users_by_month,
)
from tests.protocol.reporting.builders import SUCCESS, at, flow

TOKEN = FailureReason.TOKEN_ERROR
CANCEL = FailureReason.DIGID_CANCELLED


def january() -> list[FunnelEvent]:
    return [
        *flow("ann", at(2026, 1, 3), SUCCESS),
        *flow("ann", at(2026, 1, 4), TOKEN),
        *flow("bob", at(2026, 1, 5), SUCCESS),
        *flow("bob", at(2026, 1, 6), SUCCESS),
        *flow("cem", at(2026, 1, 7), CANCEL),
        *flow("dua", at(2026, 1, 8), CANCEL),
        *flow("dua", at(2026, 1, 9), TOKEN),
        *flow("eva", at(2026, 1, 10), None, through=FunnelStep.INGELOGD_BIJ_DVA),
        *flow("fay", at(2026, 1, 11), SUCCESS, initiator=Initiator.SYSTEM),
    ]


def test_success_and_failure_users_overlap_and_are_shown_as_such() -> None:
    figures = outcome_users(fold_attempts(january()))
    assert figures == OutcomeUsers(
        succeeded=3,  # ann, bob, fay
        failed=3,  # ann, cem, dua
        both=1,  # ann
        only_succeeded=2,  # bob, fay
        only_failed=2,  # cem, dua
        attempts_succeeded=4,
        attempts_failed=4,
        attempts_unfinished=1,  # eva: in neither set
    )
    assert figures.users == 5


def test_each_month_counts_its_own_attempts_and_an_empty_month_is_zeros() -> None:
    events = [*january(), *flow("gus", at(2026, 3, 2), SUCCESS)]
    by_month = dict(
        outcome_users_by_month(fold_attempts(events), Period.parse("2026-01", "2026-03"))
    )
    assert by_month[Month(2026, 1)].succeeded == 3
    assert by_month[Month(2026, 2)] == OutcomeUsers(0, 0, 0, 0, 0, 0, 0, 0)
    assert by_month[Month(2026, 3)].succeeded == 1
    assert by_month[Month(2026, 3)].failed == 0


def history() -> list[FunnelEvent]:
    return [
        *flow("p1", at(2025, 3, 15), SUCCESS),
        *flow("p2", at(2025, 12, 15), SUCCESS),
        *flow("p3", at(2026, 1, 15), SUCCESS),
        *flow("p4", at(2026, 1, 16), TOKEN),  # never successful: never active
        *flow("p2", at(2026, 2, 15), SUCCESS),
        *flow("p5", at(2026, 6, 15), SUCCESS),
    ]


def test_active_users_per_calendar_year() -> None:
    attempts = fold_attempts(history())
    assert active_in_year(attempts, 2025) == 2  # p1, p2
    assert active_in_year(attempts, 2026) == 3  # p3, p2, p5
    assert active_in_year(attempts, 2024) == 0


def test_the_year_count_starts_again_in_january() -> None:
    attempts = fold_attempts(history())
    # p2's success in December 2025 does not carry into 2026.
    assert active_in_year(attempts, 2026, through=Month(2026, 1)) == 1  # p3
    assert active_in_year(attempts, 2026, through=Month(2026, 2)) == 2  # p3, p2
    assert active_in_year(attempts, 2026, through=Month(2025, 12)) == 0


def test_active_users_over_the_twelve_months_ending_at_a_month() -> None:
    attempts = fold_attempts(history())
    # 2025-03 … 2026-02: p1 (its March 2025 is the window's first month), p2, p3.
    assert active_in_last_12_months(attempts, Month(2026, 2)) == 3
    # 2025-04 … 2026-03: p1 has dropped out.
    assert active_in_last_12_months(attempts, Month(2026, 3)) == 2
    assert active_in_last_12_months(attempts, Month(2024, 12)) == 0
