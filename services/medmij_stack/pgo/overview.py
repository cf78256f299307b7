"""The state of each health category on the overview: loading, no data, not fetched, or records.

A tile is fed by sources (a zorgaanbieder's gegevensdienst) and, within BgZ, by some of
its queries. Its state follows from the person's attempts, oldest first:

* ``bezig`` (loading): an attempt is fetching a gegevensdienst that feeds it;
* ``niet-opgehaald``: the latest exchange for a feeding source failed, at a query that
  feeds this tile or before any query (token, connection), and nothing newer succeeded;
  the tile offers "probeer opnieuw" for that attempt, which asks only what failed;
* ``geen-gegevens``: a feeding source was fetched completely, and holds nothing for it;
* ``nog-niet``: no source feeds it yet;
* ``gegevens``: it has records (shown with their number).

Attempts that ended before the exchange (the person cancelled, refused, or the DVA has
nothing) say nothing about a tile: the person saw that outcome on its own page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from medmij_stack.protocol.funnel import ProcessStep

from .attempts import Stage
from .categories import CATEGORIES, Category, count
from .db import Database
from .records import RecordKey, StoredSource
from .tables import Attempt, AttemptService, QueryOutcome

__all__ = ["Failure", "SourceState", "Tile", "TileState", "source_states", "tiles"]


class TileState(StrEnum):
    BEZIG = "bezig"
    NIET_OPGEHAALD = "niet-opgehaald"
    GEEN_GEGEVENS = "geen-gegevens"
    NOG_NIET = "nog-niet"
    GEGEVENS = "gegevens"


@dataclass(frozen=True)
class Failure:
    flow_id: str
    queries: frozenset[str] | None  # None: the whole gegevensdienst
    at: datetime


@dataclass
class SourceState:
    zorgaanbieder: str
    gegevensdienst: str
    retrieved_at: datetime | None = None
    running: bool = False
    failure: Failure | None = None


@dataclass(frozen=True)
class Retry:
    flow_id: str
    zorgaanbieder: str


@dataclass(frozen=True)
class Tile:
    category: Category
    state: TileState
    count: int
    retries: tuple[Retry, ...] = field(default_factory=tuple)
    stale: bool = False  # shows older records while the latest fetch failed


def source_states(
    db: Database, account_id: str, sources: Sequence[StoredSource]
) -> list[SourceState]:
    """Every (zorgaanbieder, gegevensdienst) the person fetched or tried to fetch."""
    states: dict[tuple[str, str], SourceState] = {}
    for source in sources:
        key = (source.zorgaanbieder, source.gegevensdienst)
        states[key] = SourceState(*key, retrieved_at=source.retrieved_at)
    with db.read() as session:
        attempts = list(
            session.scalars(
                select(Attempt)
                .where(Attempt.account_id == account_id, Attempt.zorgaanbieder.is_not(None))
                .order_by(Attempt.started_at)
            )
        )
        flow_ids = [a.flow_id for a in attempts]
        services: dict[str, list[AttemptService]] = {}
        failed_queries: dict[tuple[str, str], set[str]] = {}
        if flow_ids:
            for row in session.scalars(
                select(AttemptService).where(AttemptService.flow_id.in_(flow_ids))
            ):
                services.setdefault(row.flow_id, []).append(row)
            for outcome in session.scalars(
                select(QueryOutcome).where(
                    QueryOutcome.flow_id.in_(flow_ids), QueryOutcome.failure.is_not(None)
                )
            ):
                failed_queries.setdefault((outcome.flow_id, outcome.gegevensdienst), set()).add(
                    outcome.query_name
                )
    for attempt in attempts:
        assert attempt.zorgaanbieder is not None
        running = attempt.stage in (Stage.TERUG.value, Stage.OPHALEN.value)
        own = {row.gegevensdienst: row for row in services.get(attempt.flow_id, [])}
        for gegevensdienst in (attempt.granted or attempt.gegevensdiensten).split():
            key = (attempt.zorgaanbieder, gegevensdienst)
            state = states.setdefault(key, SourceState(*key))
            service = own.get(gegevensdienst)
            if running:
                state.running = True
                continue
            if attempt.stage != Stage.KLAAR.value or attempt.ended_at is None:
                continue
            if service is not None and service.status == "gelukt":
                state.failure = None
            elif (service is not None and service.status == "mislukt") or (
                attempt.step == ProcessStep.UITWISSELING.value and service is None
            ):
                queries = failed_queries.get((attempt.flow_id, gegevensdienst))
                state.failure = Failure(
                    attempt.flow_id, frozenset(queries) if queries else None, attempt.ended_at
                )
    # A source's records are newer than a failure only if a success came after it.
    for state in states.values():
        failure = state.failure
        if failure and state.retrieved_at and state.retrieved_at > failure.at:
            state.failure = None
    return sorted(states.values(), key=lambda s: (s.zorgaanbieder, s.gegevensdienst))


def tiles(states: Sequence[SourceState], records: Sequence[RecordKey]) -> list[Tile]:
    result = []
    for chosen in CATEGORIES:
        feeding = [s for s in states if s.gegevensdienst in chosen.gegevensdiensten]
        shown = count(chosen, records)
        retries = []
        for state in feeding:
            failure = state.failure
            if failure is None:
                continue
            queries = chosen.queries_of(state.gegevensdienst)
            if failure.queries is None or failure.queries & queries:
                retry = Retry(failure.flow_id, state.zorgaanbieder)
                if retry not in retries:
                    retries.append(retry)
        if any(s.running for s in feeding):
            tile_state = TileState.BEZIG
        elif retries:
            tile_state = TileState.NIET_OPGEHAALD
        elif shown:
            tile_state = TileState.GEGEVENS
        elif any(s.retrieved_at for s in feeding):
            tile_state = TileState.GEEN_GEGEVENS
        else:
            tile_state = TileState.NOG_NIET
        result.append(
            Tile(chosen, tile_state, shown, tuple(retries), stale=bool(retries and shown))
        )
    return result
