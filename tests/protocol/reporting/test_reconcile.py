"""Reconciliation: the DVA's counts against the PGO's per month and zorgaanbieder, every
record without its counterpart listed."""

from __future__ import annotations

from datetime import timedelta

from medmij_stack.protocol.funnel import FailureReason, FunnelEvent
from medmij_stack.protocol.ketenlog import EventType as E
from medmij_stack.protocol.ketenlog import Record
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.months import Month, Period
from medmij_stack.protocol.reporting.reconcile import Side, reconcile
from tests.protocol.reporting.builders import SUCCESS, at, flow, record

JAN, FEB = Month(2026, 1), Month(2026, 2)
DVA = "api.dva.localhost"
SEC = timedelta(seconds=1)


def records() -> list[Record]:
    t = at(2026, 1, 10)
    return [
        # T1 at "umc" (named on its resource requests): one resource answer never arrives.
        record(E.SEND_AUTHORIZATION_RESPONSE, t, "T1", location=DVA),
        record(E.RECEIVE_AUTHORIZATION_RESPONSE, t + SEC, "T1"),
        record(E.SEND_TOKEN_RESPONSE, t + SEC * 2, "T1", answer_id="r1", location=DVA),
        record(E.RECEIVE_TOKEN_RESPONSE, t + SEC * 3, "T1", answer_id="r1"),
        record(E.SEND_RESOURCE_REQUEST, t + SEC * 4, "T1", request_id="r2", provider="umc"),
        record(E.SEND_RESOURCE_RESPONSE, t + SEC * 5, "T1", answer_id="r2", location=DVA),
        record(E.RECEIVE_RESOURCE_RESPONSE, t + SEC * 6, "T1", answer_id="r2"),
        record(E.SEND_RESOURCE_RESPONSE, t + SEC * 7, "T1", answer_id="r3", location=DVA),
        # T2 at "huisarts" (known only from the PGO's funnel): the code never reached the
        # PGO, and the PGO logged a token error (a timeout) that the DVA never sent.
        record(E.SEND_AUTHORIZATION_RESPONSE, t + SEC * 8, "T2", location=DVA),
        record(E.RECEIVE_TOKEN_ERROR, t + SEC * 9, "T2", error_request_id="r4", status=408),
        # T3, zorgaanbieder unknown: a token sent 23:59:59 on 31 January (Dutch time) and
        # received at 00:00:01 on 1 February.
        record(E.SEND_TOKEN_RESPONSE, at(2026, 1, 31, 22, 59, 59), "T3", answer_id="r5",
               location=DVA),
        record(E.RECEIVE_TOKEN_RESPONSE, at(2026, 1, 31, 23, 0, 1), "T3", answer_id="r5"),
    ]  # fmt: skip


def funnel() -> list[FunnelEvent]:
    return flow(
        "p", at(2026, 1, 10), FailureReason.TOKEN_ERROR, zorgaanbieder="huisarts", flow_id="T2"
    )


def test_every_line_with_both_sides_counts() -> None:
    result = reconcile(records(), Period(JAN, FEB), attempts=fold_attempts(funnel()))
    summary = [
        (str(line.month), line.zorgaanbieder, line.kind, line.dva, line.pgo, line.matched)
        for line in result.lines
    ]
    assert summary == [
        ("2026-01", "huisarts", "codes", 1, 0, 0),
        ("2026-01", "huisarts", "token_errors", 0, 1, 0),
        ("2026-01", "umc", "codes", 1, 1, 1),
        ("2026-01", "umc", "tokens", 1, 1, 1),
        ("2026-01", "umc", "resource_answers", 2, 1, 1),
        ("2026-01", None, "tokens", 1, 0, 1),
        ("2026-02", None, "tokens", 0, 1, 0),
    ]


def test_every_mismatch_is_listed_with_the_records_that_have_no_counterpart() -> None:
    result = reconcile(records(), Period(JAN, FEB), attempts=fold_attempts(funnel()))
    mismatches = {(str(m.month), m.zorgaanbieder, m.kind): m for m in result.mismatches}
    assert set(mismatches) == {
        ("2026-01", "huisarts", "codes"),
        ("2026-01", "huisarts", "token_errors"),
        ("2026-01", "umc", "resource_answers"),
        ("2026-01", None, "tokens"),
        ("2026-02", None, "tokens"),
    }
    (code,) = mismatches[("2026-01", "huisarts", "codes")].only_dva
    assert (code.side, code.trace_id, code.event) == (Side.DVA, "T2", E.SEND_AUTHORIZATION_RESPONSE)
    (timeout,) = mismatches[("2026-01", "huisarts", "token_errors")].only_pgo
    assert (timeout.side, timeout.request_id) == (Side.PGO, "r4")
    (lost,) = mismatches[("2026-01", "umc", "resource_answers")].only_dva
    assert lost.request_id == "r3"
    # The midnight token is matched: the months differ in count, no record lacks its partner.
    january_token = mismatches[("2026-01", None, "tokens")]
    assert (january_token.only_dva, january_token.only_pgo) == ((), ())
    assert not result.to_json()["agrees"]
    assert result.to_json()["mismatches"] == 5


def test_month_totals_cover_every_kind_of_every_month() -> None:
    result = reconcile(records(), Period(JAN, FEB), attempts=fold_attempts(funnel()))
    totals = {(str(t.month), t.kind): (t.dva, t.pgo, t.only_dva, t.only_pgo) for t in result.totals}
    assert totals == {
        ("2026-01", "codes"): (2, 1, 1, 0),
        ("2026-01", "authorization_errors"): (0, 0, 0, 0),
        ("2026-01", "tokens"): (2, 1, 0, 0),
        ("2026-01", "token_errors"): (0, 1, 0, 1),
        ("2026-01", "resource_answers"): (2, 1, 1, 0),
        ("2026-01", "resource_errors"): (0, 0, 0, 0),
        ("2026-02", "codes"): (0, 0, 0, 0),
        ("2026-02", "authorization_errors"): (0, 0, 0, 0),
        ("2026-02", "tokens"): (0, 1, 0, 0),
        ("2026-02", "token_errors"): (0, 0, 0, 0),
        ("2026-02", "resource_answers"): (0, 0, 0, 0),
        ("2026-02", "resource_errors"): (0, 0, 0, 0),
    }


def test_answers_to_different_requests_do_not_match() -> None:
    t = at(2026, 1, 10)
    result = reconcile(
        [
            record(E.SEND_RESOURCE_RESPONSE, t, "T", answer_id="one", location=DVA),
            record(E.RECEIVE_RESOURCE_RESPONSE, t + SEC, "T", answer_id="two"),
        ],
        Period.single(JAN),
    )
    (line,) = result.lines
    assert (line.dva, line.pgo, line.matched) == (1, 1, 0)
    assert ([u.request_id for u in line.only_dva], [u.request_id for u in line.only_pgo]) == (
        ["one"],
        ["two"],
    )
    assert not line.agrees


def test_a_cancellation_redirect_is_matched_by_the_pgos_authorization_error() -> None:
    t = at(2026, 1, 10)
    result = reconcile(
        [
            record(E.SEND_AUTHORIZATION_CANCELLATION, t, "T", location=DVA),
            record(E.RECEIVE_AUTHORIZATION_ERROR, t + SEC, "T"),
        ],
        Period.single(JAN),
    )
    (line,) = result.lines
    assert (line.kind, line.dva, line.pgo, line.agrees) == ("authorization_errors", 1, 1, True)


def test_agreeing_sides_and_an_empty_month() -> None:
    t = at(2026, 1, 10)
    both = [
        record(E.SEND_TOKEN_RESPONSE, t, "T", answer_id="r", location=DVA),
        record(E.RECEIVE_TOKEN_RESPONSE, t + SEC, "T", answer_id="r"),
    ]
    assert reconcile(both, Period.single(JAN)).mismatches == ()
    empty = reconcile([], Period.single(FEB))
    assert empty.lines == ()
    assert {(t.dva, t.pgo) for t in empty.totals} == {(0, 0)}
    assert len(empty.totals) == 6
    assert empty.to_json()["agrees"] is True


def test_a_flow_named_by_both_funnel_and_ketenlog_takes_the_ketenlogs_name() -> None:
    t = at(2026, 1, 10)
    events = flow("p", t, SUCCESS, zorgaanbieder="umc@medmij", flow_id="T")
    result = reconcile(
        [
            record(E.SEND_RESOURCE_REQUEST, t, "T", request_id="r", provider="umc"),
            record(E.SEND_RESOURCE_RESPONSE, t + SEC, "T", answer_id="r", location=DVA),
            record(E.RECEIVE_RESOURCE_RESPONSE, t + SEC * 2, "T", answer_id="r"),
        ],
        Period.single(JAN),
        attempts=fold_attempts(events),
    )
    assert [line.zorgaanbieder for line in result.lines] == ["umc"]


def test_a_flow_named_twice_in_the_ketenlog_takes_its_earliest_name() -> None:
    t = at(2026, 1, 10)
    result = reconcile(
        [
            record(E.SEND_RESOURCE_REQUEST, t, "T", request_id="r1", provider="umc"),
            record(E.SEND_RESOURCE_REQUEST, t + SEC, "T", request_id="r2", provider="elders"),
            record(E.SEND_TOKEN_RESPONSE, t + SEC * 2, "T", answer_id="r0", location=DVA),
        ],
        Period.single(JAN),
    )
    assert [line.zorgaanbieder for line in result.lines] == ["umc"]
