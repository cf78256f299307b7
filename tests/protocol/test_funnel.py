"""Funnel events: every failure reason has a step, events round-trip, bad shapes are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medmij_stack.protocol.funnel import (
    Device,
    FailureReason,
    FunnelError,
    FunnelEvent,
    FunnelStep,
    Initiator,
    Outcome,
    ProcessStep,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def end(**changes: object) -> FunnelEvent:
    values: dict[str, object] = {
        "name": FunnelStep.FLOW_END,
        "at": AT,
        "flow_id": "0b9b6c4e-6f0a-4c1e-9a53-2f7d1d0e6a11",
        "person": "p-1",
        "pgo": "pgo.localhost",
        "device": Device.WEB,
        "initiator": Initiator.PERSON,
        "zorgaanbieder": "ziekenhuisdemo@medmij",
        "gegevensdiensten": ("48", "63"),
        "outcome": Outcome.FAILURE,
        "reason": FailureReason.TOKEN_ERROR,
        "step": ProcessStep.UITWISSELING,
    }
    values.update(changes)
    return FunnelEvent(**values)  # type: ignore[arg-type]


def test_every_reason_ends_at_one_of_the_three_steps() -> None:
    assert {reason.step for reason in FailureReason} == set(ProcessStep)
    assert FailureReason.ABANDONED_AT_SEARCH.step is ProcessStep.ZORGAANBIEDER_ZOEKEN
    assert FailureReason.DIGID_CANCELLED.step is ProcessStep.DIGID
    assert FailureReason.INVALID_CONTENT.step is ProcessStep.UITWISSELING


def test_an_event_survives_json() -> None:
    event = end()
    assert FunnelEvent.from_json(event.to_json()) == event
    success = end(outcome=Outcome.SUCCESS, reason=None, step=None)
    assert FunnelEvent.from_json(success.to_json()) == success


@pytest.mark.parametrize(
    ("changes", "member"),
    [
        ({"at": datetime(2026, 3, 1, 12, 0)}, "at"),
        ({"outcome": None, "reason": None, "step": None}, "outcome"),
        ({"name": FunnelStep.FLOW_START}, "outcome"),
        ({"reason": None}, "reason"),
        ({"outcome": Outcome.SUCCESS}, "reason"),
        ({"initiator": Initiator.SYSTEM}, "device"),
    ],
)
def test_an_inconsistent_event_is_refused_naming_the_member(
    changes: dict[str, object], member: str
) -> None:
    with pytest.raises(FunnelError, match=member):
        end(**changes)


@pytest.mark.parametrize(
    "data", [[], {"name": "verzamelen.flow-end"}, {**end().to_json(), "reason": "onbekend"}]
)
def test_json_that_is_no_funnel_event_is_a_funnel_error(data: object) -> None:
    with pytest.raises(FunnelError):
        FunnelEvent.from_json(data)
