"""A small world over real HTTPS for the collector: the Stelselnode and the collector.

The world (medmij_stack.wiring.world) has a collector, one PGO on the Whitelist, one on the OCL
but not on the Whitelist, and a DVA of ours whose nodes are on the Whitelist but not run here:
its back-channel certificate delivers the authorisation server's records. The Stelselnode is
the real app from ``medmij_stack.wiring.roles``; the collector is the real app with small
limits, so that the limits can be reached. Both listen on 127.0.0.1 with the dev PKI and mutual
TLS exactly as in the stack.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from medmij_stack.collector.app import create_app
from medmij_stack.collector.settings import CollectorSettings
from medmij_stack.protocol.ketenlog import Event, EventType, Record, RequestInfo, ResponseInfo
from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.asgi_tls import ASGIApp
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.ketenlog_delivery import DELIVERY_PATH, RECORDS_PATH
from medmij_stack.runtime.net import make_client
from medmij_stack.wiring.roles import Role, collector_locations, listeners_for
from medmij_stack.wiring.world import World
from tests.authserver.conftest import Served, serve_together

PGO = "pgo.localhost"
UNTRUSTED_PGO = "niet-vertrouwd.pgo.localhost"  # on the OCL, not on the Whitelist
STRANGER = "stranger.localhost"  # a valid dev certificate, on no list
AUTHSERVER = "api.dva.localhost"  # the DVA's back channel: on the Whitelist
FRONT = "inlog.dva.localhost"  # the DVA's front channel: records under it come from AUTHSERVER
READER = "fhir.dva.localhost"  # on the Whitelist; named a reader of everything below

MAX_BYTES = 20_000
MAX_RECORDS = 40
PAGE = 25

WORLD: dict[str, Any] = {
    "world": {"name": "Collectorwereld", "development": True, "seed": 7},
    "stelselnode": {"hostname": "stelselnode.localhost", "port": 1, "refresh_seconds": 5},
    "collector": {"hostname": "collector.localhost", "port": 2},
    "persons": {"count": 2},
    "pgo": [
        {"hostname": PGO, "naam": "Test PGO", "external": True},
        {"hostname": UNTRUSTED_PGO, "naam": "Niet-vertrouwde PGO", "external": True,
         "whitelisted": False},
    ],
    "dva": [
        {
            "id": "test-dva", "naam": "Test DVA", "telefoon": "088 000 0000",
            "front": {"hostname": FRONT, "port": 3},
            "back": {"hostname": AUTHSERVER, "port": 4},
            "resource": {"hostname": READER, "port": 5},
            "zorgaanbieder": [
                {"naam": "ziekenhuistest@medmij", "weergavenaam": "Ziekenhuis Teststad",
                 "gegevensdiensten": ["48"]},
            ],
        },
    ],
}  # fmt: skip


# --- running servers ---------------------------------------------------------------------------


@dataclass
class CollectorWorld:
    """The world, its PKI and where its nodes keep their data."""

    __test__ = False

    world: World
    pki: DevPKI
    data_dir: Path

    @property
    def collector_url(self) -> str:
        assert self.world.collector is not None
        return self.world.collector.endpoint.url()

    @property
    def delivery_url(self) -> str:
        return self.collector_url + DELIVERY_PATH

    @property
    def records_url(self) -> str:
        return self.collector_url + RECORDS_PATH

    def client(self, hostname: str | None = None) -> httpx.Client:
        """An HTTPS client trusting the dev root; with ``hostname``'s certificate for mTLS."""
        cert = None if hostname is None else self.pki.leaf(hostname)
        return make_client(trust=[self.pki.root_cert], cert=cert, hosts=self.world.hosts())

    def node_settings(self, hostname: str, data_dir: Path) -> dict[str, Any]:
        """What every node's settings hold, for ``hostname`` (as the wiring fills them)."""
        leaf = self.pki.leaf(hostname)
        stelsel = self.world.stelselnode.endpoint
        return {
            "development": True,
            "hostname": hostname,
            "cert": leaf.cert,
            "key": leaf.key,
            "trust": (self.pki.root_cert,),
            "hosts": self.world.hosts(),
            "lists": {kind: stelsel.url(f"/{kind.filename}") for kind in ListKind},
            "lists_refresh_seconds": 5.0,
            "data_dir": data_dir,
        }

    def collector_settings(self, **limits: Any) -> CollectorSettings:
        assert self.world.collector is not None
        return CollectorSettings(
            locations=collector_locations(self.world),
            readers=(READER,),
            **self.node_settings(self.world.collector.hostname, self.data_dir / "collector"),
            **limits,
        )

    def stelselnode(self) -> Served:
        (listener,) = listeners_for(Role.STELSELNODE, self.world, self.pki, self.data_dir)
        return Served(
            listener.app,  # type: ignore[arg-type]
            listener.endpoint.port,
            self.pki.leaf(listener.endpoint.hostname),
            listener.client_certs,
        )

    def collector(self, app: ASGIApp) -> Served:
        assert self.world.collector is not None
        endpoint = self.world.collector.endpoint
        return Served(app, endpoint.port, self.pki.leaf(endpoint.hostname), "optional")

    def wait_healthy(self) -> None:
        """Until the collector holds the lists (its /health says 200)."""
        deadline = time.monotonic() + 30
        with self.client() as client:
            while True:
                try:
                    if client.get(f"{self.collector_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the collector did not become healthy")
                time.sleep(0.05)


def make_world(base: Path) -> CollectorWorld:
    world = World.model_validate(WORLD).with_free_ports()
    hosts = (*world.our_hostnames(), PGO, UNTRUSTED_PGO, STRANGER)
    return CollectorWorld(world, ensure_dev_pki(base / "certs", hosts), base / "data")


@contextmanager
def running_collector(base: Path, **limits: Any) -> Iterator[CollectorWorld]:
    """The Stelselnode and a collector with ``limits`` (default: the small ones above)."""
    made = make_world(base)
    options = {
        "max_batch_bytes": MAX_BYTES,
        "max_batch_records": MAX_RECORDS,
        "max_read_records": PAGE,
        **limits,
    }
    app = create_app(made.collector_settings(**options))
    with serve_together([made.stelselnode(), made.collector(app)], made.pki):
        made.wait_healthy()
        yield made


@pytest.fixture(scope="module")
def collector_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorWorld]:
    with running_collector(tmp_path_factory.mktemp("collector-world")) as running:
        yield running


# --- records -----------------------------------------------------------------------------------

_sequences = itertools.count(1)


def fresh_sequences(count: int) -> list[int]:
    """Sequences no other test in this session used: the module's collector is shared."""
    return [next(_sequences) for _ in range(count)]


def record(
    type: EventType = EventType.SEND_TOKEN_REQUEST,
    *,
    location: str = PGO,
    at: datetime | None = None,
    trace_id: str = "trace-1",
    session_id: str | None = "session-1",
    request_id: str | None = None,
    status: int | None = None,
) -> dict[str, Any]:
    """A ketenlog record as JSON, as a service stores it."""
    moment = at or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    return Record(
        Event(type, location, moment, session_id, trace_id),
        request=RequestInfo(id=request_id) if request_id else None,
        response=ResponseInfo(id=request_id, status=status) if status is not None else None,
    ).to_json()


def entry(sequence: int, document: dict[str, Any], sender: str = PGO) -> dict[str, Any]:
    return {"sender": sender, "sequence": sequence, "record": document}
