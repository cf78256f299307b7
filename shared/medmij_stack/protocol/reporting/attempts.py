"""Retrieval attempts: the funnel events of one flow folded into one record.

Every figure counts attempts (one ``flow_id``: one zorgaanbieder, the gegevensdiensten chosen
there) or the persons behind them, never loose events. An attempt belongs to the calendar
month of its ``verzamelen.flow-end`` (of its last event while it has none), as the DVP pilot
counts it (the month of the attempt's latest action; Beheerrapportage optimalisatie PoP
C3.005, https://github.com/Stichting-MedMij/Ontwikkeling-afsprakenstelsel-Onderhoud-en-doorontwikkelingBeheerrapportage-optimalisatie-PoP-C3.005),
so that "succeeded in January" means the flow ended well in January.

How far an attempt got, by MedMij's process steps (zorgaanbieder zoeken → DigiD →
uitwisseling, :class:`~medmij_stack.protocol.funnel.ProcessStep`):

* a success passed all three;
* a failure ended at its :class:`~medmij_stack.protocol.funnel.FailureReason`'s step, and so
  entered that step and every one before it, whatever events the trail happens to lack;
* an attempt without a flow-end (still open, or the PGO never closed it) is in the step its
  latest funnel event points to: a later event implies the earlier ones, as in the pilot
  (``zorgaanbieder-gekozen`` or ``gegevensdienst-gekozen`` → at the DVA, so DigiD;
  ``ingelogd-bij-dva`` → uitwisseling).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from medmij_stack.protocol.funnel import (
    Device,
    FailureReason,
    FunnelEvent,
    FunnelStep,
    Initiator,
    Outcome,
    ProcessStep,
)
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month

__all__ = ["STEPS", "Attempt", "fold_attempts", "sort_gegevensdiensten"]

STEPS: tuple[ProcessStep, ...] = (
    ProcessStep.ZORGAANBIEDER_ZOEKEN,
    ProcessStep.DIGID,
    ProcessStep.UITWISSELING,
)
"""The process steps in the order an attempt passes them."""

# The step an open attempt is in, by the furthest funnel event it has.
_STEP_OF_EVENT: dict[FunnelStep, ProcessStep] = {
    FunnelStep.FLOW_START: ProcessStep.ZORGAANBIEDER_ZOEKEN,
    FunnelStep.ZORGAANBIEDER_GEKOZEN: ProcessStep.DIGID,
    FunnelStep.GEGEVENSDIENST_GEKOZEN: ProcessStep.DIGID,
    FunnelStep.INGELOGD_BIJ_DVA: ProcessStep.UITWISSELING,
}


@dataclass(frozen=True)
class Attempt:
    """One retrieval attempt as the reports see it."""

    flow_id: str
    person: str
    pgo: str
    device: Device
    initiator: Initiator
    zorgaanbieder: str | None
    gegevensdiensten: tuple[str, ...]
    started_at: datetime
    ended_at: datetime
    """The flow-end's time, or the latest event's while the attempt is open."""
    month: Month
    outcome: Outcome | None
    """``None``: no flow-end (yet)."""
    reason: FailureReason | None
    furthest: ProcessStep
    """The furthest process step the attempt entered."""

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILURE

    @property
    def unfinished(self) -> bool:
        return self.outcome is None

    @property
    def stopped_at(self) -> ProcessStep | None:
        """Where the attempt stopped (failed or is still open); ``None`` for a success."""
        return None if self.succeeded else self.furthest

    def reached(self, step: ProcessStep) -> bool:
        return STEPS.index(step) <= STEPS.index(self.furthest)


def sort_gegevensdiensten(ids: Iterable[str]) -> tuple[str, ...]:
    """Gegevensdienst ids without repeats, numbers in numeric order (``"4"`` before ``"48"``)."""
    return tuple(sorted(set(ids), key=lambda g: (0, int(g), g) if g.isdigit() else (1, 0, g)))


def _one(values: Iterable[str], what: str, flow_id: str) -> str:
    found = sorted(set(values))
    if len(found) != 1:
        raise ReportingError(f"flow {flow_id}: its events disagree on {what}: {found}")
    return found[0]


def _fold(flow_id: str, events: Sequence[FunnelEvent], zone: tzinfo) -> Attempt:
    person = _one((e.person for e in events), "the person", flow_id)
    pgo = _one((e.pgo for e in events), "the PGO", flow_id)
    initiator = Initiator(_one((e.initiator.value for e in events), "the initiator", flow_id))
    providers = {e.zorgaanbieder for e in events if e.zorgaanbieder is not None}
    if len(providers) > 1:
        raise ReportingError(f"flow {flow_id}: one attempt, several zorgaanbieders: {providers}")
    ends = [e for e in events if e.name is FunnelStep.FLOW_END]
    if len(ends) > 1:
        raise ReportingError(f"flow {flow_id}: {len(ends)} different verzamelen.flow-end events")
    end = ends[0] if ends else None
    starts = [e for e in events if e.name is FunnelStep.FLOW_START]
    # The device is where the person started; events later in the flow come from the same
    # browser or app, and the flow-start is the one every attempt has.
    device = (starts or list(events))[0].device
    if end is None:
        furthest = max((_STEP_OF_EVENT[e.name] for e in events), key=STEPS.index)
    elif end.outcome is Outcome.SUCCESS:
        furthest = ProcessStep.UITWISSELING
    else:
        assert end.reason is not None  # FunnelEvent refuses a failure without a reason
        if end.step is not end.reason.step:
            raise ReportingError(
                f"flow {flow_id}: reason {end.reason.value} ends at {end.reason.step.value},"
                f" the event says {end.step.value if end.step else None}"
            )
        furthest = end.reason.step
    ended_at = end.at if end is not None else events[-1].at
    return Attempt(
        flow_id=flow_id,
        person=person,
        pgo=pgo,
        device=device,
        initiator=initiator,
        zorgaanbieder=next(iter(providers), None),
        gegevensdiensten=sort_gegevensdiensten(g for e in events for g in e.gegevensdiensten),
        started_at=events[0].at,
        ended_at=ended_at,
        month=Month.of(ended_at, zone),
        outcome=end.outcome if end is not None else None,
        reason=end.reason if end is not None else None,
        furthest=furthest,
    )


def fold_attempts(events: Iterable[FunnelEvent], zone: tzinfo = DUTCH_TIME) -> tuple[Attempt, ...]:
    """Every attempt in ``events``, in the order they ended.

    An event recorded twice (equal in every member) counts once; events of one flow that
    contradict each other (two persons, two different flow-ends, …) raise
    :class:`ReportingError` naming the flow.
    """
    flows: dict[str, set[FunnelEvent]] = defaultdict(set)
    for event in events:
        flows[event.flow_id].add(event)
    attempts = [
        _fold(flow_id, sorted(found, key=lambda e: (e.at, list(FunnelStep).index(e.name))), zone)
        for flow_id, found in flows.items()
    ]
    return tuple(sorted(attempts, key=lambda a: (a.ended_at, a.flow_id)))
