"""Token and resource latency from the PGO's ketenlog, held against MedMij's norms.

MedMij holds the back channel to response-time norms: a token request answered within 10 s
for 99.5 % of requests, a resource request within 60 s for 98.5 %. (These are the figures the
project works to; the Afsprakenstelsel page that states them, under
https://afsprakenstelsel.medmij.nl/, was not recovered, so they are constants here to check
against it.) The PGO's ketenlog
(Logging interface, https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/logging-interface)
has both ends of every such request: ``send_token_request`` and its
``receive_token_response`` / ``receive_token_error``, ``send_resource_request`` and its
``receive_resource_response`` / ``receive_resource_error_response`` /
``receive_resource_request_error``. They are joined on the request's MedMij-Request-ID
(``request.id`` on the send; ``response.id``, else ``error.request_id`` on the answer) within
one location (the PGO host that logged both).

An error answer is an answer and counts with its time: a timeout the PGO logs with status
408 after 60 s is exactly what the resource norm is about. A request with no logged answer is
not timed but counted (``unanswered``), as is an answer without its request (``orphans``).

Percentiles are nearest-rank: pX is the smallest measured latency with at least X % of the
latencies at or below it. With that definition a norm holds exactly when its percentile
(p99.5 for tokens, p98.5 for resources) is within the limit, and ``share`` says by how much.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month, Period
from medmij_stack.protocol.reporting.rates import rate, rate_json

__all__ = [
    "NORMS",
    "PERCENTILES",
    "RESOURCE_NORM",
    "TOKEN_NORM",
    "Exchange",
    "LatencyFigures",
    "Norm",
    "Pair",
    "Pairing",
    "measure",
    "pair",
    "percentile",
]


class Exchange(StrEnum):
    TOKEN = "token"  # noqa: S105 - the name of an exchange, not a secret
    RESOURCE = "resource"


_SENDS: dict[Exchange, EventType] = {
    Exchange.TOKEN: EventType.SEND_TOKEN_REQUEST,
    Exchange.RESOURCE: EventType.SEND_RESOURCE_REQUEST,
}
_ANSWERS: dict[Exchange, frozenset[EventType]] = {
    Exchange.TOKEN: frozenset({EventType.RECEIVE_TOKEN_RESPONSE, EventType.RECEIVE_TOKEN_ERROR}),
    Exchange.RESOURCE: frozenset(
        {
            EventType.RECEIVE_RESOURCE_RESPONSE,
            EventType.RECEIVE_RESOURCE_ERROR_RESPONSE,
            EventType.RECEIVE_RESOURCE_REQUEST_ERROR,
        }
    ),
}
_SUCCESSES = frozenset({EventType.RECEIVE_TOKEN_RESPONSE, EventType.RECEIVE_RESOURCE_RESPONSE})


@dataclass(frozen=True)
class Norm:
    """``share`` of the requests must be answered within ``limit``."""

    exchange: Exchange
    limit: timedelta
    share: Fraction

    def to_json(self) -> dict[str, Any]:
        return {"limit_seconds": self.limit.total_seconds(), "share": float(self.share)}


TOKEN_NORM = Norm(Exchange.TOKEN, timedelta(seconds=10), Fraction(995, 1000))
RESOURCE_NORM = Norm(Exchange.RESOURCE, timedelta(seconds=60), Fraction(985, 1000))
NORMS: dict[Exchange, Norm] = {Exchange.TOKEN: TOKEN_NORM, Exchange.RESOURCE: RESOURCE_NORM}

PERCENTILES: tuple[Decimal, ...] = tuple(Decimal(p) for p in ("50", "95", "98.5", "99", "99.5"))
"""The percentiles every latency figure gives."""


@dataclass(frozen=True)
class Pair:
    """One request and the answer the PGO logged for it."""

    exchange: Exchange
    request_id: str
    trace_id: str
    sent_at: datetime
    answered_at: datetime
    error: bool

    @property
    def latency(self) -> timedelta:
        return self.answered_at - self.sent_at


@dataclass(frozen=True)
class Pairing:
    """The requests of one exchange, joined to their answers."""

    exchange: Exchange
    pairs: tuple[Pair, ...]
    unanswered: tuple[Record, ...]
    orphans: tuple[Record, ...]


def _answer_id(record: Record) -> str | None:
    if record.response is not None and record.response.id:
        return record.response.id
    if record.error is not None and record.error.request_id:
        return record.error.request_id
    return record.request.id if record.request is not None else None


def pair(records: Iterable[Record], exchange: Exchange) -> Pairing:
    """Join every ``exchange`` request in ``records`` to its answer.

    Should one id be sent twice, the sends and answers under it pair up in time order.
    """
    sends: dict[tuple[str, str], list[Record]] = defaultdict(list)
    answers: dict[tuple[str, str], list[Record]] = defaultdict(list)
    unanswered: list[Record] = []
    orphans: list[Record] = []
    for record in sorted(records, key=lambda r: r.event.datetime):
        kind = record.event.type
        if kind is _SENDS[exchange]:
            request_id = record.request.id if record.request is not None else None
            if request_id:
                sends[(record.event.location, request_id)].append(record)
            else:
                unanswered.append(record)
        elif kind in _ANSWERS[exchange]:
            answer_id = _answer_id(record)
            if answer_id:
                answers[(record.event.location, answer_id)].append(record)
            else:
                orphans.append(record)
    pairs: list[Pair] = []
    for key in sends.keys() | answers.keys():
        sent, answered = sends.get(key, []), answers.get(key, [])
        for request, answer in zip(sent, answered, strict=False):
            pairs.append(
                Pair(
                    exchange=exchange,
                    request_id=key[1],
                    trace_id=request.event.trace_id,
                    sent_at=request.event.datetime,
                    answered_at=answer.event.datetime,
                    error=answer.event.type not in _SUCCESSES,
                )
            )
        unanswered.extend(sent[len(answered) :])
        orphans.extend(answered[len(sent) :])
    by_time = sorted(pairs, key=lambda p: (p.sent_at, p.request_id))
    return Pairing(
        exchange=exchange,
        pairs=tuple(by_time),
        unanswered=tuple(sorted(unanswered, key=lambda r: r.event.datetime)),
        orphans=tuple(sorted(orphans, key=lambda r: r.event.datetime)),
    )


def percentile(ordered: list[timedelta], p: Decimal) -> timedelta | None:
    """Nearest-rank percentile ``p`` (0 < p ≤ 100) of ascending ``ordered``; None when empty."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    if not ordered:
        return None
    rank = math.ceil(Fraction(p) / 100 * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LatencyFigures:
    norm: Norm
    count: int
    """Requests with an answer: the ones timed."""
    errors: int
    """Of those, answered with an error (or a timeout the PGO logged as one)."""
    percentiles: tuple[tuple[Decimal, timedelta | None], ...]
    within_limit: int
    unanswered: int
    orphans: int
    backwards: int
    """Pairs whose answer is logged before the request (a clock fault); not timed."""

    @property
    def exchange(self) -> Exchange:
        return self.norm.exchange

    @property
    def share(self) -> Fraction | None:
        """The measured share of timed requests answered within the norm's limit."""
        return rate(self.within_limit, self.count)

    @property
    def passed(self) -> bool | None:
        """Whether the norm holds; ``None`` when nothing was timed."""
        return None if self.share is None else self.share >= self.norm.share

    def at(self, p: str) -> timedelta | None:
        return dict(self.percentiles)[Decimal(p)]

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange.value,
            "norm": self.norm.to_json(),
            "count": self.count,
            "errors": self.errors,
            "percentiles_seconds": {
                f"p{p}": None if value is None else value.total_seconds()
                for p, value in self.percentiles
            },
            "within_limit": self.within_limit,
            "share": rate_json(self.share),
            "passed": self.passed,
            "unanswered": self.unanswered,
            "orphans": self.orphans,
            "backwards": self.backwards,
        }


def measure(
    pairing: Pairing, *, period: Period | None = None, zone: tzinfo = DUTCH_TIME
) -> LatencyFigures:
    """The latency figures of ``pairing``, of requests sent in ``period`` (all without one).

    An orphan answer counts in the month it was logged.
    """

    def inside(moment: datetime) -> bool:
        return period is None or Month.of(moment, zone) in period

    pairs = [p for p in pairing.pairs if inside(p.sent_at)]
    timed = [p for p in pairs if p.latency >= timedelta(0)]
    ordered = sorted(p.latency for p in timed)
    norm = NORMS[pairing.exchange]
    return LatencyFigures(
        norm=norm,
        count=len(timed),
        errors=sum(p.error for p in timed),
        percentiles=tuple((p, percentile(ordered, p)) for p in PERCENTILES),
        within_limit=sum(value <= norm.limit for value in ordered),
        unanswered=sum(inside(r.event.datetime) for r in pairing.unanswered),
        orphans=sum(inside(r.event.datetime) for r in pairing.orphans),
        backwards=len(pairs) - len(timed),
    )
