"""Success rate and failure reasons per PGO, zorgaanbieder, gegevensdienst, device, initiator."""

from __future__ import annotations

from fractions import Fraction

from medmij_stack.protocol.funnel import Device, FailureReason, FunnelEvent, FunnelStep, Initiator
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.breakdowns import Dimension, Group, breakdown, breakdowns
from tests.protocol.reporting.builders import SUCCESS, at, flow

TOKEN = FailureReason.TOKEN_ERROR
RESOURCE = FailureReason.RESOURCE_ERROR
ABANDONED = FailureReason.ABANDONED_AT_SEARCH


def five_attempts() -> list[FunnelEvent]:
    return [
        *flow("p1", at(2026, 1, 2), SUCCESS, pgo="a.pgo", zorgaanbieder="umc",
              gegevensdiensten=("48", "63"), device=Device.WEB),
        *flow("p2", at(2026, 1, 3), TOKEN, pgo="a.pgo", zorgaanbieder="umc",
              gegevensdiensten=("48",), device=Device.APP),
        *flow("p3", at(2026, 1, 4), RESOURCE, pgo="b.pgo", zorgaanbieder="huisarts",
              gegevensdiensten=("49",), initiator=Initiator.SYSTEM),
        *flow("p4", at(2026, 1, 5), ABANDONED, pgo="a.pgo", device=Device.PC),
        *flow("p5", at(2026, 1, 6), None, through=FunnelStep.INGELOGD_BIJ_DVA, pgo="b.pgo",
              zorgaanbieder="huisarts", gegevensdiensten=("4",), device=Device.WEB),
    ]  # fmt: skip


def test_per_zorgaanbieder_with_the_unnamed_last() -> None:
    groups = breakdown(fold_attempts(five_attempts()), Dimension.ZORGAANBIEDER)
    assert groups == (
        Group("huisarts", attempts=2, succeeded=0, failed=1, unfinished=1,
              reasons=((RESOURCE, 1),)),
        Group("umc", attempts=2, succeeded=1, failed=1, unfinished=0, reasons=((TOKEN, 1),)),
        Group(None, attempts=1, succeeded=0, failed=1, unfinished=0, reasons=((ABANDONED, 1),)),
    )  # fmt: skip
    assert [g.success_rate for g in groups] == [Fraction(0), Fraction(1, 2), Fraction(0)]


def test_per_gegevensdienst_an_attempt_counts_under_each_of_its_services() -> None:
    groups = breakdown(fold_attempts(five_attempts()), Dimension.GEGEVENSDIENST)
    assert [(g.key, g.attempts, g.succeeded, g.failed, g.unfinished) for g in groups] == [
        ("4", 1, 0, 0, 1),
        ("48", 2, 1, 1, 0),
        ("49", 1, 0, 1, 0),
        ("63", 1, 1, 0, 0),
        (None, 1, 0, 1, 0),
    ]


def test_per_pgo_device_and_initiator() -> None:
    every = breakdowns(fold_attempts(five_attempts()))
    summary = {
        dimension: [(g.key, g.attempts, g.succeeded, g.success_rate) for g in groups]
        for dimension, groups in every.items()
    }
    assert summary[Dimension.PGO] == [("a.pgo", 3, 1, Fraction(1, 3)), ("b.pgo", 2, 0, Fraction(0))]
    assert summary[Dimension.DEVICE] == [
        ("app", 1, 0, Fraction(0)),
        ("pc", 1, 0, Fraction(0)),
        ("system", 1, 0, Fraction(0)),
        ("web", 2, 1, Fraction(1, 2)),
    ]
    assert summary[Dimension.INITIATOR] == [
        ("person", 4, 1, Fraction(1, 4)),
        ("system", 1, 0, Fraction(0)),
    ]


def test_no_attempts_no_groups() -> None:
    assert all(groups == () for groups in breakdowns([]).values())


def test_a_group_in_json() -> None:
    (umc,) = [g for g in breakdown(fold_attempts(five_attempts()), Dimension.ZORGAANBIEDER)
              if g.key == "umc"]  # fmt: skip
    assert umc.to_json() == {
        "key": "umc",
        "attempts": 2,
        "succeeded": 1,
        "failed": 1,
        "unfinished": 0,
        "success_rate": 0.5,
        "reasons": {"token-fout": 1},
    }
