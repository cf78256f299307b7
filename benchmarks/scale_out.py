"""Benchmark: does throughput grow with workers and replicas? Token exchanges and a FHIR search,
1 vs 2 workers, 1 vs 2 replicas, measured in alternating rounds with the servers' CPU beside it.

Setups, each one `medmij up --free-ports` of the embedded default world in a temporary
folder, all running at once (an idle stack costs next to nothing):

* ``1 worker``: `--workers 1`, one process per role, as before workers existed;
* ``2 workers``: `--workers 2`, the authorisation and resource server each a parent and two
  workers accepting on the parent's sockets (medmij_stack.wiring.workers);
* ``1 replica``, ``2 replicas``: the authorisation server's and resource server's nodes
  each with one or two replicas (`--workers 1` each) behind the DVA's proxy
  (medmij_stack.wiring.proxy), on PostgreSQL when ``--postgres URL`` is given (a fresh
  schema per database), else on the SQLite files the replicas share.

A round measures every setup once, one after the other, in an order that turns each round
(so no setup is always first or last); ``--rounds`` rounds. The machine's load changes while
it runs (other work shares it), so the setups of one round are compared with each other and
the headline ratios (2 replicas / 1 replica, 2 workers / 1 worker) are the median of the
per-round ratios, with their range. A setup's turn: ``--codes`` codes through the DVA screens
(landing page, DigiD simulator, beschikbaarheidstoets, toestemmingsverklaring; not measured),
then the PGO's side of ``POST /oauth/token`` with mutual TLS, ``--concurrency`` threads each
with a keep-alive connection of its own; then, with one more token, ``GET
.../fhir/Immunization`` (gegevensdienst 63 of ziekenhuisdemo) the same way, ``--searches``
requests or ``--seconds`` seconds, whichever ends first.

Beside each rate, what explains it: the CPU time (user + system, psutil) that the setup's
processes spent per request (the role that answers, the proxy, the whole stack, and this
load generator), how busy each process of the role was (CPU seconds over wall seconds:
100% is one core), and how busy the whole machine was (/proc/stat, 100% is every core). A
second process can only raise throughput while a core is idle: when the single process of
the 1-worker or 1-replica setup is near 100% and the machine is not, the role is the
bottleneck and a second process should help; when the machine is near 100%, it cannot.

    .venv/bin/python benchmarks/scale_out.py [--rounds 3] [--codes 50] [--searches 500] \\
        [--concurrency 8] [--postgres URL] [--only "1 replica" --only "2 replicas"] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import psutil
from machine import machine_jiffies
from node_load import NODE, run_node_load
from running_stack import dienst_when_healthy, start_stack, stop, until_every_worker_serves
from token_exchange import Person, percentile

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.net import make_client
from medmij_stack.wiring.world import load_world

ZORGAANBIEDER = "ziekenhuisdemo@medmij"
STARTUP_LIMIT = 600.0  # four stacks start one after the other; a loaded machine is slow
SETUPS = ("1 worker", "2 workers", "1 replica", "2 replicas")
AUTOCANNON = "FHIR search (Immunization), autocannon"
KINDS = {
    "token exchange": "authserver",
    "FHIR search (Immunization)": "zorgaanbieder",
    AUTOCANNON: "zorgaanbieder",
}
PAIRS = (("2 workers", "1 worker"), ("2 replicas", "1 replica"))
SATURATED = 0.95  # machine busy share from which no core counts as idle


# --- where the CPU went ----------------------------------------------------------------------


def _serve_label(command: list[str]) -> str | None:
    """``authserver``, ``authserver#1`` (replica 1), ``proxy``, … for a `medmij serve`."""
    if "serve" not in command:
        return None
    role = command[command.index("serve") + 1]
    if "--replica" in command:
        return f"{role}#{command[command.index('--replica') + 1]}"
    return role


def stack_processes(stack_pid: int) -> dict[psutil.Process, str]:
    """Every process `medmij up` runs, by what it is: a role's parent is labelled like
    ``authserver``, its forked workers ``authserver w0``, ``authserver w1`` (by pid)."""
    labelled: dict[psutil.Process, str] = {}
    for process in psutil.Process(stack_pid).children(recursive=True):
        try:
            label = _serve_label(process.cmdline())
        except psutil.Error:
            continue
        if label is not None:
            labelled[process] = label
    workers: dict[str, list[psutil.Process]] = {}
    for process, label in labelled.items():
        parent = process.parent()
        if parent is not None and labelled.get(parent) == label:
            workers.setdefault(label, []).append(process)
    for label, forked in workers.items():
        for index, process in enumerate(sorted(forked, key=lambda p: p.pid)):
            labelled[process] = f"{label} w{index}"
    return labelled


def cpu_seconds(processes: dict[psutil.Process, str]) -> dict[str, float]:
    """User + system CPU seconds so far, by label."""
    spent: dict[str, float] = {}
    for process, label in processes.items():
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        spent[label] = spent.get(label, 0.0) + times.user + times.system
    return spent


# --- one measurement -------------------------------------------------------------------------


@dataclass
class Sample:
    """One measurement: a request kind on one setup in one round."""

    setup: str
    kind: str
    round: int
    requests: int
    seconds: float
    timings: list[float]  # ms
    cpu: dict[str, float]  # CPU seconds during the measurement, by process label
    client_cpu: float  # this load generator's CPU seconds
    machine_busy: float  # share of all cores' time busy, 0..1
    load: float  # 1-minute load average at the end
    latency: tuple[float, float] | None = None  # (p50, p95) ms, where the client gave no timings

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def role_cpu(self) -> float:
        role = KINDS[self.kind]
        return sum(v for label, v in self.cpu.items() if label.split("#")[0].split()[0] == role)


def _load(
    work: list[Any],
    request: Callable[[httpx.Client, Any], httpx.Response],
    make: Callable[[], httpx.Client],
    concurrency: int,
    seconds: float,
) -> tuple[int, float, list[float]]:
    """Run ``request(client, item)`` for every item, ``concurrency`` threads, each with a
    keep-alive client of its own; stop taking items after ``seconds``. (requests, wall s, ms)"""
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
    return len(timings), wall, timings


def measured(
    setup: str,
    kind: str,
    round_: int,
    stack_pid: int,
    load: Callable[[], tuple[int, float, list[float] | tuple[float, float]]],
) -> Sample:
    """``load()``, with the CPU the stack, this process and the machine spent meanwhile."""
    processes = stack_processes(stack_pid)
    cpu_before, client_before = cpu_seconds(processes), _client_cpu()
    busy_before, total_before = machine_jiffies()
    requests, seconds, timings = load()
    busy_after, total_after = machine_jiffies()
    cpu_after, client_after = cpu_seconds(processes), _client_cpu()
    if isinstance(timings, tuple):  # the client's own (p50, p95), no timing per request
        latency: tuple[float, float] | None = timings
        timings = []
    else:
        latency = None
    return Sample(
        setup=setup,
        kind=kind,
        round=round_,
        requests=requests,
        seconds=seconds,
        timings=timings,
        cpu={label: cpu_after[label] - cpu_before.get(label, 0.0) for label in cpu_after},
        client_cpu=client_after - client_before,
        machine_busy=(busy_after - busy_before) / max(total_after - total_before, 1e-9),
        load=os.getloadavg()[0],
        latency=latency,
    )


def _client_cpu() -> float:
    """This load generator's CPU seconds so far, with its ended child processes' (node)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _autocannon(
    setup: Setup, token: str, connections: int, seconds: float
) -> tuple[int, float, tuple[float, float]]:
    """FHIR searches by autocannon (node, `benchmarks/node/load.js`) for ``seconds``: a
    load generator that costs a fraction of the Python one per request, so that it is not
    what bounds the rate. (answers, seconds, its own (p50, p95) in ms)"""
    parts = urlsplit(f"{setup.resource}/Immunization")
    host, port = parts.hostname or "", parts.port or 443
    settings = {
        "url": f"https://{setup.hosts.get(host, host)}:{port}{parts.path}",
        "servername": host,
        "connections": connections,
        "seconds": seconds,
        "cert": str(setup.leaf.cert),
        "key": str(setup.leaf.key),
        "ca": str(setup.ca),
        "headers": {
            "Host": f"{host}:{port}",
            "Authorization": f"Bearer {token}",
            "Accept": catalogue.get("63").accept,
            "X-Correlation-ID": new_id(),
        },
    }
    result = run_node_load("load.js", settings, seconds + 60)
    if result["non2xx"] or result["errors"] or result["timeouts"] or not result["ok"]:
        raise RuntimeError(f"{setup.name}: not every search answered 200: {result}")
    return int(result["ok"]), float(result["seconds"]), (result["p50"], result["p95"])


# --- the setups ------------------------------------------------------------------------------


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


class Setup:
    """One running stack and what the PGO's side needs to ask it."""

    def __init__(self, name: str, pid: int, info: dict[str, Any]) -> None:
        self.name = name
        self.pid = pid
        self.ca, self.hosts = Path(info["ca"]), info["hosts"]
        pgo = info["pgo_client_cert"]
        self.client_id = pgo["hostname"]
        self.leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))
        self.redirect_uri = info["pgo"] + "/medmij/terug"
        self.bsn = next(
            p["bsn"] for p in info["digid_test_persons"] if ZORGAANBIEDER in p["zorgaanbieders"]
        )
        dienst = dienst_when_healthy(info, ZORGAANBIEDER, "63")
        assert dienst.authorization_endpoint is not None
        assert dienst.token_endpoint is not None
        self.authorization_endpoint = dienst.authorization_endpoint
        self.token_url = dienst.token_endpoint
        self.resource = dienst.systeemrollen[0].resource_endpoint

    def codes(self, count: int) -> list[str]:
        """``count`` codes, each through the DVA's screens as a person (not measured)."""
        result: list[str] = []
        with make_client(trust=[self.ca], hosts=self.hosts, timeout=30) as browser:
            person = Person(browser)
            for _ in range(count):
                query = urlencode({
                    "response_type": "code", "client_id": self.client_id,
                    "redirect_uri": self.redirect_uri, "scope": "ziekenhuisdemo",
                    "state": new_id(), "MedMij-Request-ID": new_id(),
                    "X-Correlation-ID": new_id(),
                })  # fmt: skip
                authorize = f"{self.authorization_endpoint}?{query}"
                result.append(person.code(authorize, self.redirect_uri, self.bsn, langdurig=False))
        return result

    def client(self) -> httpx.Client:
        return make_client(trust=[self.ca], cert=self.leaf, hosts=self.hosts, timeout=30)

    def exchange(self, client: httpx.Client, code: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
        }
        headers = {"MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id()}
        return client.post(self.token_url, data=form, headers=headers)

    def search(self, token: str) -> Callable[[httpx.Client, int], httpx.Response]:
        def search(client: httpx.Client, _: int) -> httpx.Response:
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": catalogue.get("63").accept,
                "MedMij-Request-ID": new_id(),
                "X-Correlation-ID": new_id(),
            }
            return client.get(f"{self.resource}/Immunization", headers=headers)

        return search


@contextmanager
def running(name: str, postgres: str | None) -> Iterator[Setup]:
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        base = Path(tmp)
        if "replica" in name:
            world = _replicated_world(base, int(name.split()[0]), postgres)
            extra = ["--world", str(world), "--workers", "1"]
        else:
            extra = ["--workers", name.split()[0]]
        process, info = start_stack(base, *extra, "--timeout", "560", limit=STARTUP_LIMIT)
        try:
            until_every_worker_serves(info, limit=STARTUP_LIMIT)
            yield Setup(name, process.pid, info)
        finally:
            stop(process)


def turn(setup: Setup, round_: int, args: argparse.Namespace) -> list[Sample]:
    """One setup's measurements in one round: token exchanges, then searches."""
    codes = setup.codes(args.codes + 1)
    with setup.client() as client:
        answer = setup.exchange(client, codes.pop())
        answer.raise_for_status()
        token = answer.json()["access_token"]
    exchanges = measured(
        setup.name,
        "token exchange",
        round_,
        setup.pid,
        lambda: _load(codes, setup.exchange, setup.client, args.concurrency, args.seconds),
    )
    searches = measured(
        setup.name,
        "FHIR search (Immunization)",
        round_,
        setup.pid,
        lambda: _load(
            list(range(args.searches)),
            setup.search(token),
            setup.client,
            args.concurrency,
            args.seconds,
        ),
    )
    samples = [exchanges, searches]
    if (NODE / "node_modules" / "autocannon").is_dir():
        samples.append(
            measured(
                setup.name,
                AUTOCANNON,
                round_,
                setup.pid,
                lambda: _autocannon(setup, token, args.concurrency, args.autocannon_seconds),
            )
        )
    return samples


# --- what it says ----------------------------------------------------------------------------


def _ms(seconds: float, requests: int) -> str:
    return f"{1000 * seconds / max(requests, 1):.2f}"


def summary_rows(samples: list[Sample], setups: list[str]) -> list[str]:
    """Per setup and kind, over every round: rate, latency, CPU per request, utilisation."""
    rows = []
    for kind, role in KINDS.items():
        for setup in setups:
            mine = [s for s in samples if s.setup == setup and s.kind == kind]
            if not mine:
                continue
            requests = sum(s.requests for s in mine)
            seconds = sum(s.seconds for s in mine)
            timings = [t for s in mine for t in s.timings]
            p50s = [s.latency[0] for s in mine if s.latency]
            p95s = [s.latency[1] for s in mine if s.latency]
            # autocannon's own percentiles per round: their median over the rounds.
            p50 = statistics.median(timings) if timings else statistics.median(p50s)
            p95 = percentile(timings, 0.95) if timings else statistics.median(p95s)
            role_cpu = sum(s.role_cpu() for s in mine)
            proxy_cpu = sum(s.cpu.get("proxy", 0.0) for s in mine)
            stack_cpu = sum(sum(s.cpu.values()) for s in mine)
            client_cpu = sum(s.client_cpu for s in mine)
            labels = sorted(
                {label for s in mine for label in s.cpu if label.split("#")[0].split()[0] == role}
                | ({"proxy"} if "replica" in setup else set())
            )
            # A role's parent only waits for its workers: leave it out of the utilisation.
            busy = [
                f"{label} {100 * sum(s.cpu.get(label, 0.0) for s in mine) / seconds:.0f}%"
                for label in labels
                if not (label == role and any(f"{role} w" in x for x in labels))
            ]
            rates = ", ".join(f"{s.rate:.0f}" for s in mine)
            machine = 100 * sum(s.machine_busy * s.seconds for s in mine) / seconds
            rows.append(
                f"| {setup} | {kind} | {requests} | {requests / seconds:.0f} ({rates}) | "
                f"{p50:.1f} | {p95:.1f} | "
                f"{_ms(role_cpu, requests)} | {_ms(proxy_cpu, requests)} | "
                f"{_ms(stack_cpu, requests)} | {_ms(client_cpu, requests)} | "
                f"{'; '.join(busy)} | {machine:.0f}% |"
            )
    return rows


def headlines(samples: list[Sample]) -> list[str]:
    """2 over 1, per kind: the median of the per-round throughput ratios (and their range),
    and the ratio of the role's CPU per request, with how busy the machine was meanwhile."""
    lines = []
    for more, fewer in PAIRS:
        for kind in KINDS:
            ratios, cpu_ratios, busy = [], [], []
            for round_ in sorted({s.round for s in samples}):
                a = [s for s in samples if (s.setup, s.kind, s.round) == (more, kind, round_)]
                b = [s for s in samples if (s.setup, s.kind, s.round) == (fewer, kind, round_)]
                if not a or not b or not a[0].requests or not b[0].requests:
                    continue
                ratios.append(a[0].rate / b[0].rate)
                cpu_ratios.append(
                    (a[0].role_cpu() / a[0].requests) / max(b[0].role_cpu() / b[0].requests, 1e-9)
                )
                busy += [a[0].machine_busy, b[0].machine_busy]
            if not ratios:
                continue
            # Where no core was idle, a second process gains no core: under other load it
            # only gets a bigger share of the contended ones from the scheduler. Say so.
            saturated = min(busy) >= SATURATED
            lines.append(
                f"{more} / {fewer}, {kind}: throughput x{statistics.median(ratios):.2f} "
                f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); role CPU per request "
                f"x{statistics.median(cpu_ratios):.2f}; machine busy "
                f"{100 * min(busy):.0f}-{100 * max(busy):.0f}% meanwhile"
                + (
                    " (no idle core: the ratio is a share of contended cores, not scaling)"
                    if saturated
                    else ""
                )
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every setup")
    parser.add_argument("--codes", type=int, default=50, help="token exchanges per turn")
    parser.add_argument("--searches", type=int, default=500, help="FHIR searches per turn")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="bound per measurement")
    parser.add_argument(
        "--autocannon-seconds", type=float, default=5.0, help="autocannon searches per turn"
    )
    parser.add_argument("--postgres", help="SQLAlchemy URL: the replicas' databases there")
    parser.add_argument("--only", choices=SETUPS, action="append", help="only these setups")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args()
    setups = args.only or list(SETUPS)

    samples: list[Sample] = []
    loads: list[float] = [os.getloadavg()[0]]
    with ExitStack() as stacks:
        stacks.callback(_drop_schemas)
        started = {name: stacks.enter_context(running(name, args.postgres)) for name in setups}
        for round_ in range(args.rounds):
            # Each round starts one setup further on: none is always measured first.
            order = setups[round_ % len(setups) :] + setups[: round_ % len(setups)]
            for name in order:
                samples += turn(started[name], round_, args)
                loads.append(os.getloadavg()[0])
                print(
                    f"round {round_ + 1}, {name}: done (load average {loads[-1]:.1f})", flush=True
                )

    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    replicas_on = "PostgreSQL" if args.postgres else "shared SQLite"
    print(
        f"replicas on {replicas_on}; {args.rounds} rounds; per turn {args.codes} exchanges and "
        f"{args.searches} searches; concurrency {args.concurrency}, keep-alive per thread"
    )
    print(f"load average (1 min): {min(loads):.1f} to {max(loads):.1f}")
    print(
        "| setup | request | requests | per s (each round) | p50 ms | p95 ms "
        "| role CPU ms/req | proxy CPU ms/req | stack CPU ms/req | client CPU ms/req "
        "| role processes busy (100% = a core) | machine busy |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for row in summary_rows(samples, setups):
        print(row)
    for line in headlines(samples):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in samples], indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
