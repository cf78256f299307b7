"""The collector's Prometheus metrics: deliveries by status and time, records held per sender.

* ``medmij_collector_requests_total{endpoint, status}`` and
  ``medmij_collector_request_duration_seconds{endpoint}``: the delivery (``POST /v1/logs``)
  and reading (``GET /v1/records``) endpoints (``medmij_stack.runtime.metrics``);
* ``medmij_collector_records_total{sender, event}``: the records it holds, per sending node
  and event type, counted from its own table at each scrape (only the rows added since the
  previous scrape are read; the first scrape reads them all, so the totals survive a restart).

Labels name nodes (host names on the Whitelist) and event types, never a person, session or
trace. Served at ``/metrics`` without a node certificate.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select

from medmij_stack.runtime.ketenlog_delivery import DELIVERY_PATH, RECORDS_PATH
from medmij_stack.runtime.metrics import RequestMetrics

from .tables import DeliveredRecord

__all__ = ["HeldRecords", "collector_metrics"]

log = logging.getLogger(__name__)


class HeldRecords(Collector):
    """Records held per sender and event type, read incrementally from the store."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._after = 0
        self.held: Tally[tuple[str, str]] = Tally()

    def refresh(self) -> None:
        engine = self._engine()
        if engine is None:  # not open yet
            return
        with self._lock, engine.connect() as connection:
            query = (
                select(DeliveredRecord.id, DeliveredRecord.sender, DeliveredRecord.type)
                .where(DeliveredRecord.id > self._after)
                .order_by(DeliveredRecord.id)
            )
            for row_id, sender, event in connection.execute(query):
                self._after = row_id
                self.held[(sender, event)] += 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            self.refresh()
        except Exception as exc:  # the database: the totals so far, and a line in the log
            log.warning("collector metrics not refreshed (%s: %s)", type(exc).__name__, exc)
        family = CounterMetricFamily(
            "medmij_collector_records",
            "Ketenlog records held, per sending node and event type.",
            labels=["sender", "event"],
        )
        for (sender, event), count in sorted(self.held.items()):
            family.add_metric([sender, event], count)
        yield family

    def describe(self) -> Iterable[CounterMetricFamily]:
        return []  # no database read at registration


def collector_metrics(
    engine: Callable[[], Engine | None],
) -> tuple[CollectorRegistry, RequestMetrics]:
    """The collector's registry, and the request metrics its middleware feeds."""
    registry = CollectorRegistry()
    registry.register(HeldRecords(engine))
    endpoints = {DELIVERY_PATH: "delivery", RECORDS_PATH: "records"}
    return registry, RequestMetrics(registry, "medmij_collector", endpoints.get)
