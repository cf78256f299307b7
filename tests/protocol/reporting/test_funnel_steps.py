"""Drop-out per process step: reached, ended (failed or open), passed, reasons, rates."""

from __future__ import annotations

from fractions import Fraction

from medmij_stack.protocol.funnel import FailureReason, FunnelEvent, FunnelStep, ProcessStep
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.funnel_steps import step_funnel
from tests.protocol.reporting.builders import SUCCESS, at, flow

ZOEKEN = ProcessStep.ZORGAANBIEDER_ZOEKEN


def eight_attempts() -> list[FunnelEvent]:
    return [
        *flow("a1", at(2026, 1, 2), SUCCESS),
        *flow(
            "a2",
            at(2026, 1, 3),
            FailureReason.ABANDONED_AT_SEARCH,
            through=FunnelStep.ZORGAANBIEDER_GEKOZEN,
        ),
        *flow("a3", at(2026, 1, 4), FailureReason.DIGID_CANCELLED),
        *flow("a4", at(2026, 1, 5), FailureReason.CONSENT_DENIED),
        *flow("a5", at(2026, 1, 6), FailureReason.TOKEN_ERROR),
        *flow("a6", at(2026, 1, 7), None, through=FunnelStep.FLOW_START),
        *flow("a7", at(2026, 1, 8), None, through=FunnelStep.INGELOGD_BIJ_DVA),
        *flow("a8", at(2026, 1, 9), None, through=FunnelStep.ZORGAANBIEDER_GEKOZEN),
    ]


def test_each_step_counts_what_reached_it_and_what_ended_there() -> None:
    funnel = step_funnel(fold_attempts(eight_attempts()))
    assert funnel.attempts == 8
    assert funnel.succeeded == 1
    assert funnel.success_rate == Fraction(1, 8)

    search = funnel.step(ZOEKEN)
    assert (search.reached, search.failed, search.open) == (8, 1, 1)  # a2 failed, a6 open
    assert (search.ended, search.passed) == (2, 6)
    assert search.drop_out_rate == Fraction(1, 4)
    assert search.pass_rate == Fraction(3, 4)
    assert search.reasons == ((FailureReason.ABANDONED_AT_SEARCH, 1),)

    digid = funnel.step(ProcessStep.DIGID)
    assert (digid.reached, digid.failed, digid.open) == (6, 2, 1)  # a3, a4 failed; a8 open
    assert (digid.ended, digid.passed) == (3, 3)
    assert digid.drop_out_rate == Fraction(1, 2)
    assert digid.reasons == (
        (FailureReason.DIGID_CANCELLED, 1),
        (FailureReason.CONSENT_DENIED, 1),
    )

    exchange = funnel.step(ProcessStep.UITWISSELING)
    assert (exchange.reached, exchange.failed, exchange.open) == (3, 1, 1)  # a5; a7
    assert (exchange.ended, exchange.passed) == (2, 1)  # passed uitwisseling: a1, the success
    assert exchange.drop_out_rate == Fraction(2, 3)
    assert exchange.reasons == ((FailureReason.TOKEN_ERROR, 1),)


def test_the_steps_are_in_process_order() -> None:
    funnel = step_funnel(fold_attempts(eight_attempts()))
    assert [s.step for s in funnel.steps] == [
        ProcessStep.ZORGAANBIEDER_ZOEKEN,
        ProcessStep.DIGID,
        ProcessStep.UITWISSELING,
    ]


def test_no_attempts_is_a_funnel_of_zeros_without_rates() -> None:
    funnel = step_funnel([])
    assert (funnel.attempts, funnel.succeeded, funnel.success_rate) == (0, 0, None)
    for step in funnel.steps:
        assert (step.reached, step.ended, step.passed, step.reasons) == (0, 0, 0, ())
        assert step.drop_out_rate is None


def test_json_carries_the_counts_and_the_rates() -> None:
    data = step_funnel(fold_attempts(eight_attempts())).to_json()
    assert data["success_rate"] == 0.125
    assert data["steps"][1] == {
        "step": "digid",
        "reached": 6,
        "ended": 3,
        "failed": 2,
        "open": 1,
        "passed": 3,
        "drop_out_rate": 0.5,
        "pass_rate": 0.5,
        "reasons": {"digid-geannuleerd": 1, "toestemming-geweigerd": 1},
    }
