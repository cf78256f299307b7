"""The funnel reader of ``medmij simulate``'s month-end wait: every row once, whole flows."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from medmij_stack.protocol.funnel import Device, FunnelEvent, FunnelStep, Initiator, Outcome
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.wiring.funnel_reading import FunnelReader
from medmij_stack.wiring.simulate import read_funnel

JANUARY = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
FEBRUARY = datetime(2027, 2, 1, 0, 0, tzinfo=UTC)


def event(flow: str, at: datetime, *, end: bool = False) -> FunnelEvent:
    return FunnelEvent(
        name=FunnelStep.FLOW_END if end else FunnelStep.FLOW_START,
        at=at,
        flow_id=flow,
        person=f"person-{flow}",
        pgo="pgo.localhost",
        device=Device.PC,
        initiator=Initiator.PERSON,
        outcome=Outcome.SUCCESS if end else None,
    )


def append(database: Path, *events: FunnelEvent) -> None:
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS funnel_events "
            "(id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)"
        )
        connection.executemany(
            "INSERT INTO funnel_events (event) VALUES (?)",
            [(json.dumps(e.to_json()),) for e in events],
        )


def test_it_reads_what_was_added_and_keeps_whole_flows(tmp_path: Path) -> None:
    first, second = tmp_path / "pgo.sqlite3", tmp_path / "other.sqlite3"
    reader = FunnelReader([first, second, tmp_path / "missing.sqlite3"])
    assert reader.since(FEBRUARY) == []
    append(first, event("a", JANUARY), event("a", JANUARY + timedelta(hours=1), end=True))
    # Begun in January, ended in February: counted in February, with its January event.
    append(second, event("b", JANUARY + timedelta(days=20)))
    assert reader.since(FEBRUARY) == []
    append(second, event("b", FEBRUARY + timedelta(days=1), end=True))
    append(first, event("c", FEBRUARY + timedelta(days=2)))
    found = reader.since(FEBRUARY)
    assert sorted((e.flow_id, e.name.value) for e in found) == [
        ("b", "verzamelen.flow-end"),
        ("b", "verzamelen.flow-start"),
        ("c", "verzamelen.flow-start"),
    ]
    # The same attempts as reading both stores whole, for every month reaching February.
    whole = read_funnel(first) + read_funnel(second)
    in_february = {a.flow_id: a for a in fold_attempts(whole) if a.ended_at >= FEBRUARY}
    assert {a.flow_id: a for a in fold_attempts(found)} == in_february
    # Everything since the start of time is everything there is, each row once.
    assert sorted(map(repr, reader.since(JANUARY - timedelta(days=1)))) == sorted(map(repr, whole))
