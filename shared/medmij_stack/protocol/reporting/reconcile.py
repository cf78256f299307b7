"""Reconciliation: what the DVA says it sent against what the PGO says it received.

Both sides keep a ketenlog of the same flows (Logging interface,
https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface), and MedMij's
monthly reports are built from both ("Loggingbeleid": the central log serves the monthly
reports). Here the DVA's own counts (codes issued, tokens issued, resource answers, and the
errors of each) are held against the PGO's, per month and per zorgaanbieder, and every
record that has no counterpart on the other side is listed, not just counted.

Matching: an authorization answer (a code or an error redirect) is one per flow, so it is
matched on the flow's ``trace_id`` (X-Correlation-ID); a token or resource answer on
``trace_id`` and the request's MedMij-Request-ID (``response.id``, else ``error.request_id``,
else ``request.id``). Each side is counted in the month of its own record, so an answer sent
at 23:59:59 and received at 00:00:01 shows as a difference in both months' counts (the two
sides' monthly reports really do differ) while the two records are still matched.

The zorgaanbieder of a record is its flow's: the ``request.provider_id`` of the flow's
earliest record that names one, else the zorgaanbieder of the PGO's funnel attempt with that
``flow_id``, else unknown (``None``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any

from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.protocol.reporting.attempts import Attempt
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month, Period

__all__ = ["KINDS", "Kind", "Line", "Reconciliation", "Side", "Total", "Unmatched", "reconcile"]


class Side(StrEnum):
    DVA = "dva"
    PGO = "pgo"


@dataclass(frozen=True)
class Kind:
    """One thing both sides count: the DVA's events that send it, the PGO's that receive it."""

    name: str
    dva: frozenset[EventType]
    pgo: frozenset[EventType]
    per_request: bool
    """Matched per MedMij-Request-ID within the flow, or once per flow."""


KINDS: tuple[Kind, ...] = (
    Kind(
        "codes",
        frozenset({EventType.SEND_AUTHORIZATION_RESPONSE}),
        frozenset({EventType.RECEIVE_AUTHORIZATION_RESPONSE}),
        per_request=False,
    ),
    Kind(
        "authorization_errors",
        # An error redirect for a bad request, a refusal, or the person's cancellation: the PGO
        # sees each as an error on its redirect URI.
        frozenset(
            {
                EventType.SEND_AUTHORIZATION_REQUEST_ERROR,
                EventType.SEND_AUTHORIZATION_ERROR,
                EventType.SEND_AUTHORIZATION_CANCELLATION,
            }
        ),
        frozenset({EventType.RECEIVE_AUTHORIZATION_ERROR}),
        per_request=False,
    ),
    Kind(
        "tokens",
        frozenset({EventType.SEND_TOKEN_RESPONSE}),
        frozenset({EventType.RECEIVE_TOKEN_RESPONSE}),
        per_request=True,
    ),
    Kind(
        "token_errors",
        frozenset({EventType.SEND_TOKEN_ERROR}),
        frozenset({EventType.RECEIVE_TOKEN_ERROR}),
        per_request=True,
    ),
    Kind(
        "resource_answers",
        frozenset({EventType.SEND_RESOURCE_RESPONSE}),
        frozenset({EventType.RECEIVE_RESOURCE_RESPONSE}),
        per_request=True,
    ),
    Kind(
        "resource_errors",
        frozenset({EventType.SEND_RESOURCE_ERROR_RESPONSE}),
        frozenset({EventType.RECEIVE_RESOURCE_ERROR_RESPONSE}),
        per_request=True,
    ),
)
"""What is reconciled. A PGO-side request error without any answer
(``receive_resource_request_error``: a timeout, no connection) has no DVA counterpart to
hold it against and is left out; the latency figures count it."""


@dataclass(frozen=True)
class Unmatched:
    """A record with no counterpart on the other side."""

    side: Side
    event: EventType
    location: str
    at: datetime
    trace_id: str
    request_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "side": self.side.value,
            "event": self.event.value,
            "location": self.location,
            "at": self.at.isoformat(),
            "trace_id": self.trace_id,
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class Line:
    """One kind, one month, one zorgaanbieder: both sides' counts and what did not match."""

    month: Month
    zorgaanbieder: str | None
    kind: str
    dva: int
    pgo: int
    matched: int
    """The DVA's records of this line that have their PGO counterpart."""
    only_dva: tuple[Unmatched, ...]
    only_pgo: tuple[Unmatched, ...]

    @property
    def agrees(self) -> bool:
        return self.dva == self.pgo and not self.only_dva and not self.only_pgo

    def to_json(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "zorgaanbieder": self.zorgaanbieder,
            "kind": self.kind,
            "dva": self.dva,
            "pgo": self.pgo,
            "difference": self.pgo - self.dva,
            "matched": self.matched,
            "agrees": self.agrees,
            "only_dva": [u.to_json() for u in self.only_dva],
            "only_pgo": [u.to_json() for u in self.only_pgo],
        }


@dataclass(frozen=True)
class Total:
    """One kind, one month, over all zorgaanbieders; zeros for a month without records."""

    month: Month
    kind: str
    dva: int
    pgo: int
    only_dva: int
    only_pgo: int

    @property
    def agrees(self) -> bool:
        return self.dva == self.pgo and not self.only_dva and not self.only_pgo

    def to_json(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "kind": self.kind,
            "dva": self.dva,
            "pgo": self.pgo,
            "difference": self.pgo - self.dva,
            "only_dva": self.only_dva,
            "only_pgo": self.only_pgo,
            "agrees": self.agrees,
        }


@dataclass(frozen=True)
class Reconciliation:
    totals: tuple[Total, ...]
    """Every month of the period × every kind."""
    lines: tuple[Line, ...]
    """Month × zorgaanbieder × kind, for every combination with a record on either side."""

    @property
    def mismatches(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if not line.agrees)

    def to_json(self) -> dict[str, Any]:
        return {
            "agrees": not self.mismatches,
            "totals": [t.to_json() for t in self.totals],
            "lines": [line.to_json() for line in self.lines],
            "mismatches": len(self.mismatches),
        }


def _request_id(record: Record) -> str | None:
    if record.response is not None and record.response.id:
        return record.response.id
    if record.error is not None and record.error.request_id:
        return record.error.request_id
    return record.request.id if record.request is not None else None


def _providers(records: list[Record], attempts: Iterable[Attempt]) -> dict[str, str]:
    found: dict[str, str] = {}
    for record in records:  # in time order: the earliest naming wins
        provider = record.request.provider_id if record.request is not None else None
        if provider:
            found.setdefault(record.event.trace_id, provider)
    for attempt in attempts:
        if attempt.zorgaanbieder is not None:
            found.setdefault(attempt.flow_id, attempt.zorgaanbieder)
    return found


def _unmatched(side: Side, record: Record) -> Unmatched:
    return Unmatched(
        side=side,
        event=record.event.type,
        location=record.event.location,
        at=record.event.datetime,
        trace_id=record.event.trace_id,
        request_id=_request_id(record),
    )


def reconcile(
    records: Iterable[Record],
    period: Period,
    *,
    attempts: Iterable[Attempt] = (),
    zone: tzinfo = DUTCH_TIME,
) -> Reconciliation:
    """The DVA's counts against the PGO's for every month of ``period``.

    Records outside the period still match records inside it; only lines of the period's
    months are given.
    """
    ordered = sorted(records, key=lambda r: r.event.datetime)
    providers = _providers(ordered, attempts)
    LineKey = tuple[Month, str | None, str]
    counts: dict[LineKey, dict[Side, int]] = defaultdict(lambda: {Side.DVA: 0, Side.PGO: 0})
    matched: dict[LineKey, int] = defaultdict(int)
    unmatched: dict[LineKey, dict[Side, list[Unmatched]]] = defaultdict(
        lambda: {Side.DVA: [], Side.PGO: []}
    )

    def line_key(record: Record, kind: Kind) -> LineKey:
        month = Month.of(record.event.datetime, zone)
        return (month, providers.get(record.event.trace_id), kind.name)

    for kind in KINDS:
        sides: dict[Side, dict[tuple[str, str | None], list[Record]]] = {
            Side.DVA: defaultdict(list),
            Side.PGO: defaultdict(list),
        }
        for record in ordered:
            side = (
                Side.DVA
                if record.event.type in kind.dva
                else Side.PGO
                if record.event.type in kind.pgo
                else None
            )
            if side is None:
                continue
            request = _request_id(record) if kind.per_request else None
            sides[side][(record.event.trace_id, request)].append(record)
            counts[line_key(record, kind)][side] += 1
        for match_key in sides[Side.DVA].keys() | sides[Side.PGO].keys():
            sent, received = sides[Side.DVA].get(match_key, []), sides[Side.PGO].get(match_key, [])
            for record in sent[: len(received)]:
                matched[line_key(record, kind)] += 1
            for record in sent[len(received) :]:
                unmatched[line_key(record, kind)][Side.DVA].append(_unmatched(Side.DVA, record))
            for record in received[len(sent) :]:
                unmatched[line_key(record, kind)][Side.PGO].append(_unmatched(Side.PGO, record))

    kind_order = [k.name for k in KINDS]
    keys = sorted(
        (key for key in counts if key[0] in period),
        key=lambda k: (k[0], k[1] is None, k[1] or "", kind_order.index(k[2])),
    )
    lines = tuple(
        Line(
            month=key[0],
            zorgaanbieder=key[1],
            kind=key[2],
            dva=counts[key][Side.DVA],
            pgo=counts[key][Side.PGO],
            matched=matched[key],
            only_dva=tuple(sorted(unmatched[key][Side.DVA], key=lambda u: u.at)),
            only_pgo=tuple(sorted(unmatched[key][Side.PGO], key=lambda u: u.at)),
        )
        for key in keys
    )
    totals = tuple(
        Total(
            month=month,
            kind=kind.name,
            dva=sum(line.dva for line in lines if line.month == month and line.kind == kind.name),
            pgo=sum(line.pgo for line in lines if line.month == month and line.kind == kind.name),
            only_dva=sum(
                len(line.only_dva)
                for line in lines
                if line.month == month and line.kind == kind.name
            ),
            only_pgo=sum(
                len(line.only_pgo)
                for line in lines
                if line.month == month and line.kind == kind.name
            ),
        )
        for month in period
        for kind in KINDS
    )
    return Reconciliation(totals=totals, lines=lines)
