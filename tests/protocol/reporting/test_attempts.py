"""Funnel events fold into attempts: outcome, furthest step, month, and refusals of nonsense."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medmij_stack.protocol.funnel import (
    Device,
    FailureReason,
    FunnelStep,
    Initiator,
    Outcome,
    ProcessStep,
)
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import Month
from tests.protocol.reporting.builders import SUCCESS, at, flow


def test_a_successful_attempt_passed_every_step() -> None:
    (attempt,) = fold_attempts(flow("ann", at(2026, 1, 10), SUCCESS, flow_id="f1"))
    assert attempt.flow_id == "f1"
    assert attempt.person == "ann"
    assert attempt.outcome is Outcome.SUCCESS
    assert attempt.furthest is ProcessStep.UITWISSELING
    assert attempt.stopped_at is None
    assert attempt.zorgaanbieder == "umc@medmij"
    assert attempt.gegevensdiensten == ("48",)
    assert attempt.month == Month(2026, 1)


def test_a_failure_ends_at_its_reasons_step_whatever_the_trail_shows() -> None:
    # The person chose a zorgaanbieder and a gegevensdienst but left before the DVA.
    events = flow(
        "bob",
        at(2026, 1, 10),
        FailureReason.ABANDONED_AT_SEARCH,
        through=FunnelStep.GEGEVENSDIENST_GEKOZEN,
    )
    (attempt,) = fold_attempts(events)
    assert attempt.stopped_at is ProcessStep.ZORGAANBIEDER_ZOEKEN
    assert not attempt.reached(ProcessStep.DIGID)
    # A token error with no ingelogd-bij-dva event still entered uitwisseling.
    (token,) = fold_attempts(
        flow("bob", at(2026, 1, 11), FailureReason.TOKEN_ERROR, through=FunnelStep.FLOW_START)
    )
    assert token.furthest is ProcessStep.UITWISSELING
    assert token.reached(ProcessStep.DIGID)


@pytest.mark.parametrize(
    ("through", "step"),
    [
        (FunnelStep.FLOW_START, ProcessStep.ZORGAANBIEDER_ZOEKEN),
        (FunnelStep.ZORGAANBIEDER_GEKOZEN, ProcessStep.DIGID),
        (FunnelStep.GEGEVENSDIENST_GEKOZEN, ProcessStep.DIGID),
        (FunnelStep.INGELOGD_BIJ_DVA, ProcessStep.UITWISSELING),
    ],
)
def test_an_open_attempt_is_at_the_step_its_latest_event_points_to(
    through: FunnelStep, step: ProcessStep
) -> None:
    (attempt,) = fold_attempts(flow("cem", at(2026, 1, 10), None, through=through))
    assert attempt.unfinished
    assert attempt.outcome is None
    assert attempt.stopped_at is step


def test_a_later_event_alone_implies_the_earlier_steps() -> None:
    events = flow("cem", at(2026, 1, 10), None, through=FunnelStep.INGELOGD_BIJ_DVA)
    (attempt,) = fold_attempts([events[-1]])  # only ingelogd-bij-dva was recorded
    assert attempt.furthest is ProcessStep.UITWISSELING


def test_an_attempt_belongs_to_the_month_of_its_flow_end() -> None:
    # Starts 23:58 Dutch time on 31 January, ends four minutes later on 1 February.
    (attempt,) = fold_attempts(flow("dua", at(2026, 1, 31, 22, 58), SUCCESS))
    assert attempt.started_at == at(2026, 1, 31, 22, 58)
    assert attempt.ended_at == at(2026, 1, 31, 23, 2)
    assert attempt.month == Month(2026, 2)


def test_an_event_recorded_twice_counts_once() -> None:
    events = flow("eva", at(2026, 1, 10), SUCCESS)
    assert len(fold_attempts(events + events)) == 1


def test_the_device_is_where_the_attempt_started() -> None:
    events = flow("eva", at(2026, 1, 10), SUCCESS, device=Device.APP)
    events[-1] = replace(events[-1], device=Device.WEB)
    (attempt,) = fold_attempts(events)
    assert attempt.device is Device.APP


def test_gegevensdiensten_are_gathered_from_every_event_in_number_order() -> None:
    events = flow("fay", at(2026, 1, 10), SUCCESS, gegevensdiensten=("63", "48"))
    events[-1] = replace(events[-1], gegevensdiensten=("4", "48"))
    (attempt,) = fold_attempts(events)
    assert attempt.gegevensdiensten == ("4", "48", "63")


def test_attempts_come_in_the_order_they_ended() -> None:
    late = flow("a", at(2026, 1, 20), SUCCESS, flow_id="late")
    early = flow("b", at(2026, 1, 5), SUCCESS, flow_id="early")
    assert [a.flow_id for a in fold_attempts(late + early)] == ["early", "late"]


def test_one_flow_with_two_persons_is_refused() -> None:
    events = flow("ann", at(2026, 1, 10), SUCCESS, flow_id="f9")
    events[-1] = replace(events[-1], person="bob")
    with pytest.raises(ReportingError, match=r"f9.*person"):
        fold_attempts(events)


def test_one_flow_with_two_different_endings_is_refused() -> None:
    events = flow("ann", at(2026, 1, 10), SUCCESS, flow_id="f8")
    other = replace(
        events[-1],
        outcome=Outcome.FAILURE,
        reason=FailureReason.TOKEN_ERROR,
        step=ProcessStep.UITWISSELING,
    )
    with pytest.raises(ReportingError, match="f8"):
        fold_attempts([*events, other])


def test_a_flow_end_whose_step_contradicts_its_reason_is_refused() -> None:
    events = flow("ann", at(2026, 1, 10), FailureReason.TOKEN_ERROR, flow_id="f7")
    events[-1] = replace(events[-1], step=ProcessStep.DIGID)
    with pytest.raises(ReportingError, match="f7"):
        fold_attempts(events)


def test_one_flow_at_two_zorgaanbieders_is_refused() -> None:
    events = flow("ann", at(2026, 1, 10), SUCCESS, flow_id="f6")
    events[-1] = replace(events[-1], zorgaanbieder="elders@medmij")
    with pytest.raises(ReportingError, match="f6"):
        fold_attempts(events)


def test_one_flow_with_two_initiators_is_refused() -> None:
    events = flow("ann", at(2026, 1, 10), SUCCESS, flow_id="f5")
    events[0] = replace(events[0], initiator=Initiator.SYSTEM, device=Device.SYSTEM)
    with pytest.raises(ReportingError, match="f5"):
        fold_attempts(events)
