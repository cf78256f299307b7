"""Drop-out and success per process step: zorgaanbieder zoeken → DigiD → uitwisseling.

MedMij's measurement asks where patients drop out ("Uitval per processtap", KPI 9 of the
2026 DVP-rapportage; Beheerrapportage optimalisatie PoP C3.005,
https://github.com/Stichting-MedMij/Ontwikkeling-afsprakenstelsel-Onderhoud-en-doorontwikkelingBeheerrapportage-optimalisatie-PoP-C3.005).
Every attempt enters zorgaanbieder zoeken; it enters the next step when it passes the one
before (see :mod:`medmij_stack.protocol.reporting.attempts` for how far an attempt got). For
each step: how many attempts reached it, how many ended there (failed there, or are still
open there), and so how many passed. The numbers chain: what passed a step reached the next,
and what passed uitwisseling succeeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from medmij_stack.protocol.funnel import FailureReason, ProcessStep
from medmij_stack.protocol.reporting.attempts import STEPS, Attempt
from medmij_stack.protocol.reporting.rates import rate, rate_json

__all__ = ["StepCount", "StepFunnel", "step_funnel"]


@dataclass(frozen=True)
class StepCount:
    """One process step's numbers."""

    step: ProcessStep
    reached: int
    failed: int
    """Attempts whose flow-end failed at this step."""
    open: int
    """Attempts without a flow-end that got no further than this step."""
    reasons: tuple[tuple[FailureReason, int], ...]
    """The failures at this step by reason, in the taxonomy's order, zeros left out."""

    @property
    def ended(self) -> int:
        return self.failed + self.open

    @property
    def passed(self) -> int:
        return self.reached - self.ended

    @property
    def drop_out_rate(self) -> Fraction | None:
        """The share of the attempts that reached this step and ended there."""
        return rate(self.ended, self.reached)

    @property
    def pass_rate(self) -> Fraction | None:
        return rate(self.passed, self.reached)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "reached": self.reached,
            "ended": self.ended,
            "failed": self.failed,
            "open": self.open,
            "passed": self.passed,
            "drop_out_rate": rate_json(self.drop_out_rate),
            "pass_rate": rate_json(self.pass_rate),
            "reasons": {reason.value: count for reason, count in self.reasons},
        }


@dataclass(frozen=True)
class StepFunnel:
    attempts: int
    succeeded: int
    steps: tuple[StepCount, ...]

    @property
    def success_rate(self) -> Fraction | None:
        return rate(self.succeeded, self.attempts)

    def step(self, step: ProcessStep) -> StepCount:
        return self.steps[STEPS.index(step)]

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "success_rate": rate_json(self.success_rate),
            "steps": [s.to_json() for s in self.steps],
        }


def step_funnel(attempts: Iterable[Attempt]) -> StepFunnel:
    """The step funnel over ``attempts`` (filter them to a month, or to a person's own first)."""
    chosen = list(attempts)
    counts = []
    for step in STEPS:
        stopped = [a for a in chosen if a.stopped_at is step]
        reasons = Counter(a.reason for a in stopped if a.reason is not None)
        counts.append(
            StepCount(
                step=step,
                reached=sum(a.reached(step) for a in chosen),
                failed=sum(a.failed for a in stopped),
                open=sum(a.unfinished for a in stopped),
                reasons=tuple((r, reasons[r]) for r in FailureReason if reasons[r]),
            )
        )
    return StepFunnel(
        attempts=len(chosen),
        succeeded=sum(a.succeeded for a in chosen),
        steps=tuple(counts),
    )
