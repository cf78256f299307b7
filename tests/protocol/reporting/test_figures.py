"""compute(): every figure for every month of a period, a quiet month as zeros, and JSON."""

from __future__ import annotations

import json
from datetime import timedelta
from fractions import Fraction

from medmij_stack.protocol.funnel import Device, FailureReason, FunnelEvent, Initiator
from medmij_stack.protocol.ketenlog import EventType as E
from medmij_stack.protocol.ketenlog import Record
from medmij_stack.protocol.reporting.figures import Figures, compute
from medmij_stack.protocol.reporting.months import Month, Period
from medmij_stack.protocol.reporting.users import OutcomeUsers
from tests.protocol.reporting.builders import SUCCESS, at, flow, record

JAN, FEB, MAR = Month(2026, 1), Month(2026, 2), Month(2026, 3)
SEC = timedelta(seconds=1)
DVA = "api.dva.localhost"


def events() -> list[FunnelEvent]:
    return [
        *flow("bob", at(2025, 12, 10), SUCCESS),  # before the period: only the look-back
        *flow("ann", at(2026, 1, 10), SUCCESS, device=Device.WEB, flow_id="T1"),
        *flow("bob", at(2026, 1, 11), FailureReason.TOKEN_ERROR, device=Device.APP),
        # February: nothing at all.
        *flow("ann", at(2026, 3, 10), FailureReason.DIGID_CANCELLED),
        *flow("cem", at(2026, 3, 11), SUCCESS, initiator=Initiator.SYSTEM),
    ]


def ketenlog() -> list[Record]:
    t = at(2026, 1, 10, 12, 5)
    return [
        record(E.SEND_TOKEN_REQUEST, t, "T1", request_id="r1"),
        record(E.SEND_TOKEN_RESPONSE, t + SEC, "T1", answer_id="r1", location=DVA),
        record(E.RECEIVE_TOKEN_RESPONSE, t + SEC * 2, "T1", answer_id="r1"),
        record(E.SEND_RESOURCE_REQUEST, t + SEC * 3, "T1", request_id="r2", provider="umc"),
        record(E.SEND_RESOURCE_RESPONSE, t + SEC * 7, "T1", answer_id="r2", location=DVA),
        record(E.RECEIVE_RESOURCE_RESPONSE, t + SEC * 8, "T1", answer_id="r2"),
    ]


def figures() -> Figures:
    return compute(events(), ketenlog(), Period(JAN, MAR))


def test_one_entry_per_month_of_the_period() -> None:
    assert [m.month for m in figures().months] == [JAN, FEB, MAR]


def test_january() -> None:
    january = figures().month(JAN)
    assert january.span.outcome_users == OutcomeUsers(
        succeeded=1, failed=1, both=0, only_succeeded=1, only_failed=1,
        attempts_succeeded=1, attempts_failed=1, attempts_unfinished=0,
    )  # fmt: skip
    assert january.active_year_to_date == 1  # ann; bob's December success is last year
    assert january.active_last_12_months == 2  # ann, bob
    assert (january.span.steps.attempts, january.span.steps.succeeded) == (2, 1)
    token = january.span.token_latency
    assert (token.count, token.at("50"), token.share, token.passed) == (
        1,
        SEC * 2,
        Fraction(1),
        True,
    )
    resource = january.span.resource_latency
    assert (resource.count, resource.at("98.5"), resource.passed) == (1, SEC * 5, True)
    assert january.dvp.gebruikers_afgelopen_maand == 2
    assert (january.dvp.aantal_succesvol, january.dvp.aantal_failed) == (1, 1)
    assert (january.dvp.aantal_web, january.dvp.uitval_app) == (1, 1)
    assert january.beheer.actieve_gebruikers == 2


def test_a_month_without_events_is_a_report_of_zeros() -> None:
    february = figures().month(FEB)
    assert february.span.outcome_users == OutcomeUsers(0, 0, 0, 0, 0, 0, 0, 0)
    assert (february.span.steps.attempts, february.span.steps.success_rate) == (0, None)
    assert all(groups == () for groups in february.span.breakdowns.values())
    assert (february.span.token_latency.count, february.span.token_latency.passed) == (0, None)
    assert february.beheer.actieve_gebruikers == 0
    assert february.beheer.gegevensdiensten == ()
    # Only the figures that look back over twelve months or the year see anyone.
    looking_back = {"gebruikers_afgelopen_jaar"}
    assert {name for name, value in vars(february.dvp).items() if value} == looking_back
    assert february.dvp.gebruikers_afgelopen_jaar == 2  # ann (Jan), bob (Dec, Jan)
    assert february.active_year_to_date == 1
    assert february.active_last_12_months == 2


def test_march_and_the_pgos_own_retrievals() -> None:
    march = figures().month(MAR)
    assert (march.span.outcome_users.succeeded, march.span.outcome_users.failed) == (1, 1)
    assert march.active_year_to_date == 2  # ann (January), cem (March)
    # The step funnel has ann's own attempt only; cem's was the PGO's.
    assert (march.span.steps.attempts, march.span.steps.succeeded) == (1, 0)
    assert (march.dvp.aantal_system, march.dvp.succesvol_system) == (1, 1)
    assert march.dvp.gebruikers_afgelopen_maand == 1  # ann; cem did nothing himself


def test_the_whole_period_counts_each_person_once() -> None:
    result = figures()
    assert result.total.outcome_users.succeeded == 2  # ann, cem
    assert result.total.outcome_users.failed == 2  # bob, ann
    assert result.total.outcome_users.both == 1  # ann
    assert result.total.steps.success_rate == Fraction(1, 3)  # ann ✓, bob ✗, ann ✗
    assert [(y.year, str(y.through), y.active) for y in result.years] == [(2026, "2026-03", 2)]


def test_a_period_over_new_year_gives_each_year() -> None:
    result = compute(events(), [], Period(Month(2025, 12), JAN))
    assert [(y.year, str(y.through), y.active) for y in result.years] == [
        (2025, "2025-12", 1),
        (2026, "2026-01", 1),
    ]


def test_the_reconciliation_sees_both_sides() -> None:
    result = figures()
    assert result.reconciliation.mismatches == ()
    kinds = {
        (line.kind, line.zorgaanbieder, line.dva, line.pgo) for line in result.reconciliation.lines
    }
    assert kinds == {("tokens", "umc", 1, 1), ("resource_answers", "umc", 1, 1)}


def test_the_figures_are_plain_json() -> None:
    data = json.loads(json.dumps(figures().to_json()))
    assert data["period"] == {"from": "2026-01", "to": "2026-03"}
    assert [m["month"] for m in data["months"]] == ["2026-01", "2026-02", "2026-03"]
    january = data["months"][0]
    assert january["outcome_users"]["users_with_both"] == 0
    assert january["active_users"] == {"year_to_date": 1, "last_12_months": 2}
    assert january["latency"]["token"]["percentiles_seconds"]["p99.5"] == 2.0
    assert january["latency"]["token"]["passed"] is True
    assert january["dvp_data_record"]["AantalSuccesvol"] == 1
    assert january["breakdowns"]["device"][0]["key"] == "app"
    assert data["months"][1]["steps"]["success_rate"] is None
    assert data["reconciliation"]["agrees"] is True
