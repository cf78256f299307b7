"""The PGO's /metrics counters, counted from its own funnel events (pgo.metrics)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import generate_latest

from medmij_stack.pgo.db import Database
from medmij_stack.pgo.eventlog import add_funnel
from medmij_stack.pgo.metrics import pgo_metrics
from medmij_stack.protocol.funnel import (
    Device,
    FailureReason,
    FunnelEvent,
    FunnelStep,
    Initiator,
    Outcome,
    ProcessStep,
)

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PERSON = "5d0f3c1e-person-account-id"


def event(name: FunnelStep, flow: str, **changes: object) -> FunnelEvent:
    values: dict[str, object] = {
        "name": name,
        "at": AT,
        "flow_id": flow,
        "person": PERSON,
        "pgo": "pgo.localhost",
        "device": Device.WEB,
        "initiator": Initiator.PERSON,
        "zorgaanbieder": "ziekenhuisdemo@medmij",
        "gegevensdiensten": ("48", "63"),
    }
    values.update(changes)
    return FunnelEvent(**values)  # type: ignore[arg-type]


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_attempts_steps_and_outcomes_are_counted_per_label_and_grow(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pgo.sqlite3'}")
    try:
        registry = pgo_metrics(db.engine)
        with db.transaction() as session:
            add_funnel(
                session,
                [
                    event(FunnelStep.FLOW_START, "flow-1", zorgaanbieder=None, gegevensdiensten=()),
                    event(FunnelStep.FLOW_END, "flow-1", outcome=Outcome.SUCCESS),
                    event(FunnelStep.FLOW_START, "flow-2", zorgaanbieder=None, gegevensdiensten=()),
                    event(
                        FunnelStep.FLOW_END,
                        "flow-2",
                        gegevensdiensten=("48",),
                        outcome=Outcome.FAILURE,
                        reason=FailureReason.TOKEN_ERROR,
                        step=ProcessStep.UITWISSELING,
                    ),
                ],
            )
        text = generate_latest(registry).decode()
        assert sample(text, "medmij_pgo_attempts_total", initiator="person") == 2
        assert sample(text, "medmij_pgo_funnel_events_total", step="verzamelen.flow-end") == 2
        success = {"outcome": "succes", "step": "geen", "reason": "geen"}
        za = {"zorgaanbieder": "ziekenhuisdemo@medmij"}
        for dienst in ("48", "63"):
            total = "medmij_pgo_attempt_outcomes_total"
            assert sample(text, total, **success, **za, gegevensdienst=dienst) == 1
        failure = {"outcome": "mislukt", "step": "uitwisseling", "reason": "token-fout"}
        total = "medmij_pgo_attempt_outcomes_total"
        assert sample(text, total, **failure, **za, gegevensdienst="48") == 1
        assert sample(text, total, **failure, **za, gegevensdienst="63") == 0
        assert PERSON not in text
        assert "flow-1" not in text

        # Only what was written since the last scrape is read, and added.
        with db.transaction() as session:
            add_funnel(session, [event(FunnelStep.FLOW_START, "flow-3", zorgaanbieder=None)])
        again = generate_latest(registry).decode()
        assert sample(again, "medmij_pgo_attempts_total", initiator="person") == 3
        assert sample(again, total, **failure, **za, gegevensdienst="48") == 1

        # A restarted PGO counts from its database: the same totals.
        fresh = generate_latest(pgo_metrics(db.engine)).decode()
        assert sample(fresh, "medmij_pgo_attempts_total", initiator="person") == 3
    finally:
        db.close()
