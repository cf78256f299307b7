"""Hand-built funnel events and ketenlog records for the reporting tests.

These only build inputs; every expected figure is written out by hand in the tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from medmij_stack.protocol.funnel import (
    Device,
    FailureReason,
    FunnelEvent,
    FunnelStep,
    Initiator,
    Outcome,
)
from medmij_stack.protocol.ketenlog import (
    ErrorInfo,
    Event,
    EventType,
    Record,
    RequestInfo,
    ResponseInfo,
)

SUCCESS = "success"
_ids = itertools.count(1)

_TRAIL = (
    FunnelStep.FLOW_START,
    FunnelStep.ZORGAANBIEDER_GEKOZEN,
    FunnelStep.GEGEVENSDIENST_GEKOZEN,
    FunnelStep.INGELOGD_BIJ_DVA,
)


def at(
    year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def flow(
    person: str,
    when: datetime,
    result: str | FailureReason | None,
    *,
    through: FunnelStep | None = None,
    device: Device = Device.WEB,
    initiator: Initiator = Initiator.PERSON,
    zorgaanbieder: str | None = "umc@medmij",
    gegevensdiensten: tuple[str, ...] = ("48",),
    pgo: str = "pgo.localhost",
    flow_id: str | None = None,
) -> list[FunnelEvent]:
    """The events of one attempt: the trail up to ``through``, then a flow-end with ``result``
    (``SUCCESS``, a failure reason, or ``None`` for an attempt still open), a minute apart."""
    if through is None:
        if result == SUCCESS:
            through = FunnelStep.INGELOGD_BIJ_DVA
        elif isinstance(result, FailureReason):
            through = {
                "zorgaanbieder-zoeken": FunnelStep.FLOW_START,
                "digid": FunnelStep.GEGEVENSDIENST_GEKOZEN,
                "uitwisseling": FunnelStep.INGELOGD_BIJ_DVA,
            }[result.step.value]
        else:
            through = FunnelStep.FLOW_START
    if initiator is Initiator.SYSTEM:
        device = Device.SYSTEM
    name = flow_id or f"flow-{next(_ids)}"
    trail = _TRAIL[: _TRAIL.index(through) + 1]
    events = []
    for minute, step in enumerate(trail):
        chosen = _TRAIL.index(step) >= 1
        events.append(
            FunnelEvent(
                name=step,
                at=when + timedelta(minutes=minute),
                flow_id=name,
                person=person,
                pgo=pgo,
                device=device,
                initiator=initiator,
                zorgaanbieder=zorgaanbieder if chosen else None,
                gegevensdiensten=gegevensdiensten if _TRAIL.index(step) >= 2 else (),
            )
        )
    if result is not None:
        failure = isinstance(result, FailureReason)
        events.append(
            FunnelEvent(
                name=FunnelStep.FLOW_END,
                at=when + timedelta(minutes=len(trail)),
                flow_id=name,
                person=person,
                pgo=pgo,
                device=device,
                initiator=initiator,
                zorgaanbieder=zorgaanbieder if len(trail) > 1 else None,
                gegevensdiensten=gegevensdiensten if len(trail) > 2 else (),
                outcome=Outcome.FAILURE if failure else Outcome.SUCCESS,
                reason=result if isinstance(result, FailureReason) else None,
                step=result.step if isinstance(result, FailureReason) else None,
            )
        )
    return events


def record(
    kind: EventType,
    when: datetime,
    trace: str,
    *,
    request_id: str | None = None,
    answer_id: str | None = None,
    error_request_id: str | None = None,
    status: int | None = None,
    provider: str | None = None,
    location: str = "pgo.localhost",
) -> Record:
    """A ketenlog record: ``request_id`` goes on ``request``, ``answer_id`` on ``response``,
    ``error_request_id`` on an ``error``."""
    request = (
        RequestInfo(id=request_id, provider_id=provider)
        if request_id is not None or provider is not None
        else None
    )
    response = ResponseInfo(id=answer_id, status=status or 200) if answer_id is not None else None
    error = (
        ErrorInfo(code="other", request_id=error_request_id, status=status)
        if error_request_id is not None
        else None
    )
    # The Logging interface's events always carry a session id: one per flow is enough here.
    session = f"sessie-{trace}"
    return Record(Event(kind, location, when, session, trace), request, response, error)
