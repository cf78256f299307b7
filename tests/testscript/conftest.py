"""Shared pieces for the TestScript engine tests.

``scripts/`` holds hand-made TestScripts, fixtures and tokens (ours, not Nictiz's) in the
Nictiz layout. ``simulator_client`` answers requests in-process through
``httpx.MockTransport`` from those fixtures (or the Nictiz ones), and can be told to
misbehave by a ``mutate`` function that changes status or body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.simulator import FixtureStore, Simulator, TokenRegistry

SCRIPTS = Path(__file__).parent / "scripts"
PROFILES = Path(__file__).parent / "profiles"
ENGINE_R4 = SCRIPTS / "R4" / "Engine"
ENGINE_STU3 = SCRIPTS / "STU3" / "Engine"

Mutate = Callable[[httpx.Request, int, dict[str, Any]], tuple[int, dict[str, Any]]]


def engine_simulator() -> Simulator:
    """A simulator holding the hand-made fixtures (R4 and STU3) and tokens."""
    stores = {
        FhirVersion.R4: [
            FixtureStore.load([ENGINE_R4 / "_reference" / "resources"], FhirVersion.R4)
        ],
        FhirVersion.STU3: [
            FixtureStore.load([ENGINE_STU3 / "_reference" / "resources"], FhirVersion.STU3)
        ],
    }
    tokens = TokenRegistry.read(SCRIPTS / "Configuration" / "QualificationTokens.json")
    return Simulator(stores, tokens)


def nictiz_simulator(nictiz: Path) -> Simulator:
    """A simulator holding every Nictiz fixture folder, one store per folder."""
    stores: dict[FhirVersion, list[FixtureStore]] = {}
    for version in FhirVersion:
        for folder in sorted(
            (nictiz / "output" / version.release).glob("*/*/*/_reference/resources")
        ):
            stores.setdefault(version, []).append(FixtureStore.load([folder], version))
    tokens = TokenRegistry.read(nictiz / "Configuration" / "QualificationTokens.json")
    return Simulator(stores, tokens)


def simulator_client(simulator: Simulator, mutate: Mutate | None = None) -> httpx.Client:
    """An httpx client whose requests to http://fhir.test/{stu3,r4}/… the simulator answers."""

    def handle(request: httpx.Request) -> httpx.Response:
        prefix, _, path = request.url.path.lstrip("/").partition("/")
        version = FhirVersion.STU3 if prefix == "stu3" else FhirVersion.R4
        reply = simulator.handle(
            version,
            request.method,
            f"http://fhir.test/{prefix}",
            path,
            parse_qsl(request.url.query.decode(), keep_blank_values=True),
            list(request.headers.items()),
            str(request.url),
        )
        status, body = reply.status, reply.body
        headers = {"content-type": reply.content_type, **dict(reply.headers)}
        if mutate is not None and reply.content_type.endswith("json"):
            status, changed = mutate(request, status, json.loads(body))
            body = json.dumps(changed).encode()
        return httpx.Response(status, headers=headers, content=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


@pytest.fixture(scope="session")
def nictiz(shared_data: Path) -> Path:
    """The Nictiz-testscripts material (scripts, fixtures, tokens); skips when absent."""
    folder = shared_data / "nictiz-testscripts"
    tokens = folder / "Configuration" / "QualificationTokens.json"
    if not (folder / "output").is_dir() or not tokens.is_file():
        pytest.skip(f"Nictiz TestScripts not found at {folder} (output/ and {tokens.name})")
    return folder
