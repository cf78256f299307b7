"""The wired stack: `medmij up` in a subprocess, on free ports, in a temporary folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from medmij_stack.protocol.lists import ListKind, Zorgaanbiederslijst, parse_list
from medmij_stack.runtime.devpki import LeafFiles
from tests.authserver.browser import Browser

from .flow import ZORGAANBIEDER, Endpoints, Pgo, stack_client

STARTUP_LIMIT_SECONDS = 90  # generous: CI machines are slow; the README promises ~20 s


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    data_dir: Path
    certs_dir: Path
    info: dict[str, Any]

    @property
    def ca(self) -> Path:
        return Path(self.info["ca"])

    @property
    def hosts(self) -> dict[str, str]:
        return dict(self.info["hosts"])

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_stack(base: Path, *extra: str, free_ports: bool = True) -> RunningStack:
    data_dir, certs_dir = base / "data", base / "certs"
    with (base / "up.log").open("wb") as log:  # the child keeps its own copy of the handle
        process = subprocess.Popen(
            [
                sys.executable, "-m", "medmij_stack.wiring", "up",
                *(["--free-ports"] if free_ports else []),
                "--data-dir", str(data_dir), "--certs", str(certs_dir), *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "160"},
        )  # fmt: skip
    stack_file = data_dir / "stack.json"
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            output = (base / "up.log").read_text(errors="replace")
            pytest.fail(f"medmij up did not start:\n{output}")
        time.sleep(0.1)
    info = json.loads(stack_file.read_text("utf-8"))
    return RunningStack(process, data_dir, certs_dir, info)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.stop()


# --- what a PGO knows of the stack, from stack.json and the ZAL ------------------------------


def read_zal(stack: RunningStack) -> Zorgaanbiederslijst:
    """The ZAL the running stack publishes, as a PGO reads it."""
    with stack_client(stack) as client:
        response = client.get(stack.info["lists"]["zal"])
    parsed = parse_list(ListKind.ZAL, response.content, development=stack.info["development"])
    assert isinstance(parsed, Zorgaanbiederslijst)
    return parsed


def endpoints_in(zal: Zorgaanbiederslijst) -> Endpoints:
    """The hospital's authorize, token and FHIR endpoints, as the ZAL publishes them."""
    entry = zal.get(ZORGAANBIEDER)
    assert entry is not None
    bgz, vaccinaties = entry.gegevensdienst("48"), entry.gegevensdienst("63")
    assert bgz is not None
    assert vaccinaties is not None
    assert bgz.authorization_endpoint is not None
    assert bgz.token_endpoint is not None
    return Endpoints(
        authorize=bgz.authorization_endpoint,
        token=bgz.token_endpoint,
        resource_48=bgz.systeemrollen[0].resource_endpoint,
        resource_63=vaccinaties.systeemrollen[0].resource_endpoint,
    )


@pytest.fixture(scope="session")
def zal(stack: RunningStack) -> Zorgaanbiederslijst:
    return read_zal(stack)


@pytest.fixture(scope="session")
def endpoints(zal: Zorgaanbiederslijst) -> Endpoints:
    return endpoints_in(zal)


def pgo_of(stack: RunningStack) -> Pgo:
    """The stack's PGO as a back-channel client: its certificate and redirect URI."""
    info = stack.info["pgo_client_cert"]
    return Pgo(
        hostname=info["hostname"],
        leaf=LeafFiles(cert=Path(info["cert"]), key=Path(info["key"])),
        redirect_uri=stack.info["pgo"] + "/medmij/terug",
    )


@pytest.fixture(scope="session")
def pgo(stack: RunningStack) -> Pgo:
    return pgo_of(stack)


@pytest.fixture(scope="session")
def bsn(stack: RunningStack) -> str:
    for person in stack.info["digid_test_persons"]:
        if ZORGAANBIEDER in person["zorgaanbieders"]:
            return str(person["bsn"])
    raise LookupError("no test person with data at the hospital")


@pytest.fixture
def browser(stack: RunningStack, endpoints: Endpoints) -> Iterator[Browser]:
    parts = urlsplit(endpoints.authorize)
    with Browser(stack_client(stack), f"{parts.scheme}://{parts.netloc}") as person:
        yield person
