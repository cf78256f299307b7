"""The PGOs' funnel events, read as they grow: each row once, however often they are read.

``medmij simulate`` waits at the end of every month until the PGOs' sweep has ended that
month's attempts, looking at their funnel events every half second. Reading every store
whole each time made that wait grow with the run (twelve months read the first month's
events twelve times over, and each time more than once). A :class:`FunnelReader` keeps what
it read and asks each PGO's database only for the rows after the last one it has: the table
is append-only (``pgo.eventlog`` never updates or deletes a funnel event) and SQLite hands
out row ids in commit order, so nothing is missed.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from medmij_stack.protocol.funnel import FunnelEvent

from .roles import pgo_data_dir
from .world import World

__all__ = ["FunnelReader"]


class FunnelReader:
    """The funnel events in PGO databases (SQLite files), kept per flow."""

    def __init__(self, databases: Sequence[Path]) -> None:
        self._databases = list(databases)
        self._last_id = dict.fromkeys(self._databases, 0)
        # Per PGO database and flow, its events in order, and the time of its latest.
        self._flows: dict[tuple[Path, str], list[FunnelEvent]] = {}
        self._latest: dict[tuple[Path, str], datetime] = {}

    @classmethod
    def of(cls, world: World, data_dir: Path) -> FunnelReader:
        """The reader of the PGOs of ours in ``world``, in the stack of ``data_dir``."""
        return cls(
            [
                pgo_data_dir(world, pgo, data_dir) / "pgo.sqlite3"
                for pgo in world.pgo
                if not pgo.external
            ]
        )

    def _read_new(self, database: Path) -> None:
        if not database.is_file():
            return
        opened = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        with contextlib.closing(opened) as connection:
            rows = connection.execute(
                "SELECT id, event FROM funnel_events WHERE id > ? ORDER BY id",
                (self._last_id[database],),
            ).fetchall()
        for row_id, text in rows:
            event = FunnelEvent.from_json(json.loads(text))
            key = (database, event.flow_id)
            self._flows.setdefault(key, []).append(event)
            latest = self._latest.get(key)
            self._latest[key] = event.at if latest is None else max(latest, event.at)
            self._last_id[database] = row_id

    def since(self, moment: datetime) -> list[FunnelEvent]:
        """Every event of the flows with an event at or after ``moment`` (whole flows: an
        attempt counts in the month of its last event), reading only rows not read before.
        Blocking."""
        for database in self._databases:
            self._read_new(database)
        return [
            event
            for key, events in self._flows.items()
            if self._latest[key] >= moment
            for event in events
        ]
