"""The resource server's store: load datasets, answer patient-bound searches and reads.

One `Repository` per process, over SQLite (the embedded default, one file) or PostgreSQL
(docs/architecture.md#storage). Every answer is confined to one endpoint's dataset and to
the patient bound to the access token: a search only finds resources in that patient's compartment;
_include and read reach shared resources only when that patient's data references them.

Loading replaces an endpoint's data in one transaction (a search sees the old dataset or
the new, never a mix) and is skipped when the same dataset version is already loaded, so
every process of a resource server may call it at start. `retain` removes the endpoints
the current world no longer serves (a zorgaanbieder left out, the Nictiz material not
given this time), so that the database holds what this run serves and nothing older.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from medmij_stack.runtime.database import WRITE, make_engine, migrate
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey

from . import indexing
from .loading import DatasetError, PreparedDataset, prepare, token_digest
from .search import Include, SearchPlan, SearchResult, StoredResource, TokenFilter
from .tables import (
    NO_SYSTEM,
    EndpointRow,
    PatientRow,
    QualificationTokenRow,
    ResourceRow,
    SearchTokenRow,
    SharedAccessRow,
)

__all__ = ["Repository"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Rows per executemany call while loading: amortises the round trip, bounds the batch.
_BATCH = 2000

_R = ResourceRow
_T = SearchTokenRow
_A = SharedAccessRow


class _Match(NamedTuple):
    pk: int
    position: int
    resource_type: str
    fhir_id: str
    content: str
    lastn_code: str | None
    effective: str | None


def _stored(resource_type: str, fhir_id: str, content: str) -> StoredResource:
    return StoredResource(resource_type, fhir_id, json.loads(content))


def _token_condition(token_filter: TokenFilter) -> ColumnElement[bool]:
    alternatives: list[ColumnElement[bool]] = []
    for alternative in token_filter.alternatives:
        parts: list[ColumnElement[bool]] = []
        if alternative.code is not None:
            parts.append(_T.code == alternative.code)
        if alternative.system is not None:
            parts.append(_T.system == (alternative.system or NO_SYSTEM))
        alternatives.append(and_(*parts))
    return exists().where(
        _T.resource_pk == _R.pk, _T.param == token_filter.param, or_(*alternatives)
    )


def _latest(rows: Sequence[_Match], per_code: int) -> list[_Match]:
    """$lastn: per code, the `per_code` latest by effective time (undated last; on equal
    times the earlier in the dataset), returned in dataset order."""
    groups: dict[str, list[_Match]] = defaultdict(list)
    for row in rows:
        groups[row.lastn_code or ""].append(row)
    chosen: list[_Match] = []
    for members in groups.values():
        members.sort(key=lambda r: (r.effective is not None, r.effective or "", -r.position))
        chosen.extend(members[-per_code:])
    return sorted(chosen, key=lambda r: r.position)


class Repository:
    """The store of one resource server process. Thread-safe; call `close` at shutdown."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._is_postgres = engine.dialect.name == "postgresql"

    @classmethod
    def create(cls, url: str) -> Repository:
        """Open the database at `url` (`sqlite:///path.db`, `postgresql+psycopg://…`) and
        bring its schema to the newest revision. `sqlite://` is an in-memory database on
        one shared connection: for single-threaded tests only."""
        # Each search reads one snapshot; loads use READ COMMITTED (see `load`). A 64 MiB
        # SQLite page cache keeps big loads and hot indexes in memory.
        engine = make_engine(url, postgres_isolation="REPEATABLE READ", sqlite_cache_mib=64)
        migrate(engine, _MIGRATIONS)
        return cls(engine)

    def close(self) -> None:
        self._engine.dispose()

    # -- loading ---------------------------------------------------------------------

    def load(self, dataset: Dataset) -> bool:
        """Replace the endpoint's data with this dataset, atomically. False (and nothing
        written) when this dataset version is already loaded. Raises DatasetError (a
        ValueError) for a dataset that cannot be served safely."""
        if self._loaded_version(dataset.endpoint) == dataset.version:
            return False
        prepared = prepare(dataset)
        try:
            return self._write(dataset, prepared)
        except IntegrityError:
            # Another process created the endpoint row at the same moment: its row now
            # exists and is locked properly on the second try.
            return self._write(dataset, prepared)

    def retain(self, endpoints: Collection[EndpointKey]) -> tuple[EndpointKey, ...]:
        """Remove, in one transaction, all data of every endpoint not in ``endpoints``:
        resources, search index, patients, qualification tokens and the record of what
        was loaded. Returns the endpoints removed, sorted."""
        keep = set(endpoints)
        with self._writing() as connection:
            rows = connection.execute(
                select(EndpointRow.id, EndpointRow.zorgaanbieder, EndpointRow.gegevensdienst)
            ).all()
            gone = sorted(
                (EndpointKey(row.zorgaanbieder, row.gegevensdienst), int(row.id))
                for row in rows
                if EndpointKey(row.zorgaanbieder, row.gegevensdienst) not in keep
            )
            removed: list[EndpointKey] = []
            for key, endpoint_id in gone:
                # Only the rows removed are locked: a process loading a kept endpoint at
                # the same moment goes on undisturbed.
                locked = connection.execute(
                    select(EndpointRow.id).where(EndpointRow.id == endpoint_id).with_for_update()
                ).one_or_none()
                if locked is None:  # another process removed it meanwhile
                    continue
                self._clear(connection, endpoint_id)
                connection.execute(delete(EndpointRow).where(EndpointRow.id == endpoint_id))
                removed.append(key)
        return tuple(removed)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A connection in a write transaction: on SQLite it holds the write lock from the
        start; on PostgreSQL each statement sees what other writers committed."""
        options: dict[str, Any] = dict(WRITE)
        if self._is_postgres:
            options["isolation_level"] = "READ COMMITTED"
        with self._engine.connect().execution_options(**options) as connection, connection.begin():
            yield connection

    def _loaded_version(self, endpoint: EndpointKey) -> str | None:
        with self._engine.connect() as connection:
            return connection.execute(
                select(EndpointRow.dataset_version).where(
                    EndpointRow.zorgaanbieder == endpoint.zorgaanbieder,
                    EndpointRow.gegevensdienst == endpoint.gegevensdienst,
                )
            ).scalar_one_or_none()

    def _write(self, dataset: Dataset, prepared: PreparedDataset) -> bool:
        with self._writing() as connection:
            endpoint_id = self._lock_endpoint(connection, dataset)
            if endpoint_id is None:
                return False
            self._check_tokens(connection, endpoint_id, prepared)
            self._clear(connection, endpoint_id)
            self._insert(connection, endpoint_id, prepared)
        return True

    def _lock_endpoint(self, connection: Connection, dataset: Dataset) -> int | None:
        """The endpoint's id, its row locked and brought up to date; None when this
        version is already there (another process loaded it meanwhile)."""
        key = dataset.endpoint
        row = connection.execute(
            select(EndpointRow.id, EndpointRow.dataset_version)
            .where(
                EndpointRow.zorgaanbieder == key.zorgaanbieder,
                EndpointRow.gegevensdienst == key.gegevensdienst,
            )
            .with_for_update()
        ).one_or_none()
        values = {
            "fhir_version": dataset.fhir_version,
            "dataset_version": dataset.version,
            "source": dataset.source,
            "loaded_at": datetime.now(UTC),
        }
        if row is None:
            return connection.execute(
                insert(EndpointRow)
                .values(
                    zorgaanbieder=key.zorgaanbieder, gegevensdienst=key.gegevensdienst, **values
                )
                .returning(EndpointRow.id)
            ).scalar_one()
        if row.dataset_version == dataset.version:
            return None
        connection.execute(update(EndpointRow).where(EndpointRow.id == row.id).values(**values))
        return int(row.id)

    def _check_tokens(
        self, connection: Connection, endpoint_id: int, prepared: PreparedDataset
    ) -> None:
        digests = [digest for digest, _ in prepared.tokens]
        if not digests:
            return
        clash = connection.execute(
            select(EndpointRow.zorgaanbieder, EndpointRow.gegevensdienst)
            .join(QualificationTokenRow, QualificationTokenRow.endpoint_id == EndpointRow.id)
            .where(
                QualificationTokenRow.token_sha256.in_(digests),
                QualificationTokenRow.endpoint_id != endpoint_id,
            )
            .limit(1)
        ).one_or_none()
        if clash is not None:
            raise DatasetError(
                "a qualification token of this dataset is already bound to a patient of "
                f"{clash.zorgaanbieder} gegevensdienst {clash.gegevensdienst}"
            )

    @staticmethod
    def _clear(connection: Connection, endpoint_id: int) -> None:
        own = select(_R.pk).where(_R.endpoint_id == endpoint_id).scalar_subquery()
        connection.execute(delete(_T).where(_T.resource_pk.in_(own)))
        for table in (SharedAccessRow, PatientRow, QualificationTokenRow):
            connection.execute(delete(table).where(table.endpoint_id == endpoint_id))
        connection.execute(delete(_R).where(_R.endpoint_id == endpoint_id))

    @staticmethod
    def _new_pks(connection: Connection, count: int) -> list[int]:
        """Primary keys for `count` new resources, taken before inserting them so that the
        token and access rows can be written in bulk beside them."""
        if connection.dialect.name == "postgresql":
            return list(
                connection.execute(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('resource', 'pk')) "
                        "FROM generate_series(1, :count)"
                    ),
                    {"count": count},
                ).scalars()
            )
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so no other
        # writer can take the numbers after the current largest.
        largest = connection.execute(select(func.coalesce(func.max(_R.pk), 0))).scalar_one()
        return list(range(largest + 1, largest + 1 + count))

    @staticmethod
    def _bulk(
        connection: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> None:
        """INSERT through the driver's executemany: the rows are plain values already, and
        SQLAlchemy's per-row parameter handling would cost more than the database does."""
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names are constants
            f"VALUES ({', '.join(marker for _ in columns)})"
        )
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _BATCH:
                connection.exec_driver_sql(sql, batch)
                batch = []
        if batch:
            connection.exec_driver_sql(sql, batch)

    @classmethod
    def _insert(cls, connection: Connection, endpoint_id: int, prepared: PreparedDataset) -> None:
        resources = prepared.resources
        pks = cls._new_pks(connection, len(resources))
        cls._bulk(
            connection,
            "resource",
            (
                "pk",
                "endpoint_id",
                "position",
                "resource_type",
                "fhir_id",
                "patient_key",
                "lastn_code",
                "effective",
                "content",
            ),
            (
                (
                    pk,
                    endpoint_id,
                    r.position,
                    r.resource_type,
                    r.fhir_id,
                    r.patient_key,
                    r.lastn_code,
                    r.effective,
                    r.content,
                )
                for pk, r in zip(pks, resources, strict=True)
            ),
        )
        cls._bulk(
            connection,
            "search_token",
            ("resource_pk", "param", "system", "code"),
            (
                (pks[r.position], param, system, code)
                for r in resources
                for param, system, code in sorted(r.tokens)
            ),
        )
        cls._bulk(
            connection,
            "shared_access",
            ("endpoint_id", "patient_key", "resource_pk"),
            (
                (endpoint_id, patient_key, pks[position])
                for patient_key, positions in prepared.shared_access.items()
                for position in sorted(positions)
            ),
        )
        cls._bulk(
            connection,
            "patient",
            ("endpoint_id", "patient_id", "bsn", "has_data"),
            ((endpoint_id, pid, bsn, has_data) for pid, bsn, has_data in prepared.patients),
        )
        cls._bulk(
            connection,
            "qualification_token",
            ("token_sha256", "endpoint_id", "patient_id"),
            ((digest, endpoint_id, pid) for digest, pid in prepared.tokens),
        )

    # -- answering -------------------------------------------------------------------

    @staticmethod
    def _endpoint_id(connection: Connection, endpoint: EndpointKey) -> int | None:
        return connection.execute(
            select(EndpointRow.id).where(
                EndpointRow.zorgaanbieder == endpoint.zorgaanbieder,
                EndpointRow.gegevensdienst == endpoint.gegevensdienst,
            )
        ).scalar_one_or_none()

    def search(self, endpoint: EndpointKey, patient_id: str, plan: SearchPlan) -> SearchResult:
        """The patient's resources that match the plan, plus what its _includes reach. The
        plan is checked already (`search.plan_search`); an endpoint without a dataset has
        nothing to find."""
        with self._engine.connect() as connection:
            endpoint_id = self._endpoint_id(connection, endpoint)
            if endpoint_id is None:
                return SearchResult((), ())
            rows = self._matches(connection, endpoint_id, patient_id, plan)
            matches = tuple(_stored(r.resource_type, r.fhir_id, r.content) for r in rows)
            includes = self._includes(
                connection,
                endpoint_id,
                patient_id,
                plan.includes,
                matches,
                {row.pk for row in rows},
            )
        return SearchResult(matches, includes)

    @staticmethod
    def _matches(
        connection: Connection, endpoint_id: int, patient_id: str, plan: SearchPlan
    ) -> list[_Match]:
        statement = (
            select(
                _R.pk,
                _R.position,
                _R.resource_type,
                _R.fhir_id,
                _R.content,
                _R.lastn_code,
                _R.effective,
            )
            .where(
                _R.endpoint_id == endpoint_id,
                _R.patient_key == patient_id,
                _R.resource_type == plan.resource_type,
                *(_token_condition(f) for f in plan.filters),
            )
            .order_by(_R.position)
        )
        rows = [_Match(*row) for row in connection.execute(statement)]
        if plan.lastn_max is not None:
            rows = _latest(rows, plan.lastn_max)
        return rows

    @staticmethod
    def _includes(
        connection: Connection,
        endpoint_id: int,
        patient_id: str,
        includes: Sequence[Include],
        matches: Sequence[StoredResource],
        match_pks: set[int],
    ) -> tuple[StoredResource, ...]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for include in includes:
            for match in matches:
                for target_type, target_id in indexing.references_at(
                    match.content, include.spec.path, include.target_type
                ):
                    if target_type in include.spec.targets:
                        wanted[target_type].add(target_id)
        if not wanted:
            return ()
        statement = (
            select(_R.pk, _R.resource_type, _R.fhir_id, _R.content)
            .where(
                _R.endpoint_id == endpoint_id,
                or_(
                    *(
                        and_(_R.resource_type == t, _R.fhir_id.in_(sorted(ids)))
                        for t, ids in sorted(wanted.items())
                    )
                ),
                # Referenced from this patient's own match, so a shared target is theirs
                # to see; another patient's resource never is.
                or_(_R.patient_key == patient_id, _R.patient_key.is_(None)),
            )
            .order_by(_R.position)
        )
        return tuple(
            _stored(resource_type, fhir_id, content)
            for pk, resource_type, fhir_id, content in connection.execute(statement)
            if pk not in match_pks
        )

    def read(
        self, endpoint: EndpointKey, patient_id: str, resource_type: str, resource_id: str
    ) -> StoredResource | None:
        """One resource, if this patient may see it: their own, or a shared resource
        their data references. None otherwise, and for anything that does not exist."""
        with self._engine.connect() as connection:
            endpoint_id = self._endpoint_id(connection, endpoint)
            if endpoint_id is None:
                return None
            shared_and_referenced = and_(
                _R.patient_key.is_(None),
                exists().where(
                    _A.endpoint_id == endpoint_id,
                    _A.patient_key == patient_id,
                    _A.resource_pk == _R.pk,
                ),
            )
            row = connection.execute(
                select(_R.resource_type, _R.fhir_id, _R.content).where(
                    _R.endpoint_id == endpoint_id,
                    _R.resource_type == resource_type,
                    _R.fhir_id == resource_id,
                    or_(_R.patient_key == patient_id, shared_and_referenced),
                )
            ).one_or_none()
        return None if row is None else _stored(*row)

    # -- who is who ------------------------------------------------------------------

    def patient_for_bsn(self, endpoint: EndpointKey, bsn: str) -> str | None:
        """The Patient id of the person with this BSN in the endpoint's dataset."""
        with self._engine.connect() as connection:
            return connection.execute(
                select(PatientRow.patient_id)
                .join(EndpointRow, EndpointRow.id == PatientRow.endpoint_id)
                .where(
                    EndpointRow.zorgaanbieder == endpoint.zorgaanbieder,
                    EndpointRow.gegevensdienst == endpoint.gegevensdienst,
                    PatientRow.bsn == bsn,
                )
            ).scalar_one_or_none()

    def available(
        self, zorgaanbieder: str, bsn: str, gegevensdiensten: Sequence[str]
    ) -> tuple[str, ...]:
        """Beschikbaarheidstoets: which of these gegevensdiensten hold data for this person
        at this zorgaanbieder (more than their Patient alone), in the order asked."""
        if not gegevensdiensten:
            return ()
        with self._engine.connect() as connection:
            having = set(
                connection.execute(
                    select(EndpointRow.gegevensdienst)
                    .join(PatientRow, PatientRow.endpoint_id == EndpointRow.id)
                    .where(
                        EndpointRow.zorgaanbieder == zorgaanbieder,
                        EndpointRow.gegevensdienst.in_(sorted(set(gegevensdiensten))),
                        PatientRow.bsn == bsn,
                        PatientRow.has_data.is_(True),
                    )
                ).scalars()
            )
        return tuple(dict.fromkeys(g for g in gegevensdiensten if g in having))

    def token_patient(self, token: str) -> tuple[EndpointKey, str] | None:
        """The endpoint and patient a qualification token is bound to, if it is one."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    EndpointRow.zorgaanbieder,
                    EndpointRow.gegevensdienst,
                    QualificationTokenRow.patient_id,
                )
                .join(EndpointRow, EndpointRow.id == QualificationTokenRow.endpoint_id)
                .where(QualificationTokenRow.token_sha256 == token_digest(token))
            ).one_or_none()
        if row is None:
            return None
        return EndpointKey(row.zorgaanbieder, row.gegevensdienst), row.patient_id

    def endpoints(self) -> tuple[EndpointKey, ...]:
        """Every endpoint with a dataset loaded, sorted."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(EndpointRow.zorgaanbieder, EndpointRow.gegevensdienst))
            return tuple(sorted(EndpointKey(z, g) for z, g in rows))
