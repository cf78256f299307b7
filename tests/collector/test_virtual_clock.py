"""The collector of a simulation world stamps a batch's arrival with the virtual clock.

In a simulation world every role reads one virtual clock (medmij_stack.runtime.clock); the
collector's ``received_at`` follows it, like the records' own times, so "received before
the event" never shows up in a simulation's data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from medmij_stack.collector.app import create_app
from medmij_stack.protocol.ketenlog import EventType
from tests.authserver.conftest import serve_together

from .conftest import MAX_BYTES, MAX_RECORDS, PAGE, PGO, entry, fresh_sequences, make_world, record
from .test_app import deliver, held

VIRTUAL_NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)


def test_a_batch_is_received_at_virtual_time(tmp_path: Path) -> None:
    made = make_world(tmp_path)
    settings = made.collector_settings(
        max_batch_bytes=MAX_BYTES, max_batch_records=MAX_RECORDS, max_read_records=PAGE
    )
    app = create_app(settings, clock=lambda: VIRTUAL_NOW)
    with serve_together([made.stelselnode(), made.collector(app)], made.pki):
        made.wait_healthy()
        (sequence,) = fresh_sequences(1)
        sent = record(EventType.SEND_TOKEN_REQUEST, at=VIRTUAL_NOW, trace_id="virtual")
        assert deliver(made, [entry(sequence, sent)]).status_code == 200
        (stored,) = [r for r in held(made, PGO)["records"] if r["sequence"] == sequence]
    assert datetime.fromisoformat(stored["received_at"]) == VIRTUAL_NOW
