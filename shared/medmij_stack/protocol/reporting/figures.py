"""All the figures of a range of months, from the events, in one call: :func:`compute`.

The reports MedMij asks of a PGO (the 2026 DVP-rapportage, the beheerrapport,
https://afsprakenstelsel.medmij.nl/display/PUBLIC/Managementinformatie) and the measurements
behind them (users by outcome, drop-out per process step, where and why retrievals fail,
back-channel latency against the norms, the DVA's counts against the PGO's) for every month
of a period (``--from`` / ``--to``), and over the period as a whole. A month without events
is a month of zeros; the rates in it are ``None`` (nothing to divide).

Pure: the caller reads the events from wherever the services store them and hands them in;
:meth:`Figures.to_json` gives plain JSON data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from medmij_stack.protocol.funnel import FunnelEvent, Initiator
from medmij_stack.protocol.ketenlog import Record
from medmij_stack.protocol.reporting.attempts import Attempt, fold_attempts
from medmij_stack.protocol.reporting.beheer import BeheerFigures, beheer_figures
from medmij_stack.protocol.reporting.breakdowns import Dimension, Group, breakdowns
from medmij_stack.protocol.reporting.consents import LongTermConsent
from medmij_stack.protocol.reporting.dvp import DataRecord, data_record
from medmij_stack.protocol.reporting.funnel_steps import StepFunnel, step_funnel
from medmij_stack.protocol.reporting.latency import (
    Exchange,
    LatencyFigures,
    Pairing,
    measure,
    pair,
)
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month, Period
from medmij_stack.protocol.reporting.reconcile import Reconciliation, reconcile
from medmij_stack.protocol.reporting.users import (
    OutcomeUsers,
    active_in_last_12_months,
    active_in_year,
    outcome_users,
)
from medmij_stack.protocol.reporting.visits import Visit

__all__ = ["Figures", "MonthFigures", "SpanFigures", "YearFigures", "compute"]


@dataclass(frozen=True)
class SpanFigures:
    """The measurements over some months: one month, or the whole period."""

    outcome_users: OutcomeUsers
    steps: StepFunnel
    """Over the attempts persons started themselves (the PGO's own retrievals pass neither
    the search nor DigiD); ``breakdowns`` by initiator show those."""
    breakdowns: dict[Dimension, tuple[Group, ...]]
    token_latency: LatencyFigures
    resource_latency: LatencyFigures

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome_users": self.outcome_users.to_json(),
            "steps": self.steps.to_json(),
            "breakdowns": {
                dimension.value: [g.to_json() for g in groups]
                for dimension, groups in self.breakdowns.items()
            },
            "latency": {
                "token": self.token_latency.to_json(),
                "resource": self.resource_latency.to_json(),
            },
        }


@dataclass(frozen=True)
class MonthFigures:
    month: Month
    span: SpanFigures
    active_year_to_date: int
    """Persons with ≥ 1 successful retrieval from January of this year up to this month."""
    active_last_12_months: int
    """Persons with ≥ 1 successful retrieval in the twelve months ending with this month."""
    dvp: DataRecord
    beheer: BeheerFigures

    def to_json(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            **self.span.to_json(),
            "active_users": {
                "year_to_date": self.active_year_to_date,
                "last_12_months": self.active_last_12_months,
            },
            "dvp_data_record": self.dvp.to_json(),
            "beheerrapport": self.beheer.to_json(),
        }


@dataclass(frozen=True)
class YearFigures:
    """Active users of a calendar year, counted up to ``through`` (the period's end, or
    December)."""

    year: int
    through: Month
    active: int

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "through": str(self.through), "active_users": self.active}


@dataclass(frozen=True)
class Figures:
    period: Period
    months: tuple[MonthFigures, ...]
    years: tuple[YearFigures, ...]
    total: SpanFigures
    """Over the whole period: persons counted once however many months they appear in."""
    reconciliation: Reconciliation

    def month(self, month: Month) -> MonthFigures:
        for figures in self.months:
            if figures.month == month:
                return figures
        raise KeyError(str(month))

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {"from": str(self.period.first), "to": str(self.period.last)},
            "months": [m.to_json() for m in self.months],
            "years": [y.to_json() for y in self.years],
            "total": self.total.to_json(),
            "reconciliation": self.reconciliation.to_json(),
        }


def _span(
    attempts: list[Attempt], pairings: dict[Exchange, Pairing], period: Period, zone: tzinfo
) -> SpanFigures:
    inside = [a for a in attempts if a.month in period]
    return SpanFigures(
        outcome_users=outcome_users(inside),
        steps=step_funnel(a for a in inside if a.initiator is Initiator.PERSON),
        breakdowns=breakdowns(inside),
        token_latency=measure(pairings[Exchange.TOKEN], period=period, zone=zone),
        resource_latency=measure(pairings[Exchange.RESOURCE], period=period, zone=zone),
    )


def compute(
    funnel_events: Iterable[FunnelEvent],
    ketenlog_records: Iterable[Record],
    period: Period,
    *,
    visits: Iterable[Visit] = (),
    consents: Iterable[LongTermConsent] = (),
    zone: tzinfo = DUTCH_TIME,
) -> Figures:
    """Every figure of every month of ``period``.

    Hand in the events of the year before the period too: the twelve-month figures and the
    DVP-rapportage's previous-login split look back that far. ``ketenlog_records`` may hold
    both the PGO's and the DVA's records (they are told apart by event type).
    """
    attempts = list(fold_attempts(funnel_events, zone))
    records = list(ketenlog_records)
    seen = list(visits)
    held = list(consents)
    pairings = {exchange: pair(records, exchange) for exchange in Exchange}
    months = tuple(
        MonthFigures(
            month=month,
            span=_span(attempts, pairings, Period.single(month), zone),
            active_year_to_date=active_in_year(attempts, month.year, through=month),
            active_last_12_months=active_in_last_12_months(attempts, month),
            dvp=data_record(attempts, month, visits=seen, consents=held, zone=zone),
            beheer=beheer_figures(attempts, month),
        )
        for month in period
    )
    years = tuple(
        YearFigures(year, through, active_in_year(attempts, year, through=through))
        for year in range(period.first.year, period.last.year + 1)
        for through in [min(Month(year, 12), period.last)]
    )
    return Figures(
        period=period,
        months=months,
        years=years,
        total=_span(attempts, pairings, period, zone),
        reconciliation=reconcile(records, period, attempts=attempts, zone=zone),
    )
