"""A small MedMij world over real HTTPS, built the way `medmij up` builds it.

One test world (medmij_stack.wiring.world): two whitelisted PGOs on the OCL, one PGO on the OCL but
not on the Whitelist, and two DVAs of ours, one with optional and one with required PKCE. The
Stelselnode and both authorisation servers are the real apps from ``medmij_stack.wiring.roles``; the
resource node is a small fake that answers the beschikbaarheidstoets of
medmij_stack.protocol.dva_contract behind the real Whitelist gate, so the authorisation server is
tested without the resource server. Every server listens on 127.0.0.1 with the dev PKI and
mutual TLS exactly as in the stack (medmij_stack.runtime.asgi_tls, medmij_stack.runtime.tls).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from medmij_stack.authserver.db import Database
from medmij_stack.protocol.dva_contract import (
    AVAILABILITY_PATH,
    REVOCATION_PATH,
    AvailabilityAnswer,
    AvailabilityQuestion,
    RevocationNotice,
)
from medmij_stack.runtime.asgi_tls import (
    ASGIApp,
    ClientCertificateGate,
    admitted_hostnames,
    uvicorn_config,
)
from medmij_stack.runtime.devpki import DevPKI, LeafFiles, ensure_dev_pki
from medmij_stack.runtime.net import make_client
from medmij_stack.runtime.tls import server_context
from medmij_stack.wiring.roles import Listener, Role, listeners_for
from medmij_stack.wiring.world import World
from tests.databases import BACKENDS, fresh_database

from .browser import Browser

PGO = "pgo.localhost"
OTHER_PGO = "andere.pgo.localhost"  # on the OCL and the Whitelist
UNTRUSTED_PGO = "niet-vertrouwd.pgo.localhost"  # on the OCL, not on the Whitelist
STRANGER = "stranger.localhost"  # a valid dev certificate, on no list
TELEFOON = "088 000 0000"  # made up

WORLD: dict[str, Any] = {
    "world": {"name": "Testwereld", "development": True, "seed": 4242},
    "stelselnode": {"hostname": "stelselnode.localhost", "port": 1, "refresh_seconds": 5},
    "persons": {"count": 8},
    "pgo": [
        {"hostname": PGO, "naam": "Test PGO", "external": True},
        {"hostname": OTHER_PGO, "naam": "Andere PGO", "external": True},
        {"hostname": UNTRUSTED_PGO, "naam": "Niet-vertrouwde PGO", "external": True,
         "whitelisted": False},
    ],
    "dva": [
        {
            "id": "test-dva", "naam": "Test DVA", "telefoon": TELEFOON,
            "front": {"hostname": "inlog.dva.localhost", "port": 2},
            "back": {"hostname": "api.dva.localhost", "port": 3},
            "resource": {"hostname": "fhir.dva.localhost", "port": 4},
            "zorgaanbieder": [
                {"naam": "ziekenhuistest@medmij", "weergavenaam": "Ziekenhuis Teststad",
                 "gegevensdiensten": ["48", "63"]},
                {"naam": "ggdtest@medmij", "weergavenaam": "GGD Testregio",
                 "gegevensdiensten": ["63"]},
                {"naam": "huisartstest@medmij", "weergavenaam": "Huisarts De Test",
                 "gegevensdiensten": ["48"], "deelt": False},
            ],
        },
        {
            "id": "strikt-dva", "naam": "Strikte DVA", "pkce": "required", "telefoon": TELEFOON,
            "front": {"hostname": "inlog.strikt.localhost", "port": 5},
            "back": {"hostname": "api.strikt.localhost", "port": 6},
            "resource": {"hostname": "fhir.strikt.localhost", "port": 7},
            "zorgaanbieder": [
                {"naam": "strikttest@medmij", "weergavenaam": "Strikt Ziekenhuis",
                 "gegevensdiensten": ["48"]},
            ],
        },
        {
            # A legacy client's DVA: serves requests with neither state nor PKCE.
            "id": "oud-dva", "naam": "Oude DVA", "telefoon": TELEFOON,
            "allow_requests_without_state_or_pkce": True,
            "front": {"hostname": "inlog.oud.localhost", "port": 8},
            "back": {"hostname": "api.oud.localhost", "port": 9},
            "resource": {"hostname": "fhir.oud.localhost", "port": 10},
            "zorgaanbieder": [
                {"naam": "oudtest@medmij", "weergavenaam": "Oud Ziekenhuis",
                 "gegevensdiensten": ["48"]},
            ],
        },
    ],
}  # fmt: skip


# --- running servers ------------------------------------------------------------------------


@dataclass
class Served:
    app: ASGIApp
    port: int
    leaf: LeafFiles
    client_certs: str


@contextmanager
def serve_together(served: list[Served], pki: DevPKI) -> Iterator[None]:
    """Run uvicorn servers on one event loop in a thread, as `medmij serve` does for a role."""
    servers = [
        uvicorn.Server(
            uvicorn_config(
                item.app,
                host="127.0.0.1",
                port=item.port,
                ssl_context=server_context(
                    item.leaf.cert,
                    item.leaf.key,
                    trust=[pki.root_cert],
                    client_certs=item.client_certs,  # type: ignore[arg-type]
                ),
                http="h11",
                loop="asyncio",
                lifespan="on",
                log_config=None,
                access_log=False,
            )
        )
        for item in served
    ]

    async def main() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not all(server.started for server in servers):
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("a server did not start")
            time.sleep(0.02)
        yield
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(20)


def _served(listener: Listener, pki: DevPKI) -> Served:
    return Served(
        listener.app,  # type: ignore[arg-type]
        listener.endpoint.port,
        pki.leaf(listener.endpoint.hostname),
        listener.client_certs,
    )


# --- the fake resource node ----------------------------------------------------------------


@dataclass
class FakeResourceNode:
    """Answers the beschikbaarheidstoets; ``holdings`` says who has data where."""

    holdings: dict[str, tuple[str, ...]]  # bsn -> zorgaanbiedernamen with data
    partial: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    down: bool = False
    questions: list[tuple[AvailabilityQuestion, str | None, frozenset[str]]] = field(
        default_factory=list
    )
    # Revocation notices received (medmij_stack.protocol.dva_contract, contract 3): the
    # digests, and the node that sent them.
    notices: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def app(self, whitelist: frozenset[str]) -> ASGIApp:
        async def beschikbaarheid(request: Request) -> JSONResponse:
            question = AvailabilityQuestion.from_json(json.loads(await request.body()))
            self.questions.append(
                (
                    question,
                    request.headers.get("x-correlation-id"),
                    admitted_hostnames(request.scope),
                )
            )
            if self.down:
                return JSONResponse({"error": "storing"}, status_code=500)
            key = (question.zorgaanbieder, question.bsn)
            if key in self.partial:
                have = self.partial[key]
            elif question.zorgaanbieder in self.holdings.get(question.bsn, ()):
                have = question.gegevensdiensten
            else:
                have = ()
            return JSONResponse(AvailabilityAnswer(tuple(have)).to_json())

        async def ingetrokken(request: Request) -> JSONResponse:
            notice = RevocationNotice.from_json(json.loads(await request.body()))
            peer = admitted_hostnames(request.scope)
            self.notices.extend((digest, peer) for digest in notice.access_token_sha256)
            return JSONResponse({"dropped": 0})

        inner = Starlette(
            routes=[
                Route(AVAILABILITY_PATH, beschikbaarheid, methods=["POST"]),
                Route(REVOCATION_PATH, ingetrokken, methods=["POST"]),
            ]
        )
        return ClientCertificateGate(inner, whitelist=lambda: whitelist)


# --- the world ------------------------------------------------------------------------------


@dataclass
class TestWorld:
    __test__ = False

    world: World
    pki: DevPKI
    data_dir: Path
    resource: FakeResourceNode
    channels: dict[str, Listener]  # "test-dva/front", "test-dva/back", …

    def dva(self, dva_id: str = "test-dva") -> Any:
        return self.world.dva_by_id(dva_id)

    def front_url(self, dva_id: str = "test-dva") -> str:
        return str(self.dva(dva_id).front.url())

    def back_url(self, dva_id: str = "test-dva") -> str:
        return str(self.dva(dva_id).back.url())

    def token_url(self, dva_id: str = "test-dva") -> str:
        return str(self.dva(dva_id).token_url)

    def client(self, hostname: str | None = None, *, timeout: float = 10) -> httpx.Client:
        """An HTTPS client trusting the dev root; with ``hostname``'s certificate for mTLS."""
        cert = None if hostname is None else self.pki.leaf(hostname)
        return make_client(
            trust=[self.pki.root_cert], cert=cert, hosts=self.world.hosts(), timeout=timeout
        )

    def browser(self, dva_id: str = "test-dva") -> Browser:
        return Browser(self.client(), self.front_url(dva_id))

    def persons(self) -> list[tuple[str, tuple[str, ...]]]:
        where = self.world.person_zorgaanbieders()
        return [(p.bsn, where[p.bsn]) for p in self.world.persons_list()]

    def bsn_at(self, *zorgaanbieders: str) -> str:
        """A test person with data at every one of ``zorgaanbieders``."""
        for bsn, where in self.persons():
            if all(z in where for z in zorgaanbieders):
                return bsn
        raise LookupError(zorgaanbieders)

    def database(self, dva_id: str = "test-dva") -> Path:
        return self.data_dir / f"authserver-{dva_id}" / "authserver.sqlite3"

    def app_state(self, dva_id: str = "test-dva") -> Any:
        front = self.channels[f"{dva_id}/front"].app
        return front.state  # type: ignore[attr-defined]


def wait_healthy(world: TestWorld) -> None:
    """Until every authorisation server holds its lists (its /health says 200)."""
    urls = [world.front_url(dva.id) for dva in world.world.ours()]
    deadline = time.monotonic() + 30
    with world.client() as client:
        for url in urls:
            while True:
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not become healthy")
                time.sleep(0.05)


def build_world(base: Path) -> tuple[World, DevPKI]:
    world = World.model_validate(WORLD).with_free_ports()
    hosts = (*world.our_hostnames(), PGO, OTHER_PGO, UNTRUSTED_PGO, STRANGER)
    return world, ensure_dev_pki(base / "certs", hosts)


@contextmanager
def running_authservers(world: World, pki: DevPKI, data_dir: Path) -> Iterator[dict[str, Listener]]:
    """Both authorisation servers of the world, built by medmij_stack.wiring.roles, serving until
    exit."""
    channels: dict[str, Listener] = {}
    for dva in world.ours():
        front, back = listeners_for(Role.AUTHSERVER, world, pki, data_dir, instance=dva.id)
        channels[f"{dva.id}/front"] = front
        channels[f"{dva.id}/back"] = back
    with serve_together([_served(item, pki) for item in channels.values()], pki):
        yield channels


@contextmanager
def lists_and_resource_nodes(
    world: World, pki: DevPKI, data_dir: Path
) -> Iterator[FakeResourceNode]:
    """The Stelselnode of the world and a fake resource node for each DVA of ours."""
    (stelselnode,) = listeners_for(Role.STELSELNODE, world, pki, data_dir)
    resource = FakeResourceNode(holdings=dict(world.person_zorgaanbieders()))
    whitelist = frozenset(world.whitelist())
    resource_nodes = [
        Served(
            resource.app(whitelist), dva.resource.port, pki.leaf(dva.resource.hostname), "required"
        )
        for dva in world.ours()
        if dva.resource is not None
    ]
    with serve_together([_served(stelselnode, pki), *resource_nodes], pki):
        yield resource


@contextmanager
def running_world(base: Path) -> Iterator[TestWorld]:
    world, pki = build_world(base)
    data_dir = base / "data"
    with (
        lists_and_resource_nodes(world, pki, data_dir) as resource,
        running_authservers(world, pki, data_dir) as channels,
    ):
        running = TestWorld(world, pki, data_dir, resource, channels)
        wait_healthy(running)
        yield running


@pytest.fixture(scope="session")
def test_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestWorld]:
    with running_world(tmp_path_factory.mktemp("authserver-world")) as running:
        yield running


@pytest.fixture
def tw(test_world: TestWorld) -> Iterator[TestWorld]:
    """The session world, with the fake resource node reset after each test."""
    yield test_world
    test_world.resource.down = False
    test_world.resource.partial.clear()


# --- databases --------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file; and a PostgreSQL schema of its own, dropped afterwards, when
    MEDMIJ_TEST_POSTGRES_URL names a database (scripts/postgres)."""
    with fresh_database(request.param, tmp_path, "authserver") as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.close()
