"""The long fuzz run: the requests of tests/fuzz, many more of them, and what answered 5xx.

tests/fuzz/test_every_route.py sends a few hundred random requests per app so that CI stays
fast; this sends at least ``--requests`` (default 100,000) the same way, into every route of
the authorisation server's front and back channel, the resource server and the Stelselnode,
in this process (tests/fuzz/apps.py: only the Stelselnode listens, on 127.0.0.1), and counts
the answers per route and status class. It stops at ``--max-seconds`` whatever the count,
and says so. Any 5xx is listed with its route; exit 1 when there was one.

    .venv/bin/python benchmarks/fuzz_long.py [--requests 100000] [--max-seconds 1800]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.apps import PGO, STRANGER, UNTRUSTED_PGO, running_stack
from tests.fuzz.strategies import Request, requests
from tests.fuzz.test_every_route import routes_of

CHANNELS = ("front", "back", "resource", "stelselnode")


class _Enough(Exception):
    """Stops hypothesis once the count or the time is reached."""


def _route(path: str, templates: list[str]) -> str:
    """The route template a request path belongs to (or "(no route)")."""
    parts = path.split("?")[0].strip("/").split("/")
    for template in templates:
        shape = template.strip("/").split("/")
        if len(shape) == len(parts) and all(
            s.startswith("{") or s == p for s, p in zip(shape, parts, strict=True)
        ):
            return template
    return "(no route)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the refusals are expected; the counts say the rest

    counts: Counter[tuple[str, str, str]] = Counter()  # (channel, route, status class)
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp)) as stack:
        peers = (None, PGO, UNTRUSTED_PGO, STRANGER, stack.host("resource"), stack.host("back"))
        routes = {channel: routes_of(stack.apps[channel]) for channel in CHANNELS}
        templates = {c: [path for path, _ in r] for c, r in routes.items()}
        drawn = st.sampled_from(CHANNELS).flatmap(
            lambda c: requests(routes[c], peers).map(lambda r: (c, r))
        )
        started = time.monotonic()
        sent = 0

        @settings(
            max_examples=10 * args.requests,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(drawn)
        def run(item: tuple[str, Request]) -> None:
            nonlocal sent
            channel, request = item
            status = request.send(stack.clients[channel]).status_code
            sent += 1
            route = _route(request.path, templates[channel])
            counts[(channel, route, f"{status // 100}xx")] += 1
            if status >= 500 and len(failures) < 50:
                failures.append(f"{channel} {request.method} {request.path[:80]} -> {status}")
            if sent >= args.requests or time.monotonic() - started > args.max_seconds:
                raise _Enough

        with contextlib.suppress(_Enough):
            run()
        elapsed = time.monotonic() - started

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    stopped = "" if sent >= args.requests else f" (stopped at --max-seconds {args.max_seconds})"
    print(f"{sent} requests in {elapsed:.0f} s ({sent / elapsed:.0f}/s){stopped}\n")
    print("| app | route | requests | 2xx | 3xx | 4xx | 5xx |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for channel in CHANNELS:
        for route in sorted({r for c, r, _ in counts if c == channel}):
            row = {k: counts[(channel, route, k)] for k in ("2xx", "3xx", "4xx", "5xx")}
            total = sum(row.values())
            print(f"| {channel} | `{route}` | {total} | {row['2xx']} | {row['3xx']} | "
                  f"{row['4xx']} | {row['5xx']} |")  # fmt: skip
    for failure in failures:
        print("5xx:", failure)
    return 1 if any(k[2] == "5xx" for k in counts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
