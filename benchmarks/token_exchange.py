"""Benchmark: token exchange at the DVA's token endpoint (authorization code → access token).

docs/architecture.md#performance-budgets asks for "token exchange: ≤ 20 ms (p50)" on this
machine with all services on it; core.tknint.206 allows 10 s for 99.5% of requests.

Setup: `medmij up --free-ports` with the embedded default world in a temporary folder,
one process per role, exactly as a developer runs it. Codes are obtained the way a person
does: the authorization request from the ZAL's endpoint, the landing page, the DigiD
simulator, the beschikbaarheidstoets (the real resource server), the toestemmingsverklaring
(plain HTML forms, no JavaScript). Half the codes carry langdurige toestemming, so half the
exchanges also issue a refresh token.

Measured: the PGO's side of `POST /oauth/token` (form body, MedMij-Request-ID and
X-Correlation-ID headers, mutual TLS with the PGO's certificate), wall time from send to
parsed JSON, with perf_counter. Two connection modes: `keep-alive` (one TLS connection for
all exchanges, as a PGO server with a connection pool does) and `new connection` (a fresh
mutual-TLS handshake for every exchange). Exchanges run one at a time (concurrency 1);
the first `--warmup` of each mode are not counted. Server work per exchange: Whitelist gate,
client authentication against the OCL, single-use spend of the code, token issue with
uniqueness checks, two ketenlog records, all in one SQLite commit (WAL) before the answer.

    .venv/bin/python benchmarks/token_exchange.py                # 300 exchanges per mode
    .venv/bin/python benchmarks/token_exchange.py --exchanges 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from lxml import html
from running_stack import dienst_when_healthy, start_stack, stop

from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.net import make_client

ZORGAANBIEDER = "ziekenhuisdemo@medmij"
STARTUP_LIMIT = 120.0


class Person:
    """Walks the DVA screens: GET pages, post the form that carries a given field value."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def _follow(self, response: httpx.Response, leave: str) -> httpx.Response:
        for _ in range(10):
            if response.status_code not in (302, 303):
                return response
            target = urljoin(str(response.url), response.headers["location"])
            if target.startswith(leave):
                return response
            response = self.client.get(target)
        raise RuntimeError("too many redirects")

    def _post(
        self, page: httpx.Response, name: str, value: str, leave: str, **fill: str
    ) -> httpx.Response:
        for form in html.fromstring(page.text).forms:
            fields = dict(form.form_values())
            if fields.get(name) == value:
                target = urljoin(str(page.url), form.get("action"))
                return self._follow(self.client.post(target, data=fields | fill), leave)
        raise RuntimeError(f"no form with {name}={value} on {page.url}")

    def code(self, authorize: str, redirect_uri: str, bsn: str, langdurig: bool) -> str:
        page = self._follow(self.client.get(authorize), redirect_uri)
        page = self._post(page, "action", "login", redirect_uri)
        page = self._post(page, "action", "login", redirect_uri, bsn=bsn)
        extra = {"langdurig": "ja"} if langdurig else {}
        done = self._post(page, "decision", "allow", redirect_uri, **extra)
        query = parse_qs(urlsplit(done.headers["location"]).query)
        return query["code"][0]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(
    codes: list[str], exchange: Callable[[str], httpx.Response], warmup: int
) -> list[float]:
    timings = []
    for index, code in enumerate(codes):
        start = time.perf_counter()
        response = exchange(code)
        body = response.json()
        elapsed = time.perf_counter() - start
        if response.status_code != 200 or "access_token" not in body:
            raise RuntimeError(f"exchange failed: {response.status_code} {body}")
        if index >= warmup:
            timings.append(elapsed * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exchanges", type=int, default=300, help="measured per mode")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="token-bench-") as tmp:
        process, info = start_stack(Path(tmp), limit=STARTUP_LIMIT)
        try:
            return run(info, args)
        finally:
            stop(process)


def run(info: dict[str, Any], args: argparse.Namespace) -> int:
    ca, hosts = Path(info["ca"]), info["hosts"]
    pgo = info["pgo_client_cert"]
    leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))
    redirect_uri = info["pgo"] + "/medmij/terug"
    bsn = next(p["bsn"] for p in info["digid_test_persons"] if ZORGAANBIEDER in p["zorgaanbieders"])

    dienst = dienst_when_healthy(info, ZORGAANBIEDER, "48", limit=STARTUP_LIMIT)
    token_url = dienst.token_endpoint

    per_mode = args.exchanges + args.warmup
    started = time.perf_counter()
    codes: list[str] = []
    with make_client(trust=[ca], hosts=hosts, timeout=30) as browser:
        person = Person(browser)
        for index in range(2 * per_mode):
            query = urlencode({
                "response_type": "code", "client_id": pgo["hostname"],
                "redirect_uri": redirect_uri, "scope": "ziekenhuisdemo", "state": new_id(),
                "MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id(),
            })  # fmt: skip
            authorize = f"{dienst.authorization_endpoint}?{query}"
            codes.append(person.code(authorize, redirect_uri, bsn, langdurig=index % 2 == 0))
    flows_seconds = time.perf_counter() - started

    def form(code: str) -> dict[str, str]:
        return {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "client_id": pgo["hostname"]}  # fmt: skip

    def headers() -> dict[str, str]:
        return {"MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id()}

    with make_client(trust=[ca], cert=leaf, hosts=hosts) as pooled:
        kept = measure(
            codes[:per_mode],
            lambda code: pooled.post(token_url, data=form(code), headers=headers()),
            args.warmup,
        )

    def fresh_exchange(code: str) -> httpx.Response:
        with make_client(trust=[ca], cert=leaf, hosts=hosts) as client:
            return client.post(token_url, data=form(code), headers=headers())

    fresh = measure(codes[per_mode:], fresh_exchange, args.warmup)

    machine = platform.processor() or platform.machine()
    system = f"{platform.system()} {platform.release()}"
    python = platform.python_version()
    print(f"machine: {machine}, {os.cpu_count()} CPUs, Python {python}, {system}")
    flows = 2 * per_mode
    print(
        f"stack: medmij up, default world, SQLite; {flows} codes through the DVA screens "
        f"in {flows_seconds:.1f} s ({flows / flows_seconds:.1f} flows/s)"
    )
    print("| connection | exchanges | p50 ms | p95 ms | p99 ms | mean ms | exchanges/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, timings in (("keep-alive", kept), ("new connection", fresh)):
        print(
            f"| {name} | {len(timings)} | {statistics.median(timings):.1f} | "
            f"{percentile(timings, 0.95):.1f} | {percentile(timings, 0.99):.1f} | "
            f"{statistics.fmean(timings):.1f} | {1000 / statistics.fmean(timings):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
