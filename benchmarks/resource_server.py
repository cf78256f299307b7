"""Benchmark: the 28 BgZ queries of one patient at the resource server, over HTTPS.

docs/architecture.md#performance-budgets asks, on this machine with all services on it, for
"the 28 BgZ queries of one patient over HTTPS: ≤ 250 ms (p50)" and "one FHIR search of a
typical patient: ≤ 10 ms server time (p50)"; the Afsprakenstelsel allows 60 s for 98.5%
(core.rscint.202).

Setup: `medmij up --free-ports --nictiz PATH` with the embedded default world in a
temporary folder, one process per role, exactly as a developer runs it. The patient is
the Nictiz BgZ Cert patient XXX_Helleman (docs/qualification.md#fixtures: 41 resources of her own,
the shared ones besides) at the qualification zorgaanbieder, reached with her fixed
qualification token, at the FHIR base the ZAL names. Requests are the 28 of the
qualification script (`medmij_stack.protocol.catalogue`), percent-encoded as the test engine sends
them, with `Accept: application/fhir+json; fhirVersion=3.0`, a MedMij-Request-ID and an
X-Correlation-ID, and mutual TLS with the PGO's certificate.

Measured, with perf_counter on the PGO's side, from send to the whole body read:

* `sequential`: the 28 one after another on one kept-alive connection (concurrency 1);
* `concurrent`: the 28 started at once from an asyncio client, at most `--concurrency`
  (default 8) in flight, over as many kept-alive connections (the first round opens them
  and is not counted; more than httpx's 20 kept-alive connections would mean fresh
  mutual-TLS handshakes in every round);
* per search: the client's time, and the server's own time from its `Server-Timing` header.

Two passes: `uncached` (the server's answer cache switched off with
MEDMIJ_ZORGAANBIEDER_ANSWER_CACHE_ENTRIES=0, so every request reaches the store and is
written out, as the first retrieval of a patient is) and `cached` (the default: a repeated
query is served from the answer cache). The first `--warmup` rounds of each are not counted.

    .venv/bin/python benchmarks/resource_server.py                    # 100 rounds per mode
    .venv/bin/python benchmarks/resource_server.py --rounds 200 --concurrency 8 --nictiz PATH
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from running_stack import start_stack, stop

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.lists import ListKind, Zorgaanbiederslijst, parse_list
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.net import make_async_client, make_client

ZORGAANBIEDER = "kwalificatie@medmij"
HELLEMAN = "Bearer 93cde269-ce35-4077-a39d-19296670e949"
ACCEPT = "application/fhir+json; fhirVersion=3.0"
STARTUP_LIMIT = 180.0
PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_NICTIZ = (
    Path(os.environ.get("MEDMIJ_SHARED_DATA", PROJECT.parent / "shared" / "data"))
    / "nictiz-testscripts"
)


def encoded(path: str) -> str:
    """A catalogue query as the Nictiz engine sends it (`encodeRequestUrl`)."""
    resource, _, query = path.partition("?")
    if not query:
        return resource
    pairs = (part.partition("=") for part in query.split("&"))
    return f"{resource}?" + "&".join(f"{n}={quote(v, safe=':/')}" for n, _, v in pairs)


def headers(correlation: str) -> dict[str, str]:
    return {
        "Authorization": HELLEMAN,
        "Accept": ACCEPT,
        "MedMij-Request-ID": new_id(),
        "X-Correlation-ID": correlation,
    }


def server_ms(response: httpx.Response) -> float:
    timing = response.headers.get("server-timing", "")
    return float(timing.partition("dur=")[2] or "nan")


@dataclass
class Samples:
    rounds: list[float] = field(default_factory=list)  # ms per 28 queries
    searches: list[float] = field(default_factory=list)  # ms per search, client side
    server: list[float] = field(default_factory=list)  # ms per search, Server-Timing
    resources: int = 0  # per round, to show every round got the same answers


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def sequential(client: httpx.Client, urls: list[str], rounds: int, warmup: int) -> Samples:
    samples = Samples()
    for number in range(warmup + rounds):
        correlation = new_id()
        found = 0
        started = time.perf_counter()
        timed: list[tuple[float, float]] = []
        for url in urls:
            sent = time.perf_counter()
            response = client.get(url, headers=headers(correlation))
            took = (time.perf_counter() - sent) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
            found += len(response.json().get("entry", []))
            timed.append((took, server_ms(response)))
        total = (time.perf_counter() - started) * 1000
        if number >= warmup:
            samples.rounds.append(total)
            samples.searches += [t for t, _ in timed]
            samples.server += [s for _, s in timed]
            samples.resources = found
    return samples


async def concurrent(
    trust: Path,
    cert: LeafFiles,
    hosts: dict[str, str],
    urls: list[str],
    args: argparse.Namespace,
) -> Samples:
    samples = Samples()
    rounds, warmup = args.rounds, args.warmup
    slots = asyncio.Semaphore(args.concurrency)
    async with make_async_client(trust=[trust], cert=cert, hosts=hosts, timeout=60) as client:

        async def one(url: str, correlation: str) -> tuple[float, float, int]:
            async with slots:
                sent = time.perf_counter()
                response = await client.get(url, headers=headers(correlation))
                took = (time.perf_counter() - sent) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
            return took, server_ms(response), len(response.json().get("entry", []))

        # One extra round first: it opens the pool's connections (mutual-TLS handshakes).
        for number in range(1 + warmup + rounds):
            correlation = new_id()
            started = time.perf_counter()
            results = await asyncio.gather(*(one(url, correlation) for url in urls))
            total = (time.perf_counter() - started) * 1000
            if number > warmup:
                samples.rounds.append(total)
                samples.searches += [t for t, _, _ in results]
                samples.server += [s for _, s, _ in results]
                samples.resources = sum(n for _, _, n in results)
    return samples


def bgz_base(info: dict[str, Any], client: httpx.Client) -> str:
    """The ResourceEndpointuri of gegevensdienst 48 of the qualification zorgaanbieder,
    found the MedMij way: in the ZAL."""
    raw = client.get(info["lists"]["zal"]).content
    zal = parse_list(ListKind.ZAL, raw, development=info["development"])
    assert isinstance(zal, Zorgaanbiederslijst)
    zorgaanbieder = zal.get(ZORGAANBIEDER)
    dienst = zorgaanbieder.gegevensdienst("48") if zorgaanbieder else None
    if dienst is None:
        raise SystemExit(f"{ZORGAANBIEDER} does not list gegevensdienst 48 in the ZAL")
    return dienst.systeemrollen[0].resource_endpoint


def row(mode: str, samples: Samples) -> str:
    rounds, searches, server = samples.rounds, samples.searches, samples.server
    return (
        f"| {mode} | {len(rounds)} | {statistics.median(rounds):.1f} | "
        f"{percentile(rounds, 0.95):.1f} | {percentile(rounds, 0.99):.1f} | "
        f"{statistics.median(searches):.2f} | {percentile(searches, 0.95):.2f} | "
        f"{statistics.median(server):.2f} | {percentile(server, 0.95):.2f} | "
        f"{percentile(server, 0.99):.2f} | {samples.resources} |"
    )


def measure(base: Path, nictiz: Path, args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    process, info = start_stack(base, "--nictiz", str(nictiz), env=env, limit=STARTUP_LIMIT)
    try:
        cert = LeafFiles(
            cert=Path(info["pgo_client_cert"]["cert"]), key=Path(info["pgo_client_cert"]["key"])
        )
        trust = Path(info["ca"])
        hosts = info["hosts"]
        with make_client(trust=[trust], cert=cert, hosts=hosts, timeout=60) as client:
            fhir = bgz_base(info, client)
            urls = [f"{fhir}/{encoded(q.path)}" for q in catalogue.get("48").queries]
            one_by_one = sequential(client, urls, args.rounds, args.warmup)
        at_once = asyncio.run(concurrent(trust, cert, hosts, urls, args))
    finally:
        stop(process)
    return [row("sequential (1)", one_by_one), row(f"concurrent ({args.concurrency})", at_once)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="rounds of 28 per mode")
    parser.add_argument("--warmup", type=int, default=5, help="rounds not counted")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--nictiz", type=Path, default=DEFAULT_NICTIZ, help="Nictiz material")
    args = parser.parse_args()
    if not (args.nictiz / "output").is_dir():
        raise SystemExit(f"Nictiz material not found at {args.nictiz}: give --nictiz PATH")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, "
        f"Python {platform.python_version()}; processor: {platform.processor() or 'unknown'}"
    )
    print(f"patient: XXX_Helleman (Nictiz BgZ Cert), {ZORGAANBIEDER}, gegevensdienst 48")
    print(
        "| answer cache | mode (concurrency) | rounds | 28 queries p50 ms | p95 | p99 | "
        "search p50 ms | p95 | server p50 ms | p95 | p99 | resources |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    passes = (("uncached", {"MEDMIJ_ZORGAANBIEDER_ANSWER_CACHE_ENTRIES": "0"}), ("cached", {}))
    for name, env in passes:
        with tempfile.TemporaryDirectory(prefix="medmij-bench-") as folder:
            for line in measure(Path(folder), args.nictiz, args, env):
                print(f"| {name} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
