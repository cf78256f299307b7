"""Benchmark: the CPU one HTTPS request costs with the stack's own HTTP machinery, and nothing else.

Every request between the stack's roles goes through the same parts: an httpx client on
httpcore/anyio (``medmij_stack.runtime.net.make_async_client``), mutual TLS from Python's
``ssl``, and a uvicorn server (httptools, uvloop when installed) with the stack's TLS
extension (``medmij_stack.runtime.asgi_tls``), under Starlette or FastAPI. This measures
what those parts cost per request when the application does nothing: a handler that returns
a fixed JSON body of about 1 kB. What a service does for a request comes on top, so these
figures are the floor under any request of the chain, and the floor under a simulated
attempt is this times the number of requests the attempt makes.

Setup: a dev PKI in a temporary folder; the server in a process of its own, one worker, with
``client_certs="required"``; the client with its own leaf. Keep-alive connections (as the
stack's pooled clients use them), the first ``--warmup`` requests not counted. CPU is user +
system time of each process (psutil) over the measured requests; the client's share is this
process's. Three applications: a bare ASGI callable (uvicorn and TLS only), a Starlette route,
a FastAPI route.

    .venv/bin/python benchmarks/http_floor.py                    # 3,000 requests per case
    .venv/bin/python benchmarks/http_floor.py --requests 10000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from machine import MachineReading

from medmij_stack.runtime import event_loop
from medmij_stack.runtime.devpki import LeafFiles, ensure_dev_pki
from medmij_stack.runtime.net import make_async_client

HOST = "floor.localhost"
CLIENT = "client.floor.localhost"
BODY = json.dumps({"resourceType": "Bundle", "entry": [{"n": n} for n in range(60)]}).encode()
KINDS = ("asgi", "starlette", "fastapi")


def _app(kind: str) -> Any:
    headers = [(b"content-type", b"application/fhir+json"), (b"content-length", b"%d" % len(BODY))]
    if kind == "asgi":

        async def bare(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": BODY})

        return bare
    if kind == "starlette":
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def endpoint(request: Request) -> Response:
            return Response(BODY, media_type="application/fhir+json")

        return Starlette(routes=[Route("/r4/Immunization", endpoint)])
    from fastapi import FastAPI
    from fastapi import Response as FastApiResponse

    api = FastAPI()

    @api.get("/r4/Immunization")
    async def search() -> FastApiResponse:
        return FastApiResponse(BODY, media_type="application/fhir+json")

    return api


def serve(kind: str, pki_dir: Path, port: int) -> None:
    """The server process: one uvicorn worker over mutual TLS."""
    import uvicorn

    from medmij_stack.runtime.asgi_tls import uvicorn_config
    from medmij_stack.runtime.tls import server_context

    pki = ensure_dev_pki(pki_dir, [HOST, CLIENT])
    leaf = pki.leaf(HOST)
    context = server_context(leaf.cert, leaf.key, trust=[pki.root_cert], client_certs="required")
    config = uvicorn_config(
        _app(kind),
        host="127.0.0.1",
        port=port,
        ssl_context=context,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    event_loop.run(uvicorn.Server(config).serve())


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _load(
    url: str, trust: Path, leaf: LeafFiles, requests: int, warmup: int, concurrency: int,
    server: psutil.Process,
) -> dict[str, Any]:  # fmt: skip
    me = psutil.Process()
    latencies: list[float] = []
    async with make_async_client(trust=[trust], cert=leaf, hosts={HOST: "127.0.0.1"}) as client:
        for _ in range(warmup):
            (await client.get(url)).raise_for_status()
        left = iter(range(requests))

        async def worker() -> None:
            for _ in left:
                began = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200 or len(response.content) != len(BODY):
                    raise RuntimeError(f"unexpected answer {response.status_code}")

        ours, theirs = me.cpu_times(), server.cpu_times()
        machine = MachineReading.now()
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
        after = MachineReading.now()
        busy = (after.busy - machine.busy) / max(after.total - machine.total, 1e-9)
        ours_after, theirs_after = me.cpu_times(), server.cpu_times()
    client_cpu = ours_after.user + ours_after.system - ours.user - ours.system
    server_cpu = theirs_after.user + theirs_after.system - theirs.user - theirs.system
    ordered = sorted(latencies)
    return {
        "requests": requests,
        "requests_per_second": round(requests / wall, 1),
        "client_cpu_us_per_request": round(1e6 * client_cpu / requests, 1),
        "server_cpu_us_per_request": round(1e6 * server_cpu / requests, 1),
        "both_cpu_us_per_request": round(1e6 * (client_cpu + server_cpu) / requests, 1),
        "latency_ms": {
            "p50": round(1000 * statistics.median(ordered), 2),
            "p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
            "p99": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2),
        },
        "machine_busy_share": round(busy, 3),
    }


def measure(kind: str, requests: int, warmup: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medmij-http-floor-") as folder:
        pki_dir = Path(folder) / "pki"
        pki = ensure_dev_pki(pki_dir, [HOST, CLIENT])
        port = _free_port()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--serve", kind, "--pki", str(pki_dir), "--port", str(port)]
        )
        try:
            server = psutil.Process(process.pid)
            url = f"https://{HOST}:{port}/r4/Immunization"
            deadline = time.monotonic() + 30
            while not any(c.laddr.port == port for c in server.net_connections("tcp")):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the {kind} server did not start")
                time.sleep(0.05)
            return event_loop.run(
                _load(url, pki.root_cert, pki.leaf(CLIENT), requests, warmup, concurrency, server)
            )
        finally:
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--kind", choices=KINDS, action="append")
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.pki, args.port)
        return
    results = {
        kind: measure(kind, args.requests, args.warmup, args.concurrency)
        for kind in (args.kind or KINDS)
    }
    print(
        json.dumps(
            {
                "benchmark": "http_floor",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "body_bytes": len(BODY),
                "concurrency": args.concurrency,
                "tls": "mutual, keep-alive",
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
