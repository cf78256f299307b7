"""Benchmark: the store's BgZ search time as the number of patients grows.

docs/architecture.md#performance-budgets asks for "resource-server search cost flat (not
growing) from 1,000 to 100,000 patients" and "one FHIR search of a typical patient: ≤ 10 ms
server time (p50)". This measures the store alone (no HTTP, no TLS): `Repository.search` as
the HTTP layer calls it, running the plans of the 28 BgZ queries of the qualification script
(`medmij_stack.protocol.catalogue`), each planned once beforehand (`store.plan_search`) as the
HTTP layer plans a request before it asks the store.

Dataset: the Nictiz BgZ Cert patient XXX_Helleman (docs/qualification.md#fixtures), cloned N
times with new ids (every reference between their own resources rewritten; the shared
Organizations, Practitioners and Medications referenced by all), narrative (`text`)
removed. `--record core` (the default) clones 13 of the record's 41 resources (Patient,
2 Coverage, 6 Condition, 3 Observation, 1 Specimen), so that 100,000 patients load in
about two minutes; `--record full` clones all 41, and each clone then answers every
query exactly as the original does in qualification.

Method: per size, one fresh database; `Repository.load` of the whole dataset (timed);
a warm-up; then for `--patients` random patients all 28 queries in catalogue order
(those for types the record lacks find nothing, as they would for such a patient), each
search timed with perf_counter. Reported: median, p95 and p99 per search, the median of
the 28 searches of one patient together, and the resources the 28 found per patient (the
same at every size, or the numbers would not compare).

    .venv/bin/python benchmarks/store_search.py                 # 1,000 / 10,000 / 100,000
    .venv/bin/python benchmarks/store_search.py --record full --sizes 1000,10000
    .venv/bin/python benchmarks/store_search.py --sizes 1000 --url postgresql+psycopg://…

Needs the Nictiz material (`../shared/data` or MEDMIJ_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fhir.resources import STU3
from lxml import etree
from sqlalchemy import create_engine, text

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirFormat, FhirVersion
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey, PatientRecord
from medmij_stack.zorgaanbieder.store import Repository, SearchPlan, plan_search
from medmij_stack.zorgaanbieder.store.compartment import owner

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = "nictiz-testscripts/output/STU3/BgZ-3-0/MedMij/Cert/_reference/resources"
TEMPLATE_PATIENT = "medmij-bgz-patient-ts-01"
ENDPOINT = EndpointKey("benchmark@medmij", "48")
SEED = 48
CORE_RECORD = frozenset(
    {
        "medmij-bgz-patient-ts-01",
        "medmij-bgz-coverage-ts-01",
        "medmij-bgz-coverage-ts-02",
        *(f"medmij-bgz-condition-ts-0{n}" for n in range(1, 7)),
        "medmij-bgz-labresult-ts-01",
        "medmij-bgz-bodyweight-ts-01",
        "medmij-bgz-bloodpressure-ts-01",
        "medmij-bgz-specimen-ts-01",
    }
)


def read_fixtures(shared: Path) -> list[dict[str, Any]]:
    """The BgZ Cert fixtures as FHIR JSON (they hold no date placeholders)."""
    resources = []
    for path in sorted((shared / FIXTURES).glob("*.xml")):
        data = path.read_bytes()
        resource_type = etree.QName(etree.fromstring(data)).localname
        model = STU3.get_fhir_model_class(resource_type).model_validate_xml(data)
        content = model.model_dump(mode="json", exclude_none=True)
        content.pop("text", None)
        resources.append(content)
    return resources


def _rewrite(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, mapping) for k, v in value.items()}
        reference = value.get("reference")
        if isinstance(reference, str) and reference in mapping:
            out["reference"] = mapping[reference]
        return out
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def _mentions(value: Any, references: set[str]) -> bool:
    if isinstance(value, dict):
        if value.get("reference") in references:
            return True
        return any(_mentions(v, references) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, references) for v in value)
    return False


def dataset(fixtures: list[dict[str, Any]], patients: int, full: bool) -> Dataset:
    """N clones of the template patient's record plus the shared resources, once.

    A clone is a shallow copy: only the id and the members holding a reference to the
    patient's own resources are new objects, so 100,000 patients fit in memory.
    """
    own = [
        r
        for r in fixtures
        if owner(FhirVersion.STU3, r) == TEMPLATE_PATIENT and (full or r["id"] in CORE_RECORD)
    ]
    own_refs = {f"{r['resourceType']}/{r['id']}" for r in own}
    shared = [r for r in fixtures if owner(FhirVersion.STU3, r) is None]
    # Per template resource: the top-level members that point at the patient's resources.
    rewritten = [[k for k, v in r.items() if _mentions(v, own_refs)] for r in own]
    resources: list[dict[str, Any]] = list(shared)
    records = []
    for n in range(patients):
        suffix = f"-p{n}"
        mapping = {ref: ref + suffix for ref in own_refs}
        for template, members in zip(own, rewritten, strict=True):
            clone = dict(template)
            clone["id"] = template["id"] + suffix
            for member in members:
                clone[member] = _rewrite(template[member], mapping)
            resources.append(clone)
        records.append(PatientRecord(TEMPLATE_PATIENT + suffix))
    return Dataset(
        endpoint=ENDPOINT,
        fhir_version=FhirVersion.STU3,
        resources=tuple(resources),
        patients=tuple(records),
        source=f"benchmark:helleman x {patients}",
        version=f"{patients}",
    )


def requests() -> list[tuple[str, SearchPlan]]:
    """The 28 BgZ searches, planned once as the HTTP layer plans them: what is timed is the
    store running each plan."""
    return [
        (
            q.name,
            plan_search(
                FhirVersion.STU3,
                q.resource_type,
                q.params,
                lastn=q.resource_path.endswith("/$lastn"),
                fmt=FhirFormat.JSON,
                lenient=False,
            ),
        )
        for q in catalogue.get("48").queries
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _database(url: str | None, workdir: Path, size: int) -> Iterator[str]:
    if url is None:
        path = workdir / f"store-{size}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = f"bench_{size}_{os.getpid()}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def run(size: int, fixtures: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    data = dataset(fixtures, size, args.record == "full")
    built = time.perf_counter() - started
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        for url in _database(args.url, Path(workdir), size):
            repository = Repository.create(url)
            try:
                started = time.perf_counter()
                repository.load(data)
                loaded = time.perf_counter() - started
                resources = len(data.resources)
                del data
                gc.collect()
                rng = random.Random(SEED)  # noqa: S311 - picks patients, no secret
                queries = requests()
                per_search: list[float] = []
                per_patient: list[float] = []
                found: set[int] = set()
                for n in range(args.warmup):
                    patient = f"{TEMPLATE_PATIENT}-p{rng.randrange(size)}"
                    repository.search(ENDPOINT, patient, queries[n % len(queries)][1])
                for _ in range(args.patients):
                    patient = f"{TEMPLATE_PATIENT}-p{rng.randrange(size)}"
                    total = 0.0
                    resources_found = 0
                    for _, request in queries:
                        t0 = time.perf_counter()
                        result = repository.search(ENDPOINT, patient, request)
                        elapsed = time.perf_counter() - t0
                        per_search.append(elapsed)
                        total += elapsed
                        resources_found += len(result.matches) + len(result.includes)
                    per_patient.append(total)
                    found.add(resources_found)
                if args.url is None:
                    size_mb = (Path(workdir) / f"store-{size}.db").stat().st_size / 1e6
                else:
                    engine = create_engine(url)
                    with engine.connect() as connection:
                        size_mb = (
                            connection.execute(
                                text("SELECT pg_database_size(current_database())")
                            ).scalar_one()
                            / 1e6
                        )
                    engine.dispose()
            finally:
                repository.close()
    ms = 1000.0
    return {
        "patients": size,
        "resources": resources,
        "build_s": built,
        "load_s": loaded,
        "db_mb": size_mb,
        "searches": len(per_search),
        "p50": statistics.median(per_search) * ms,
        "p95": percentile(per_search, 0.95) * ms,
        "p99": percentile(per_search, 0.99) * ms,
        "bgz28_p50": statistics.median(per_patient) * ms,
        "found": ", ".join(str(n) for n in sorted(found)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--url", help="a PostgreSQL URL (default: a SQLite file per size)")
    parser.add_argument("--record", choices=("core", "full"), default="core")
    parser.add_argument("--patients", type=int, default=200, help="patients measured per size")
    parser.add_argument("--warmup", type=int, default=500, help="searches before measuring")
    parser.add_argument("--workdir", default=None, help="where the SQLite files go")
    parser.add_argument(
        "--shared-data",
        default=os.environ.get("MEDMIJ_SHARED_DATA", str(PROJECT.parent / "shared" / "data")),
    )
    args = parser.parse_args()
    shared = Path(args.shared_data)
    if not (shared / FIXTURES).is_dir():
        print(f"Nictiz fixtures not found under {shared}", file=sys.stderr)
        return 2
    fixtures = read_fixtures(shared)
    backend = "SQLite" if args.url is None else "PostgreSQL"
    print(
        f"# store_search: {backend}, record {args.record}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        "| patients | resources | load (s) | DB (MB) | searches | p50 (ms) | p95 (ms) "
        "| p99 (ms) | 28 searches of a patient, p50 (ms) | found per patient |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in (int(s) for s in re.split(r"[ ,]+", args.sizes.strip()) if s):
        r = run(size, fixtures, args)
        print(
            f"| {r['patients']:,} | {r['resources']:,} | {r['load_s']:.1f} | {r['db_mb']:.0f} "
            f"| {r['searches']:,} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
            f"| {r['bgz28_p50']:.1f} | {r['found']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
