"""The records a person fetched, per source, and how a retrieval's results replace them.

A source is one zorgaanbieder's gegevensdienst for one account. Its records are replaced
only by a *complete* set: every query of the gegevensdienst answered and valid. Then the
old records go and the new ones come in one transaction, so a reader sees either the old
set or the new one (DESIGN: "a failed or half-finished retrieval never shows as
complete, and records stored before are never lost").

A gegevensdienst that fails in part replaces nothing. What its successful queries
brought is kept with the attempt (``query_outcomes.resources``), so that "probeer
opnieuw" needs to ask only the queries that failed: when those succeed, the kept answers
and the new ones together make the complete set. Kept answers older than
``staged_results_max_age_seconds`` are not reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from medmij_stack.protocol.funnel import Clock, FailureReason
from medmij_stack.protocol.ketenlog import Record as KetenlogRecord

from .db import Database
from .eventlog import add_ketenlog
from .tables import AttemptService, QueryOutcome, Record, Source

__all__ = ["QueryAnswer", "RecordKey", "RecordStore", "StoredRecord", "StoredSource"]


@dataclass(frozen=True)
class QueryAnswer:
    """One query's outcome as stored: the engine's result, or one kept from an attempt."""

    name: str
    request_id: str
    status: int | None
    failure: FailureReason | None
    detail: str | None
    started: datetime
    elapsed_seconds: float
    resources: tuple[dict[str, Any], ...]
    inherited: bool = False  # kept from an earlier attempt, not asked again


@dataclass(frozen=True)
class StoredRecord:
    zorgaanbieder: str
    gegevensdienst: str
    query_name: str
    resource: dict[str, Any]
    retrieved_at: datetime
    flow_id: str

    @property
    def resource_type(self) -> str:
        return str(self.resource.get("resourceType", ""))

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Who a resource is: its type and id on one FHIR base (a source)."""
        return (
            self.zorgaanbieder,
            self.gegevensdienst,
            self.resource_type,
            str(self.resource.get("id", "")),
        )


@dataclass(frozen=True)
class RecordKey:
    """A stored record without its resource: what counting a category's entries needs,
    read from the table's own columns instead of parsing every resource's JSON."""

    zorgaanbieder: str
    gegevensdienst: str
    query_name: str
    resource_type: str
    resource_id: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """As :attr:`StoredRecord.key`."""
        return (self.zorgaanbieder, self.gegevensdienst, self.resource_type, self.resource_id)


@dataclass(frozen=True)
class StoredSource:
    zorgaanbieder: str
    gegevensdienst: str
    retrieved_at: datetime
    flow_id: str
    record_count: int


def _compact(document: object) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _outcome_row(
    flow_id: str, gegevensdienst: str, answer: QueryAnswer, *, keep: bool
) -> dict[str, Any]:
    """A ``query_outcomes`` row; ``keep``: the service failed, so a successful answer's
    resources stay with the attempt for a retry."""
    kept = keep and answer.failure is None
    return {
        "flow_id": flow_id,
        "gegevensdienst": gegevensdienst,
        "query_name": answer.name[:128],
        "request_id": answer.request_id,
        "status": answer.status,
        "failure": None if answer.failure is None else answer.failure.value,
        "detail": None if answer.detail is None else answer.detail[:2000],
        "started_at": answer.started,
        "elapsed_seconds": answer.elapsed_seconds,
        "resource_count": len(answer.resources),
        "resources": _compact(list(answer.resources)) if kept else None,
        "retrieved_at": answer.started if kept else None,
    }


def _distinct(resources: Iterable[dict[str, Any]]) -> int:
    return len({(r.get("resourceType"), r.get("id")) for r in resources})


_OUTCOMES = cast(Table, QueryOutcome.__table__)
_RECORDS = cast(Table, Record.__table__)
_SOURCES = cast(Table, Source.__table__)
_SERVICES = cast(Table, AttemptService.__table__)


def _set_service(session: Session, flow_id: str, gegevensdienst: str, **values: Any) -> None:
    """Update a gegevensdienst's row of the attempt, or add it (every attempt has one per
    granted service already; a row missing is added, as the ORM's get-or-add did)."""
    service = _SERVICES.c
    where = (service.flow_id == flow_id, service.gegevensdienst == gegevensdienst)
    updated = session.execute(update(_SERVICES).where(*where).values(values))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            insert(_SERVICES).values(flow_id=flow_id, gegevensdienst=gegevensdienst, **values)
        )


class RecordStore:
    def __init__(self, db: Database, clock: Clock, *, staged_max_age: timedelta) -> None:
        self._db = db
        self._clock = clock
        self._staged_max_age = staged_max_age

    # --- writing ---------------------------------------------------------------------------

    def save(
        self,
        *,
        flow_id: str,
        account_id: str,
        zorgaanbieder: str,
        gegevensdienst: str,
        answers: Sequence[QueryAnswer],
        failure: tuple[FailureReason, str] | None,
        records: Sequence[KetenlogRecord] = (),
    ) -> int | None:
        """Store one gegevensdienst's answers; the source's record count when it was replaced.

        ``failure`` (reason, detail) is None only when every answer succeeded; then the
        source is replaced in this transaction. Otherwise the successful answers are
        kept with the attempt for a retry and the source stays as it was.
        """
        now = self._clock()
        # Plain Core statements on the tables: a retrieval stores a hundred resources and
        # thirty outcomes at once, and neither the ORM's unit of work nor its bulk path
        # (which maps every row through the entity) adds anything to rows written once.
        outcomes = [
            _outcome_row(flow_id, gegevensdienst, answer, keep=failure is not None)
            for answer in answers
        ]
        with self._db.transaction() as session:
            if outcomes:
                session.execute(insert(_OUTCOMES), outcomes)
            count = None
            if failure is None:
                count = self._replace(
                    session, flow_id, account_id, zorgaanbieder, gegevensdienst, answers, now
                )
            _set_service(
                session,
                flow_id,
                gegevensdienst,
                status="gelukt" if failure is None else "mislukt",
                reason=None if failure is None else failure[0].value,
                detail=None if failure is None else failure[1][:2000],
                record_count=count,
                ended_at=now,
            )
            add_ketenlog(session, records)
            return count

    def _replace(
        self,
        session: Session,
        flow_id: str,
        account_id: str,
        zorgaanbieder: str,
        gegevensdienst: str,
        answers: Sequence[QueryAnswer],
        now: datetime,
    ) -> int:
        session.execute(
            delete(_RECORDS).where(
                _RECORDS.c.account_id == account_id,
                _RECORDS.c.zorgaanbieder == zorgaanbieder,
                _RECORDS.c.gegevensdienst == gegevensdienst,
            )
        )
        every = [r for answer in answers for r in answer.resources]
        rows = [
            {
                "account_id": account_id,
                "zorgaanbieder": zorgaanbieder,
                "gegevensdienst": gegevensdienst,
                "query_name": answer.name[:128],
                "resource_type": str(resource.get("resourceType", ""))[:64],
                "resource_id": str(resource.get("id", ""))[:64] or None,
                "resource": _compact(resource),
                "retrieved_at": answer.started,
                "flow_id": flow_id,
            }
            for answer in answers
            for resource in answer.resources
        ]
        if rows:
            session.execute(insert(_RECORDS), rows)
        count = _distinct(every)
        values = {"retrieved_at": now, "flow_id": flow_id, "record_count": count}
        source = _SOURCES.c
        replaced = session.execute(
            update(_SOURCES)
            .where(
                source.account_id == account_id,
                source.zorgaanbieder == zorgaanbieder,
                source.gegevensdienst == gegevensdienst,
            )
            .values(values)
        )
        if replaced.rowcount == 0:  # type: ignore[attr-defined]
            session.execute(
                insert(_SOURCES).values(
                    account_id=account_id,
                    zorgaanbieder=zorgaanbieder,
                    gegevensdienst=gegevensdienst,
                    **values,
                )
            )
        return count

    def mark_service(
        self,
        flow_id: str,
        gegevensdienst: str,
        status: str,
        reason: FailureReason | None,
        detail: str | None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "reason": None if reason is None else reason.value,
            "detail": detail,
        }
        if status in ("gelukt", "mislukt"):
            values["ended_at"] = self._clock()
        with self._db.transaction() as session:
            _set_service(session, flow_id, gegevensdienst, **values)

    # --- retries ---------------------------------------------------------------------------

    def kept(self, flow_id: str, gegevensdienst: str) -> tuple[list[QueryAnswer], set[str]]:
        """The answers an attempt kept for one gegevensdienst, and the queries that failed.

        Kept answers too old to reuse are dropped, and their queries count as failed.
        """
        oldest = self._clock() - self._staged_max_age
        kept: list[QueryAnswer] = []
        failed: set[str] = set()
        with self._db.read() as session:
            rows = session.scalars(
                select(QueryOutcome)
                .where(
                    QueryOutcome.flow_id == flow_id, QueryOutcome.gegevensdienst == gegevensdienst
                )
                .order_by(QueryOutcome.id)
            )
            for row in rows:
                fresh = row.retrieved_at is not None and row.retrieved_at >= oldest
                if row.failure is None and row.resources is not None and fresh:
                    kept.append(
                        QueryAnswer(
                            name=row.query_name,
                            request_id=row.request_id,
                            status=row.status,
                            failure=None,
                            detail=None,
                            started=row.retrieved_at or row.started_at,
                            elapsed_seconds=0.0,
                            resources=tuple(json.loads(row.resources)),
                            inherited=True,
                        )
                    )
                else:
                    failed.add(row.query_name)
        return kept, failed

    def outcomes(self, flow_id: str) -> list[QueryOutcome]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(QueryOutcome)
                    .where(QueryOutcome.flow_id == flow_id)
                    .order_by(QueryOutcome.id)
                )
            )

    # --- reading ---------------------------------------------------------------------------

    def counts(self, account_id: str, flow_id: str) -> dict[str, dict[str, int]]:
        """Gegevensdienst → resource type → how many distinct resources ``flow_id`` stored."""
        seen: dict[str, dict[str, set[str | None]]] = {}
        with self._db.read() as session:
            rows = session.execute(
                select(Record.gegevensdienst, Record.resource_type, Record.resource_id).where(
                    Record.account_id == account_id, Record.flow_id == flow_id
                )
            )
            for gegevensdienst, resource_type, resource_id in rows:
                seen.setdefault(gegevensdienst, {}).setdefault(resource_type, set()).add(
                    resource_id
                )
        return {
            gegevensdienst: {kind: len(ids) for kind, ids in sorted(types.items())}
            for gegevensdienst, types in seen.items()
        }

    def sources(self, account_id: str) -> list[StoredSource]:
        with self._db.read() as session:
            return [
                StoredSource(
                    s.zorgaanbieder, s.gegevensdienst, s.retrieved_at, s.flow_id, s.record_count
                )
                for s in session.scalars(
                    select(Source)
                    .where(Source.account_id == account_id)
                    .order_by(Source.zorgaanbieder, Source.gegevensdienst)
                )
            ]

    def keys(self, account_id: str) -> list[RecordKey]:
        """Every record of the account, without its resource (see :class:`RecordKey`)."""
        query = (
            select(
                Record.zorgaanbieder,
                Record.gegevensdienst,
                Record.query_name,
                Record.resource_type,
                Record.resource_id,
            )
            .where(Record.account_id == account_id)
            .order_by(Record.id)
        )
        with self._db.read() as session:
            return [
                RecordKey(row.zorgaanbieder, row.gegevensdienst, row.query_name,
                          row.resource_type, row.resource_id or "")
                for row in session.execute(query)
            ]  # fmt: skip

    def records(
        self,
        account_id: str,
        *,
        gegevensdienst: str | None = None,
        zorgaanbieder: str | None = None,
    ) -> list[StoredRecord]:
        query = select(Record).where(Record.account_id == account_id).order_by(Record.id)
        if gegevensdienst is not None:
            query = query.where(Record.gegevensdienst == gegevensdienst)
        if zorgaanbieder is not None:
            query = query.where(Record.zorgaanbieder == zorgaanbieder)
        with self._db.read() as session:
            return [
                StoredRecord(
                    zorgaanbieder=row.zorgaanbieder,
                    gegevensdienst=row.gegevensdienst,
                    query_name=row.query_name,
                    resource=json.loads(row.resource),
                    retrieved_at=row.retrieved_at,
                    flow_id=row.flow_id,
                )
                for row in session.scalars(query)
            ]
