"""The collector's /metrics: deliveries by status, records held per sender and event type;
scraped without a node certificate, naming no trace or person."""

from __future__ import annotations

import re

from medmij_stack.protocol.ketenlog import EventType

from .conftest import PGO, CollectorWorld, entry, fresh_sequences, record


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(world: CollectorWorld) -> str:
    with world.client(None) as scraper:
        response = scraper.get(f"{world.collector_url}/metrics")
    assert response.status_code == 200
    return response.text


def test_a_delivered_batch_is_counted_per_sender_and_event(
    collector_world: CollectorWorld,
) -> None:
    before = scrape(collector_world)
    first, second, third = fresh_sequences(3)
    batch = [
        entry(first, record(EventType.SEND_TOKEN_REQUEST, trace_id="trace-metrics-1")),
        entry(second, record(EventType.SEND_TOKEN_REQUEST, trace_id="trace-metrics-1")),
        entry(third, record(EventType.RECEIVE_TOKEN_RESPONSE, status=200)),
    ]
    with collector_world.client(PGO) as client:
        response = client.post(collector_world.delivery_url, json={"records": batch})
    assert response.status_code == 200, response.text
    after = scrape(collector_world)
    held = "medmij_collector_records_total"
    for event, count in (("send_token_request", 2), ("receive_token_response", 1)):
        grown = sample(after, held, sender=PGO, event=event) - sample(
            before, held, sender=PGO, event=event
        )
        assert grown == count
    requests = "medmij_collector_requests_total"
    assert sample(after, requests, endpoint="delivery", status="200") == (
        sample(before, requests, endpoint="delivery", status="200") + 1
    )
    assert "trace-metrics-1" not in after
