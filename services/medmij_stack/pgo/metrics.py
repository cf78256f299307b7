"""The PGO's Prometheus metrics: its retrieval attempts, read from its own funnel events.

The PGO already records every attempt as funnel events (``medmij_stack.protocol.funnel``,
table ``funnel_events``, :mod:`pgo.eventlog`). :class:`FunnelMetrics` counts them, so that a
scrape and a report (``medmij report``) count the same thing: at each scrape it reads the
events written since the previous one (by their ascending id; the first scrape reads them
all, so the counts survive a restart) and adds them to its totals.

* ``medmij_pgo_funnel_events_total{step}``: funnel events per funnel step
  (``verzamelen.flow-start`` … ``verzamelen.flow-end``): the attempts and how far they got;
* ``medmij_pgo_attempts_total{initiator}``: attempts started (a person, or the PGO itself
  with a langdurige toestemming);
* ``medmij_pgo_attempt_outcomes_total{outcome, step, reason, zorgaanbieder, gegevensdienst}``:
  finished attempts, ``succes`` or ``mislukt`` with the process step and reason it failed at,
  once per gegevensdienst the attempt was for (``geen`` when it had not got that far).

No person id, session, flow id or BSN is a label: only steps, outcomes, reasons,
Zorgaanbiedernamen and GegevensdienstIds. Served at ``/metrics`` on the PGO's own listener
(``medmij_stack.runtime.metrics``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter as Tally
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select

from medmij_stack.protocol.funnel import FunnelError, FunnelEvent, FunnelStep

from .tables import FunnelEntry

__all__ = ["FunnelMetrics", "pgo_metrics"]

log = logging.getLogger(__name__)

NONE = "geen"


class FunnelMetrics(Collector):
    """A Prometheus collector over the ``funnel_events`` table (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._after = 0
        self.steps: Tally[str] = Tally()
        self.attempts: Tally[str] = Tally()
        self.outcomes: Tally[tuple[str, str, str, str, str]] = Tally()

    def add(self, event: FunnelEvent) -> None:
        self.steps[event.name.value] += 1
        if event.name is FunnelStep.FLOW_START:
            self.attempts[event.initiator.value] += 1
        if event.name is FunnelStep.FLOW_END and event.outcome is not None:
            for dienst in event.gegevensdiensten or (NONE,):
                self.outcomes[
                    (
                        event.outcome.value,
                        event.step.value if event.step else NONE,
                        event.reason.value if event.reason else NONE,
                        event.zorgaanbieder or NONE,
                        dienst,
                    )
                ] += 1

    def refresh(self) -> None:
        """Add the events written since the last refresh. Blocking."""
        with self._lock:
            query = (
                select(FunnelEntry.id, FunnelEntry.event)
                .where(FunnelEntry.id > self._after)
                .order_by(FunnelEntry.id)
            )
            with self._engine.connect() as connection:
                for row_id, text in connection.execute(query):
                    self._after = row_id
                    try:
                        self.add(FunnelEvent.from_json(json.loads(text)))
                    except (ValueError, FunnelError) as problem:
                        log.warning("funnel event %d not counted: %s", row_id, problem)

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            self.refresh()
        except Exception as exc:  # the database: the totals so far, and a line in the log
            log.warning("funnel metrics not refreshed (%s: %s)", type(exc).__name__, exc)
        steps = CounterMetricFamily(
            "medmij_pgo_funnel_events", "Funnel events of Verzamelen, per step.", labels=["step"]
        )
        for step in FunnelStep:
            steps.add_metric([step.value], self.steps[step.value])
        attempts = CounterMetricFamily(
            "medmij_pgo_attempts", "Retrieval attempts started.", labels=["initiator"]
        )
        for initiator, count in sorted(self.attempts.items()):
            attempts.add_metric([initiator], count)
        outcomes = CounterMetricFamily(
            "medmij_pgo_attempt_outcomes",
            "Finished attempts: success, or failure with its process step and reason; "
            "per zorgaanbieder and gegevensdienst.",
            labels=["outcome", "step", "reason", "zorgaanbieder", "gegevensdienst"],
        )
        for labels, count in sorted(self.outcomes.items()):
            outcomes.add_metric(list(labels), count)
        yield from (steps, attempts, outcomes)

    def describe(self) -> Iterable[CounterMetricFamily]:
        return []  # no database read at registration


def pgo_metrics(engine: Engine) -> CollectorRegistry:
    """The PGO's registry: its funnel counted from ``engine``'s ``funnel_events``."""
    registry = CollectorRegistry()
    registry.register(FunnelMetrics(engine))
    return registry
