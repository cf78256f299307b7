"""Benchmark: one FHIR search at the resource server against the limit of its server software.

The limit: the same uvicorn, with the same TLS context
(:func:`medmij_stack.runtime.tls.server_context`, client certificate verified in the
handshake against the dev CA) and the same protocol class
(:func:`medmij_stack.runtime.asgi_tls.uvicorn_config`, which reads the peer certificate into
every request's scope), answering the very same bytes with a minimal ASGI app: nothing but
the HTTP and TLS work every answer costs. The ratio of our throughput to that one is the
share of the machine's capacity for this answer that the resource server reaches.

Setup: `medmij up --free-ports --nictiz PATH` in a temporary folder, as a developer runs
it (benchmarks/running_stack.py); the patient is the Nictiz BgZ Cert patient XXX_Helleman at
the qualification zorgaanbieder (docs/qualification.md#fixtures) with her fixed
qualification token, at the FHIR base the ZAL names; the query is the qualification
script's `Condition` search (BgZ Problemen, `medmij_stack.protocol.catalogue`), encoded as
the test engine sends it. Its answer (with the answer cache on, the default: every
request after the first is served from it) is fetched once; the limit server then answers
every request with exactly that status, body and those headers.

Load: autocannon (npm, pinned in benchmarks/node/package.json, installed there with
`npm ci` when missing), keep-alive, with the PGO's client certificate and key and the dev
CA, `Accept: application/fhir+json; fhirVersion=3.0`, the token, an X-Correlation-ID and a
fresh MedMij-Request-ID per request. Per connection count (default 1, 8, 32), first ours
then the limit, each for `--seconds` after a short warm-up; every answer must be 2xx.
Besides throughput and latency (autocannon's client side), the CPU time the serving
processes used per answer (from /proc): on a machine shared with other work the rates
move with the load, the server's own cost per answer much less. `--py-spy` then profiles
ours for one more run at 8 connections (py-spy, the `bench` extra) and prints where its
process spends the time.

    .venv/bin/python benchmarks/fhir_limit.py                      # 1, 8, 32 connections, 10 s
    .venv/bin/python benchmarks/fhir_limit.py --seconds 5 --connections 8 --workers 1
    .venv/bin/python benchmarks/fhir_limit.py --py-spy               # and where the time goes

`--workers N` (default 1) is handed to `medmij up` and starts N limit processes on one
port (SO_REUSEPORT).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from node_load import NODE, run_node_load
from resource_server import ACCEPT, DEFAULT_NICTIZ, HELLEMAN, ZORGAANBIEDER, bgz_base, encoded
from running_stack import start_stack, stop, until_every_worker_serves

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.devpki import LeafFiles, ensure_dev_pki
from medmij_stack.runtime.net import make_client

STARTUP_LIMIT = 300.0
RUN_LIMIT_MARGIN = 30.0  # seconds a load run may take beyond its duration before it is killed
IDLE_SECONDS = 3.0
QUERY = "Condition"  # the BgZ Problemen search of the qualification script


@dataclass(frozen=True)
class Target:
    """What autocannon loads: a URL on 127.0.0.1, the host name it stands for, and the
    processes that serve it."""

    url: str
    servername: str
    port: int
    pids: tuple[int, ...]


@dataclass(frozen=True)
class Run:
    connections: int
    seconds: float
    ok: int
    p50: float
    p99: float
    cpu: float  # CPU seconds the server's processes used during the run

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def cpu_per_request(self) -> float:
        """Microseconds of server CPU per answer: what other load on the machine hardly moves."""
        return self.cpu / self.ok * 1e6


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def serving(parent: int, marker: str) -> list[int]:
    """The descendants of ``parent`` whose command line holds ``marker``, and theirs (the
    workers of a role)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [(parent, False)]
    while todo:
        pid, inside = todo.pop()
        for child in children.get(pid, []):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            mine = inside or marker.encode() in command
            if mine:
                found.append(child)
            todo.append((child, mine))
    return found


# --- the limit server (runs in a child process: `fhir_limit.py --serve-limit SETTINGS`) -------


def serve_limit(settings_file: Path) -> None:
    """Serve the captured answer on the given socket until SIGTERM."""
    import asyncio

    import uvicorn

    from medmij_stack.runtime.asgi_tls import uvicorn_config
    from medmij_stack.runtime.tls import server_context

    settings = json.loads(settings_file.read_text("utf-8"))
    body = Path(settings["body"]).read_bytes()
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in settings["headers"]]
    start = {"type": "http.response.start", "status": settings["status"], "headers": headers}
    done = {"type": "http.response.body", "body": body}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(start)
        await send(done)

    context = server_context(
        Path(settings["cert"]),
        Path(settings["key"]),
        trust=[Path(settings["ca"])],
        client_certs="optional",  # as the resource server's listener (wiring.roles)
    )
    # Several processes may listen on the port (SO_REUSEPORT): --workers for the limit too.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted connections inherit it on Linux; asyncio and uvloop set it on the connections
    # of a server they bind themselves, as the resource server's is.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", settings["port"]))
    config = uvicorn_config(
        app,
        host="127.0.0.1",
        port=settings["port"],
        ssl_context=context,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def start_limit(
    base: Path, settings: dict[str, Any], workers: int
) -> list[subprocess.Popen[bytes]]:
    settings_file = base / "limit.json"
    settings_file.write_text(json.dumps(settings), "utf-8")
    log = (base / "limit.log").open("wb")
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--serve-limit", str(settings_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(workers)
    ]
    deadline = time.monotonic() + 60
    while True:  # ready when it accepts a connection
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            for p in processes:
                p.kill()
            raise SystemExit(f"the limit server did not start; see {base / 'limit.log'}")
        try:
            with socket.create_connection(("127.0.0.1", settings["port"]), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.5)  # the other workers are listening too by then
    return processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the load ---------------------------------------------------------------------------------


def ensure_autocannon() -> None:
    if not (NODE / "node_modules" / "autocannon").is_dir():
        subprocess.run(  # npm, in our own folder, from the lock file
            ["npm", "ci", "--no-audit", "--no-fund"],  # noqa: S607
            cwd=NODE,
            check=True,
        )


def load(
    target: Target,
    info: dict[str, Any],
    connections: int,
    seconds: float,
) -> Run:
    client = info["pgo_client_cert"]
    settings = {
        "url": target.url,
        "servername": target.servername,
        "connections": connections,
        "seconds": seconds,
        "cert": client["cert"],
        "key": client["key"],
        "ca": info["ca"],
        "headers": {
            "Host": f"{target.servername}:{target.port}",
            "Authorization": HELLEMAN,
            "Accept": ACCEPT,
            "X-Correlation-ID": new_id(),
        },
    }
    used = cpu_seconds(target.pids)
    result = run_node_load("load.js", settings, seconds + RUN_LIMIT_MARGIN)
    if result["non2xx"] or result["errors"] or result["timeouts"] or not result["ok"]:
        raise SystemExit(f"{target.url} at {connections} connections: not all 2xx: {result}")
    used = cpu_seconds(target.pids) - used
    return Run(
        connections, float(result["seconds"]), result["ok"], result["p50"], result["p99"], used
    )


# --- the run ----------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def capture(info: dict[str, Any]) -> tuple[str, str, int, bytes, list[tuple[str, str]]]:
    """The FHIR search URL, its host, port, and the answer it gets (body, headers)."""
    cert = LeafFiles(
        cert=Path(info["pgo_client_cert"]["cert"]), key=Path(info["pgo_client_cert"]["key"])
    )
    with make_client(trust=[Path(info["ca"])], cert=cert, hosts=info["hosts"]) as client:
        fhir = bgz_base(info, client)
        query = next(q for q in catalogue.get("48").queries if q.path.startswith(QUERY))
        url = f"{fhir}/{encoded(query.path)}"
        response = client.get(
            url,
            headers={
                "Authorization": HELLEMAN,
                "Accept": ACCEPT,
                "MedMij-Request-ID": new_id(),
                "X-Correlation-ID": new_id(),
            },
        )
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    kept = [(k, v) for k, v in response.headers.items() if k.lower() not in ("date", "server")]
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return host, path, parts.port or 443, response.content, kept


def profile(target: Target, info: dict[str, Any], connections: int, seconds: float) -> list[str]:
    """One more run of ours under py-spy (the `bench` extra): where its process spends the
    time, as the share of samples per function, on its own (self) and with what it calls."""
    raw = Path(tempfile.mkstemp(suffix=".txt")[1])
    spy = Path(sys.executable).with_name("py-spy")
    recorder = subprocess.Popen(  # noqa: S603 - py-spy of our own environment
        [str(spy), "record", "--pid", str(target.pids[0]), "--duration", str(int(seconds)),
         "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        load(target, info, connections, seconds)
    finally:
        recorder.wait(seconds + RUN_LIMIT_MARGIN)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    raw.unlink()
    lines = [f"py-spy, {connections} connections, {total} samples; self:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(15)]
    lines.append("with callees (the event loop and thread entry points left out):")
    boring = (
        "runners.py",
        "base_events.py",
        "events.py",
        "threading.py",
        "typer",
        "runpy",
        "cli.py",
    )
    shown = [(f, n) for f, n in inclusive.most_common() if not any(b in f for b in boring)]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in shown[:25]]
    return lines


def table(rows: Sequence[tuple[Run, Run]]) -> list[str]:
    lines = [
        "| connections | req/s ours | req/s limit | ours / limit | p50 ms ours | p99 ms ours "
        "| p50 ms limit | p99 ms limit | server CPU µs/req ours | limit |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for ours, limit in rows:
        lines.append(
            f"| {ours.connections} | {ours.rate:,.0f} | {limit.rate:,.0f} | "
            f"**{ours.rate / limit.rate:.0%}** | {ours.p50:.2f} | {ours.p99:.2f} | "
            f"{limit.p50:.2f} | {limit.p99:.2f} | {ours.cpu_per_request:.0f} | "
            f"{limit.cpu_per_request:.0f} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not counted")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=1, help="of ours and of the limit")
    parser.add_argument("--nictiz", type=Path, default=DEFAULT_NICTIZ, help="Nictiz material")
    parser.add_argument(
        "--py-spy", action="store_true", help="then profile ours at 8 connections (bench extra)"
    )
    parser.add_argument("--serve-limit", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_limit is not None:
        serve_limit(args.serve_limit)
        return 0
    if not (args.nictiz / "output").is_dir():
        raise SystemExit(f"Nictiz material not found at {args.nictiz}: give --nictiz PATH")
    if args.seconds <= 0 or args.seconds > 120 or not 1 <= args.workers <= 16:
        raise SystemExit("--seconds must be in (0, 120], --workers in [1, 16]")
    ensure_autocannon()
    # A loaded machine may need more than a minute to load the Nictiz material.
    extra = ["--nictiz", str(args.nictiz), "--workers", str(args.workers), "--timeout", "240"]
    with tempfile.TemporaryDirectory(prefix="medmij-limit-") as folder:
        base = Path(folder)
        process, info = start_stack(base, *extra, limit=STARTUP_LIMIT)
        limit_processes: list[subprocess.Popen[bytes]] = []
        try:
            # Otherwise the later workers' startup (loading the data) falls in the runs and
            # in the idle reading: 25-34% of a CPU "idle" with two workers was that.
            until_every_worker_serves(info, limit=STARTUP_LIMIT)
            host, path, port, body, headers = capture(info)
            (base / "answer.body").write_bytes(body)
            # The resource server's own certificate (issued already: nothing is rewritten).
            leaf = ensure_dev_pki(base / "certs", [host]).leaf(host)
            limit_port = free_port()
            limit_processes = start_limit(
                base,
                {
                    "body": str(base / "answer.body"),
                    "status": 200,
                    "headers": headers,
                    "cert": str(leaf.cert),
                    "key": str(leaf.key),
                    "ca": info["ca"],
                    "port": limit_port,
                },
                args.workers,
            )
            ours_pids = tuple(serving(process.pid, "serve zorgaanbieder"))
            limit_pids = tuple(p.pid for p in limit_processes)
            ours = Target(f"https://127.0.0.1:{port}{path}", host, port, ours_pids)
            limit = Target(f"https://127.0.0.1:{limit_port}{path}", host, limit_port, limit_pids)
            print(f"machine: {machine()}")
            print(f"load average before: {load_average()}")
            print(
                f"dataset: XXX_Helleman (Nictiz BgZ Cert) at {ZORGAANBIEDER}, gegevensdienst 48, "
                f"GET {path} ({len(body):,} bytes answer, answer cache on)"
            )
            print(
                f"workers: {args.workers} (ours and the limit: processes {list(ours_pids)} and "
                f"{list(limit_pids)}); {args.seconds:g} s per run"
            )
            for target in (ours, limit):
                load(target, info, max(args.connections), args.warmup)
            before = cpu_seconds(ours.pids)
            time.sleep(IDLE_SECONDS)
            idle = (cpu_seconds(ours.pids) - before) / IDLE_SECONDS
            print(f"ours idle: {idle:.0%} of a CPU (background work: lists, ketenlog delivery)")
            rows: list[tuple[Run, Run]] = []
            for connections in args.connections:
                pair = (
                    load(ours, info, connections, args.seconds),
                    load(limit, info, connections, args.seconds),
                )
                rows.append(pair)
                print(f"  {connections} connections done; load average {load_average()}")
            print()
            print("\n".join(table(rows)))
            print()
            print(f"load average after: {load_average()}")
            if args.py_spy:
                print()
                print("\n".join(profile(ours, info, 8, args.seconds)))
        finally:
            for limit_process in limit_processes:
                limit_process.terminate()
            for limit_process in limit_processes:
                try:
                    limit_process.wait(10)
                except subprocess.TimeoutExpired:
                    limit_process.kill()
            stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
