"""Success rate and failure reasons per PGO, zorgaanbieder, gegevensdienst, device, initiator.

Where do retrievals fail, and why: the same attempts grouped along one dimension at a time,
each group with its attempts, successes, failures (by :class:`FailureReason`) and open
attempts. The success rate is the share of all the group's attempts that succeeded (an
attempt still open has not succeeded).

An attempt names one zorgaanbieder but may name several gegevensdiensten: per gegevensdienst
it counts once under each, so those groups overlap. An attempt that never got as far as
naming one (abandoned at the search) is in the group ``None``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from medmij_stack.protocol.funnel import FailureReason
from medmij_stack.protocol.reporting.attempts import Attempt, sort_gegevensdiensten
from medmij_stack.protocol.reporting.rates import rate, rate_json

__all__ = ["Dimension", "Group", "breakdown", "breakdowns"]


class Dimension(StrEnum):
    PGO = "pgo"
    ZORGAANBIEDER = "zorgaanbieder"
    GEGEVENSDIENST = "gegevensdienst"
    DEVICE = "device"
    INITIATOR = "initiator"


_KEYS: dict[Dimension, Callable[[Attempt], tuple[str | None, ...]]] = {
    Dimension.PGO: lambda a: (a.pgo,),
    Dimension.ZORGAANBIEDER: lambda a: (a.zorgaanbieder,),
    Dimension.GEGEVENSDIENST: lambda a: a.gegevensdiensten or (None,),
    Dimension.DEVICE: lambda a: (a.device.value,),
    Dimension.INITIATOR: lambda a: (a.initiator.value,),
}


@dataclass(frozen=True)
class Group:
    key: str | None
    attempts: int
    succeeded: int
    failed: int
    unfinished: int
    reasons: tuple[tuple[FailureReason, int], ...]
    """Failures by reason, in the taxonomy's order, zeros left out."""

    @property
    def success_rate(self) -> Fraction | None:
        return rate(self.succeeded, self.attempts)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unfinished": self.unfinished,
            "success_rate": rate_json(self.success_rate),
            "reasons": {reason.value: count for reason, count in self.reasons},
        }


def _group(key: str | None, attempts: list[Attempt]) -> Group:
    reasons = Counter(a.reason for a in attempts if a.reason is not None)
    return Group(
        key=key,
        attempts=len(attempts),
        succeeded=sum(a.succeeded for a in attempts),
        failed=sum(a.failed for a in attempts),
        unfinished=sum(a.unfinished for a in attempts),
        reasons=tuple((r, reasons[r]) for r in FailureReason if reasons[r]),
    )


def breakdown(attempts: Iterable[Attempt], dimension: Dimension) -> tuple[Group, ...]:
    """One group per value of ``dimension`` that occurs, in key order, ``None`` last."""
    groups: dict[str | None, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        for key in _KEYS[dimension](attempt):
            groups[key].append(attempt)
    known = [k for k in groups if k is not None]
    if dimension is Dimension.GEGEVENSDIENST:
        order: list[str | None] = list(sort_gegevensdiensten(known))
    else:
        order = list(sorted(known))
    if None in groups:
        order.append(None)
    return tuple(_group(key, groups[key]) for key in order)


def breakdowns(attempts: Iterable[Attempt]) -> dict[Dimension, tuple[Group, ...]]:
    """:func:`breakdown` along every dimension."""
    chosen = list(attempts)
    return {dimension: breakdown(chosen, dimension) for dimension in Dimension}
