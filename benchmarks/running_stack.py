"""`medmij up` in a subprocess on free ports, for the benchmarks that measure the wired stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from medmij_stack.protocol.lists import Gegevensdienst, ListKind, Zorgaanbiederslijst, parse_list
from medmij_stack.runtime.net import make_client


def start_stack(
    base: Path, *extra: str, env: dict[str, str] | None = None, limit: float = 180.0
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start the stack with its data and certs under ``base``; return it and its stack.json."""
    data = base / "data"
    log = (base / "up.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "medmij_stack.wiring", "up", "--free-ports",
         "--data-dir", str(data), "--certs", str(base / "certs"), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    stack_file = data / "stack.json"
    deadline = time.monotonic() + limit
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"medmij up did not start; see {base / 'up.log'}")
        time.sleep(0.1)
    return process, json.loads(stack_file.read_text("utf-8"))


def zal_when_healthy(info: dict[str, Any], *, limit: float = 180.0) -> Zorgaanbiederslijst:
    """Wait until every node answers /health with 200 (its lists loaded), then the ZAL."""
    with make_client(trust=[Path(info["ca"])], hosts=info["hosts"]) as anonymous:
        deadline = time.monotonic() + limit
        urls = [u for us in info["services"].values() for u in us]
        while True:
            try:
                if all(anonymous.get(f"{u}/health").status_code == 200 for u in urls):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the stack did not become healthy")
            time.sleep(0.2)
        answer = anonymous.get(info["lists"]["zal"])
    zal = parse_list(ListKind.ZAL, answer.content, development=info["development"])
    assert isinstance(zal, Zorgaanbiederslijst)
    return zal


def dienst_when_healthy(
    info: dict[str, Any], zorgaanbieder: str, dienst_id: str, *, limit: float = 180.0
) -> Gegevensdienst:
    """Once the stack is healthy, the ZAL's gegevensdienst ``dienst_id`` of ``zorgaanbieder``,
    with the authorization and token endpoints every benchmark flow needs."""
    entry = zal_when_healthy(info, limit=limit).get(zorgaanbieder)
    assert entry is not None
    dienst = entry.gegevensdienst(dienst_id)
    assert dienst is not None
    assert dienst.authorization_endpoint is not None
    assert dienst.token_endpoint is not None
    return dienst


def until_every_worker_serves(info: dict[str, Any], *, limit: float = 240.0) -> None:
    """Wait until every worker of every role serves (`MedMij-Stack-Workers: n/n` on /health).

    `medmij up` is ready once the first worker of each role serves; the others start after it
    and load the role's data then, which costs seconds of CPU on this machine. A measurement
    that begins before they serve counts their startup as the stack's own work."""
    deadline = time.monotonic() + limit
    with make_client(trust=[Path(info["ca"])], hosts=info["hosts"]) as client:
        for label, urls in info["services"].items():
            count = info["workers"][label]
            while count > 1:
                answer = client.get(f"{urls[0]}/health")
                if answer.headers.get("MedMij-Stack-Workers") == f"{count}/{count}":
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{label}: not every worker serves")
                time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it; killed when it has not ended within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
