"""Benchmark: throughput of token exchanges and of a FHIR search, 1 vs 2 workers, 1 vs 2 replicas.

Setup: `medmij up --free-ports` with the embedded default world in a temporary folder, once
per configuration, one after the other on the same machine:

* ``1 worker``: `--workers 1`, one process per role, as before workers existed;
* ``2 workers``: `--workers 2`, the authorisation and resource server each a parent and two
  workers accepting on the parent's sockets (medmij_stack.wiring.workers);
* ``1 replica``, ``2 replicas``: the authorisation server's and resource server's nodes
  each with one or two replicas (`--workers 1` each) behind the DVA's proxy
  (medmij_stack.wiring.proxy), on PostgreSQL when ``--postgres URL`` is given (a fresh
  schema per database), else on the SQLite files the replicas share.

Per configuration: ``--codes`` codes through the DVA screens (landing page, DigiD simulator,
beschikbaarheidstoets, toestemmingsverklaring; not measured), then the PGO's side of
``POST /oauth/token`` with mutual TLS, ``--concurrency`` threads each with a keep-alive
connection of its own; then, with one token, ``GET .../fhir/Immunization`` (gegevensdienst
63 of ziekenhuisdemo) the same way, ``--searches`` requests or ``--seconds`` seconds,
whichever ends first. Throughput is completed requests over wall time; p50/p95/p99 are per
request. The load generator runs on the same machine as every server: on two cores it takes
its share of them.

    .venv/bin/python benchmarks/scale_out.py [--codes 150] [--searches 1500] [--concurrency 8]
    .venv/bin/python benchmarks/scale_out.py --postgres postgresql+psycopg://medmij@127.0.0.1:55439/medmij_test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from running_stack import dienst_when_healthy, start_stack, stop, until_every_worker_serves
from token_exchange import Person, percentile

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.net import make_client
from medmij_stack.wiring.world import load_world

ZORGAANBIEDER = "ziekenhuisdemo@medmij"
STARTUP_LIMIT = 240.0
SETUPS = ("1 worker", "2 workers", "1 replica", "2 replicas")


@dataclass
class Result:
    requests: int
    seconds: float
    timings: list[float]  # ms

    def row(self, configuration: str, what: str) -> str:
        t = self.timings
        return (
            f"| {configuration} | {what} | {self.requests} | {self.requests / self.seconds:.0f} | "
            f"{statistics.median(t):.1f} | {percentile(t, 0.95):.1f} | {percentile(t, 0.99):.1f} |"
        )


def _load(
    work: list[Any],
    request: Callable[[httpx.Client, Any], httpx.Response],
    make: Callable[[], httpx.Client],
    concurrency: int,
    seconds: float,
) -> Result:
    """Run ``request(client, item)`` for every item, ``concurrency`` threads, each with a
    keep-alive client of its own; stop taking items after ``seconds``."""
    lock = threading.Lock()
    items = iter(work)
    timings: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with make() as client:
            while time.monotonic() < deadline:
                with lock:
                    item = next(items, None)
                if item is None:
                    return
                start = time.perf_counter()
                response = request(client, item)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if response.status_code == 200:
                        timings.append(elapsed)
                    else:
                        failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return Result(len(timings), wall, timings)


def _replicated_world(base: Path, replicas: int, postgres: str | None) -> Path:
    world = load_world(None).model_dump(mode="json")
    dva = next(d for d in world["dva"] if not d["external"])
    for offset, node in enumerate(("front", "back", "resource")):
        # Placeholders: --free-ports gives each a free port.
        dva[node]["replicas"] = [60001 + 2 * offset + i for i in range(replicas)]
    if postgres:
        dva["authserver_database"] = _schema(postgres, "authserver")
        dva["zorgaanbieder_database"] = _schema(postgres, "zorgaanbieder")
    path = base / "world.json"
    path.write_text(json.dumps(world), "utf-8")
    return path


_SCHEMAS: list[tuple[str, str]] = []


def _schema(base_url: str, name: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"bench_{name}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    _SCHEMAS.append((base_url, schema))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _drop_schemas() -> None:
    from sqlalchemy import create_engine

    for base_url, schema in _SCHEMAS:
        engine = create_engine(base_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
    _SCHEMAS.clear()


@contextmanager
def _stack(configuration: str, postgres: str | None) -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        base = Path(tmp)
        if "replica" in configuration:
            replicas = int(configuration.split()[0])
            world = _replicated_world(base, replicas, postgres)
            extra = ["--world", str(world), "--workers", "1"]
        else:
            extra = ["--workers", configuration.split()[0]]
        process, info = start_stack(base, *extra, "--timeout", "200", limit=STARTUP_LIMIT)
        try:
            until_every_worker_serves(info, limit=STARTUP_LIMIT)
            yield info
        finally:
            stop(process)
            _drop_schemas()


def run(configuration: str, args: argparse.Namespace) -> list[str]:
    with _stack(configuration, args.postgres) as info:
        ca, hosts = Path(info["ca"]), info["hosts"]
        pgo = info["pgo_client_cert"]
        leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))
        redirect_uri = info["pgo"] + "/medmij/terug"
        bsn = next(
            p["bsn"] for p in info["digid_test_persons"] if ZORGAANBIEDER in p["zorgaanbieders"]
        )
        dienst = dienst_when_healthy(info, ZORGAANBIEDER, "63")
        token_url = dienst.token_endpoint
        resource = dienst.systeemrollen[0].resource_endpoint

        codes: list[str] = []
        with make_client(trust=[ca], hosts=hosts, timeout=30) as browser:
            person = Person(browser)
            for _ in range(args.codes + 1):
                query = urlencode({
                    "response_type": "code", "client_id": pgo["hostname"],
                    "redirect_uri": redirect_uri, "scope": "ziekenhuisdemo", "state": new_id(),
                    "MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id(),
                })  # fmt: skip
                authorize = f"{dienst.authorization_endpoint}?{query}"
                codes.append(person.code(authorize, redirect_uri, bsn, langdurig=False))

        def pgo_client() -> httpx.Client:
            return make_client(trust=[ca], cert=leaf, hosts=hosts, timeout=30)

        def exchange(client: httpx.Client, code: str) -> httpx.Response:
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": pgo["hostname"],
            }
            headers = {"MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id()}
            return client.post(token_url, data=form, headers=headers)

        with pgo_client() as client:
            token = exchange(client, codes.pop()).json()["access_token"]
        exchanges = _load(codes, exchange, pgo_client, args.concurrency, args.seconds)

        def search(client: httpx.Client, _: int) -> httpx.Response:
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": catalogue.get("63").accept,
                "MedMij-Request-ID": new_id(),
                "X-Correlation-ID": new_id(),
            }
            return client.get(f"{resource}/Immunization", headers=headers)

        searches = _load(
            list(range(args.searches)), search, pgo_client, args.concurrency, args.seconds
        )
    return [
        exchanges.row(configuration, "token exchange"),
        searches.row(configuration, "FHIR search (Immunization)"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=150, help="token exchanges per setup")
    parser.add_argument("--searches", type=int, default=1500, help="FHIR searches per setup")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="bound per measurement")
    parser.add_argument("--postgres", help="SQLAlchemy URL: the replicas' databases there")
    parser.add_argument("--only", choices=SETUPS, action="append", help="only these setups")
    args = parser.parse_args()
    configurations = args.only or list(SETUPS)

    rows: list[str] = []
    loads: list[str] = []
    for configuration in configurations:
        rows += run(configuration, args)
        loads.append(f"{configuration}: {os.getloadavg()[0]:.1f}")
    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    replicas_on = "PostgreSQL" if args.postgres else "shared SQLite"
    print(f"replicas on {replicas_on}; concurrency {args.concurrency}, keep-alive per thread")
    print(f"load average (1 min) after each: {'; '.join(loads)}")
    print("| setup | request | requests | per s | p50 ms | p95 ms | p99 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
