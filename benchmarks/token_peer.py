"""Benchmark: our token endpoint side by side with a certified peer, node oidc-provider 9.

One run, one machine, one load client for both servers, so the ratio is what counts (the
machine is shared; absolute numbers move with its load, printed next to them).

Ours: `medmij up --free-ports` with the embedded default world (one process per role,
SQLite WAL), exactly as a developer runs it. Its codes are obtained the way a person does:
authorization request, landing page, DigiD simulator, beschikbaarheidstoets (the real
resource server), toestemmingsverklaring; these flows are timed too (DVA flows/s, one
person at a time and eight at once). Every other code carries langdurige toestemming, so
half the exchanges also issue a refresh token. Work per exchange: Whitelist gate on the
client certificate, tls_client_auth against the current OCL, the code spent by an atomic
compare-and-set in the database, access token (and refresh token) drawn and checked for
uniqueness, bound to the certificate (RFC 8705 cnf), stored with the ketenlog records of the
request in one committed transaction before the answer (SQLite WAL, synchronous=NORMAL:
durable against a crash of the process, not against power loss).

Peer: node oidc-provider 9 (npm, pinned in benchmarks/node/package-lock.json, installed with
`npm ci` when missing), started by this benchmark (benchmarks/node/oidc_peer.js) over HTTPS
with mutual TLS, the same server certificate as our token endpoint, the client registered
with tls_client_auth and certificate-bound access tokens. Its codes are issued through its
own Grant and AuthorizationCode models (what its authorization endpoint stores after login
and consent), half with offline_access so that half the exchanges issue a refresh token; no
openid scope, so no ID token is signed. Work per exchange: tls_client_auth, code lookup and
consumption, grant and account lookup, opaque access token bound to the certificate (and
refresh token), all in its in-memory adapter: nothing is written to disk, a restart loses
every code and token.

Load: autocannon (benchmarks/node/token_load.js) with the PGO's client certificate,
keep-alive connections, one request in flight per connection, each request one unused code,
at concurrency 1 and 8; a short unmeasured warm-up first on each side. The two sides take
turns (``--rounds`` per level) so that the machine's changing load weighs on both alike;
each side's turns are summed (exchanges over the seconds its turns took; percentiles over
all its exchanges).

    .venv/bin/python benchmarks/token_peer.py                      # 600 exchanges per run
    .venv/bin/python benchmarks/token_peer.py --exchanges 2000 --flows 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import psutil
from lxml import html
from machine import cpu_seconds, role_processes
from node_load import NODE, run_node_load
from running_stack import dienst_when_healthy, start_stack, stop
from token_exchange import ZORGAANBIEDER, Person

from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.net import make_client

LEVELS = (1, 8)
RUN_LIMIT = 300.0  # seconds any one load run may take
STARTUP_LIMIT = 300.0  # the stack starts slowly on a machine loaded by other work
PEER_REDIRECT = "https://pgo.localhost/medmij/terug"


@dataclass(frozen=True)
class Target:
    name: str
    url: str  # https://127.0.0.1:PORT/path
    servername: str
    port: int
    form: dict[str, str]


@dataclass(frozen=True)
class Run:
    side: str
    connections: int
    seconds: float
    latencies: tuple[float, ...]  # ms, one per exchange
    server_cpu: float = 0.0  # CPU seconds of the answering server's processes meanwhile

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]

    def __add__(self, other: Run) -> Run:
        return Run(
            self.side,
            self.connections,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            self.server_cpu + other.server_cpu,
        )

    @property
    def busy_cores(self) -> float:
        """How busy the answering server was: its CPU seconds over the run's seconds."""
        return self.server_cpu / self.seconds


def ensure_node_packages() -> None:
    modules = NODE / "node_modules"
    if not ((modules / "autocannon").is_dir() and (modules / "oidc-provider").is_dir()):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],  # noqa: S607 - npm, in our own folder
            cwd=NODE,
            check=True,
        )


def load(
    target: Target,
    info: dict[str, Any],
    codes: list[str],
    connections: int,
    server: list[psutil.Process] | None = None,
) -> Run:
    """One turn of autocannon against ``target``; ``server``: its processes, whose CPU
    time over the turn is counted (a little more than the measured seconds: autocannon's
    start and end fall outside its own clock, when the server is idle)."""
    client = info["pgo_client_cert"]
    settings = {
        "url": target.url,
        "servername": target.servername,
        "headers": {"Host": f"{target.servername}:{target.port}"},
        "form": target.form,
        "codes": codes,
        "connections": connections,
        "cert": client["cert"],
        "key": client["key"],
        "ca": info["ca"],
    }
    before = cpu_seconds(server or [])
    result = run_node_load("token_load.js", settings, RUN_LIMIT)
    if result["ok"] != len(codes) or result["errors"] or result["timeouts"]:
        raise SystemExit(
            f"{target.name} at {connections}: not every exchange answered 200: {result}"
        )
    spent = cpu_seconds(server or []) - before
    return Run(
        target.name, connections, float(result["seconds"]), tuple(result["latencies"]), spent
    )


# --- our side: the stack and its codes --------------------------------------------------------


class Visitor(Person):
    """A person whose unexpected page is reported with what it says."""

    def _post(
        self, page: httpx.Response, name: str, value: str, leave: str, **fill: str
    ) -> httpx.Response:
        try:
            return super()._post(page, name, value, leave, **fill)
        except RuntimeError as error:
            said = " ".join(html.fromstring(page.text).text_content().split())[:400]
            raise RuntimeError(f"{error}: {page.status_code} {said}") from None


def mint_codes(
    info: dict[str, Any], authorization_endpoint: str, count: int, people: int
) -> tuple[list[str], float]:
    """``count`` codes through the DVA screens, ``people`` persons at once; and the seconds."""
    ca, hosts = Path(info["ca"]), info["hosts"]
    pgo = info["pgo_client_cert"]
    redirect_uri = info["pgo"] + "/medmij/terug"
    bsn = next(p["bsn"] for p in info["digid_test_persons"] if ZORGAANBIEDER in p["zorgaanbieders"])
    local = threading.local()
    browsers: list[httpx.Client] = []
    lock = threading.Lock()

    def one(index: int) -> str:
        person = getattr(local, "person", None)
        if person is None:  # one browser (cookie jar, keep-alive connections) per person
            browser = make_client(trust=[ca], hosts=hosts, timeout=30)
            with lock:
                browsers.append(browser)
            person = local.person = Visitor(browser)
        query = urlencode({
            "response_type": "code", "client_id": pgo["hostname"],
            "redirect_uri": redirect_uri, "scope": "ziekenhuisdemo", "state": new_id(),
            "MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id(),
        })  # fmt: skip
        authorize = f"{authorization_endpoint}?{query}"
        return person.code(authorize, redirect_uri, bsn, langdurig=index % 2 == 0)

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=people) as pool:
            codes = list(pool.map(one, range(count)))
    finally:
        for browser in browsers:
            browser.close()
    return codes, time.perf_counter() - started


def our_target(info: dict[str, Any], token_endpoint: str) -> Target:
    parts = urlsplit(token_endpoint)
    assert parts.hostname is not None
    assert parts.port is not None
    address = info["hosts"].get(parts.hostname, parts.hostname)
    return Target(
        name="ours",
        url=f"https://{address}:{parts.port}{parts.path}",
        servername=parts.hostname,
        port=parts.port,
        form={
            "grant_type": "authorization_code",
            "redirect_uri": info["pgo"] + "/medmij/terug",
            "client_id": info["pgo_client_cert"]["hostname"],
        },
    )


# --- the peer ---------------------------------------------------------------------------------


def start_peer(
    info: dict[str, Any], servername: str, certs: Path, codes: int
) -> tuple[subprocess.Popen[bytes], Target, list[str]]:
    node_certs = certs / "nodes" / servername
    client_id = info["pgo_client_cert"]["hostname"]
    settings = {
        "cert": str(node_certs / "cert.pem"),
        "key": str(node_certs / "key.pem"),
        "ca": info["ca"],
        "client_id": client_id,
        "redirect_uri": PEER_REDIRECT,
        "codes": codes,
        "refresh_every": 2,
    }
    process = subprocess.Popen(  # noqa: S603 - node with our own script
        ["node", str(NODE / "oidc_peer.js")],  # noqa: S607
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its development-mode warnings
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(json.dumps(settings).encode())
    process.stdin.close()
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise SystemExit(
            "oidc-provider did not start (run it by hand: node benchmarks/node/oidc_peer.js)"
        )
    started = json.loads(line)
    port = int(started["port"])
    target = Target(
        name="oidc-provider 9",
        url=f"https://127.0.0.1:{port}/token",
        servername=servername,
        port=port,
        form={
            "grant_type": "authorization_code",
            "redirect_uri": PEER_REDIRECT,
            "client_id": client_id,
        },
    )
    return process, target, list(started["codes"])


# --- the run ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--exchanges", type=int, default=600, help="measured per side and concurrency"
    )
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured per side, first")
    parser.add_argument("--flows", type=int, default=100, help="DVA flows timed one at a time")
    parser.add_argument("--rounds", type=int, default=5, help="turns each side takes per level")
    args = parser.parse_args()
    ensure_node_packages()
    with tempfile.TemporaryDirectory(prefix="token-peer-") as tmp:
        process, info = start_stack(
            Path(tmp), "--timeout", str(STARTUP_LIMIT), limit=STARTUP_LIMIT + 30
        )
        try:
            return run(info, Path(tmp) / "certs", args, role_processes(process.pid, "authserver"))
        finally:
            stop(process)


def run(
    info: dict[str, Any],
    certs: Path,
    args: argparse.Namespace,
    authserver: list[psutil.Process],
) -> int:
    dienst = dienst_when_healthy(info, ZORGAANBIEDER, "48", limit=STARTUP_LIMIT)
    ours = our_target(info, dienst.token_endpoint)

    needed = args.warmup + len(LEVELS) * args.exchanges
    load_before = os.getloadavg()
    serial, serial_seconds = mint_codes(info, dienst.authorization_endpoint, args.flows, 1)
    rest = max(0, needed - len(serial))
    parallel, parallel_seconds = mint_codes(
        info, dienst.authorization_endpoint, max(rest, 8 * 10), 8
    )
    codes = serial + parallel

    peer_process, peer, peer_codes = start_peer(info, ours.servername, certs, needed)
    peer_server = [psutil.Process(peer_process.pid)]
    runs: list[Run] = []
    try:
        load(ours, info, codes[: args.warmup], 1)
        load(peer, info, peer_codes[: args.warmup], 1)
        offset = args.warmup
        # The two sides take turns in rounds, so that the machine's changing load (other
        # work on it) weighs on both alike; each side's rounds are summed.
        per_round = max(8, args.exchanges // args.rounds)
        for level in LEVELS:
            mine: Run | None = None
            theirs: Run | None = None
            end = offset + args.exchanges
            while offset < end:
                batch = slice(offset, min(end, offset + per_round))
                got, peer_got = (
                    load(ours, info, codes[batch], level, authserver),
                    load(peer, info, peer_codes[batch], level, peer_server),
                )
                mine = got if mine is None else mine + got
                theirs = peer_got if theirs is None else theirs + peer_got
                offset = batch.stop
            assert mine is not None
            assert theirs is not None
            runs += [mine, theirs]
    finally:
        peer_process.kill()
        peer_process.wait()
    load_after = os.getloadavg()

    machine = platform.processor() or platform.machine()
    system = f"{platform.system()} {platform.release()}"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    python = platform.python_version()
    print(
        f"machine: {machine}, {os.cpu_count()} CPUs, Python {python}, {system}, "
        f"node {node.stdout.strip()}"
    )
    print(
        f"load average (1/5/15 min): before {fmt_load(load_before)}, after {fmt_load(load_after)}"
    )
    print("DVA flows (authorize, landing, DigiD simulator, beschikbaarheidstoets, consent, code):")
    for people, flows, seconds in (
        (1, len(serial), serial_seconds),
        (8, len(parallel), parallel_seconds),
    ):
        print(
            f"  {people} at once: {flows} flows in {seconds:.1f} s = {flows / seconds:.1f} flows/s"
        )
    print()
    print(
        "| server | concurrency | exchanges | exchanges/s | p50 ms | p95 ms | p99 ms | ours/peer "
        "| server CPU ms/exchange | server busy (cores) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for level in LEVELS:
        mine = next(r for r in runs if r.side == "ours" and r.connections == level)
        theirs = next(r for r in runs if r.side != "ours" and r.connections == level)
        for item in (mine, theirs):
            ratio = f"{mine.rate / theirs.rate:.2f}x" if item is mine else ""
            cpu_ms = item.server_cpu / item.requests * 1000
            print(f"| {item.side} | {level} | {item.requests} | {item.rate:.0f} | "
                  f"{item.percentile(0.5):.1f} | {item.percentile(0.95):.1f} | "
                  f"{item.percentile(0.99):.1f} | {ratio} | {cpu_ms:.2f} | "
                  f"{item.busy_cores:.2f} |")  # fmt: skip
    print()
    print("durability of an answered token:")
    print("  ours: committed before the answer (SQLite WAL, synchronous=NORMAL: survives kill -9 "
          "of the server; the last commits may be lost on power loss)")  # fmt: skip
    print("  oidc-provider 9: its in-memory adapter: a restart or kill loses every code and token")
    return 0


def fmt_load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    raise SystemExit(main())
