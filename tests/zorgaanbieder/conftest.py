"""A small MedMij world over real HTTPS on 127.0.0.1: a Stelselnode publishing its lists,
and resource servers built from that world's settings, each in a uvicorn thread.

The resource servers use the real store (a SQLite file per server) and are reached with
the PGO's certificate, as a PGO would reach them; their Whitelist gate is fed by the
Stelselnode, so what is admitted and refused is decided by the published Whitelist.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from medmij_stack.protocol.dva_contract import INTROSPECTION_PATH
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.runtime.asgi_tls import ASGIApp, uvicorn_config
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.net import make_client
from medmij_stack.runtime.threaded_server import listening_socket, serving_in_thread
from medmij_stack.runtime.tls import server_context
from medmij_stack.wiring.roles import Role, listeners_for, zorgaanbieder_settings
from medmij_stack.wiring.world import World
from medmij_stack.zorgaanbieder.app import create_app
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.records import Records
from medmij_stack.zorgaanbieder.settings import ZorgaanbiederSettings
from medmij_stack.zorgaanbieder.sources.nictiz import missing_parts
from tests.conftest import SHARED_DATA

from . import tiny
from .authserver_fake import FakeAuthserver

WORLD = """\
[world]
name = "Zorgaanbiederwereld"
development = true
seed = 11

[stelselnode]
hostname = "stelselnode.za.localhost"
port = 1
refresh_seconds = 5

[persons]
count = 6

[[pgo]]
hostname = "pgo.za.localhost"
naam = "Test PGO"
port = 2

[[dva]]
id = "za-dva"
naam = "Test DVA"
telefoon = "088 000 0000"
front = { hostname = "inlog.za.localhost", port = 3 }
back = { hostname = "api.za.localhost", port = 4 }
resource = { hostname = "fhir.za.localhost", port = 5 }

[[dva.zorgaanbieder]]
naam = "ziekenhuis@medmij"
weergavenaam = "Testziekenhuis"
gegevensdiensten = ["48", "63"]

[[dva.zorgaanbieder]]
naam = "ggd@medmij"
weergavenaam = "Test GGD"
gegevensdiensten = ["63"]

[[dva.zorgaanbieder]]
naam = "huisarts@medmij"
weergavenaam = "Testhuisarts"
gegevensdiensten = ["48"]
deelt = false

[[dva.zorgaanbieder]]
naam = "kwalificatie@medmij"
weergavenaam = "Testkwalificatie"
gegevensdiensten = ["48", "63"]
nictiz = true
"""

PGO = "pgo.za.localhost"
AUTHSERVER = "api.za.localhost"
RESOURCE = "fhir.za.localhost"
STRANGER = "stranger.za.localhost"  # certified by the dev PKI, on no Whitelist


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    import tomllib

    return World.model_validate(tomllib.loads(WORLD)).with_free_ports()


@pytest.fixture(scope="session")
def pki(world: World, tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), [*world.our_hostnames(), STRANGER])


@contextmanager
def serving(
    app: ASGIApp, context: ssl.SSLContext, port: int = 0, *, lifespan: str = "on"
) -> Iterator[int]:
    """Run uvicorn on 127.0.0.1 (``port`` 0: a free one) in a thread; yield the port."""
    sock = listening_socket("127.0.0.1", port)
    config = uvicorn_config(
        app,
        host="127.0.0.1",
        port=sock.getsockname()[1],
        ssl_context=context,
        http="h11",
        loop="asyncio",
        lifespan=lifespan,
        log_config=None,
        access_log=False,
    )
    # Startup loads a dataset into the store: slow machines get a minute.
    with serving_in_thread(config, sock, start_timeout=60, stop_timeout=30) as bound:
        yield bound


@pytest.fixture(scope="session")
def stelselnode(
    world: World, pki: DevPKI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The world's Stelselnode, publishing its ZAL, OCL, GNL and Whitelist."""
    [listener] = listeners_for(Role.STELSELNODE, world, pki, tmp_path_factory.mktemp("stelselnode"))
    leaf = pki.leaf(listener.endpoint.hostname)
    context = server_context(leaf.cert, leaf.key, trust=[pki.root_cert], client_certs="none")
    with serving(listener.app, context, listener.endpoint.port, lifespan="off"):  # type: ignore[arg-type]
        yield listener.endpoint.url()


@pytest.fixture(scope="session")
def persons(world: World) -> tuple[TestPerson, ...]:
    return world.persons_list()


@dataclass
class Running:
    """A resource server under test, and how to reach it."""

    settings: ZorgaanbiederSettings
    port: int
    pki: DevPKI
    app: Any

    @property
    def url(self) -> str:
        return f"https://{RESOURCE}:{self.port}"

    def base(self, zorgaanbieder: str, gegevensdienst: str) -> str:
        return f"{self.url}/{zorgaanbieder.removesuffix('@medmij')}/{gegevensdienst}/fhir"

    def client(self, as_host: str | None = PGO, *, timeout: float = 30.0) -> httpx.Client:
        """A client with this node's certificate (None: no client certificate)."""
        return make_client(
            trust=[self.pki.root_cert],
            cert=None if as_host is None else self.pki.leaf(as_host),
            hosts={RESOURCE: "127.0.0.1"},
            timeout=timeout,
        )

    @property
    def framework(self) -> Any:
        """The FastAPI app behind the front (zorgaanbieder.front.ResourceFront)."""
        app = self.app
        while not hasattr(app, "state"):
            app = app.app
        return app

    @property
    def server(self) -> Any:
        return self.framework.state.server


Start = Callable[..., AbstractContextManager[Running]]


@pytest.fixture(scope="session")
def start_resource_server(
    world: World, pki: DevPKI, stelselnode: str, tmp_path_factory: pytest.TempPathFactory
) -> Start:
    """``with start(datasets=…, records=…, **settings) as running:`` one resource server.

    Settings come from the world exactly as ``medmij up`` makes them, with ``overrides``
    on top; it listens on a free port and is healthy (its lists have arrived) on entry.
    """

    @contextmanager
    def start(
        *,
        datasets: Sequence[Dataset] | None = None,
        records: Records | None = None,
        introspection_client: Callable[[], httpx.AsyncClient] | None = None,
        clock: Clock = system_clock,
        **overrides: Any,
    ) -> Iterator[Running]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        data_dir = tmp_path_factory.mktemp("zorgaanbieder")
        base = zorgaanbieder_settings(world, pki, data_dir, dva=world.ours()[0])
        fields = base.model_dump() | {"public_url": f"https://{RESOURCE}:{port}"} | overrides
        settings = ZorgaanbiederSettings(**fields)
        app = create_app(
            settings,
            records=records,
            datasets=None if datasets is None else (lambda: list(datasets)),
            introspection_client=introspection_client,
            clock=clock,
        )
        leaf = pki.leaf(RESOURCE)
        context = server_context(
            leaf.cert, leaf.key, trust=[pki.root_cert], client_certs="optional"
        )
        with serving(app, context, port):
            running = Running(settings, port, pki, app)
            with running.client(None) as client:
                deadline = time.monotonic() + 30
                while client.get(f"{running.url}/health").status_code != 200:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the resource server's lists did not arrive")
                    time.sleep(0.05)
            yield running

    return start


@pytest.fixture(scope="session")
def fake_authserver(pki: DevPKI) -> Iterator[FakeAuthserver]:
    """The stand-in authorisation server, listening as the world's DVA back node."""
    fake = FakeAuthserver()
    leaf = pki.leaf(AUTHSERVER)
    context = server_context(leaf.cert, leaf.key, trust=[pki.root_cert], client_certs="required")
    with serving(fake.app(), context, lifespan="off") as port:
        fake.url = f"https://{AUTHSERVER}:{port}{INTROSPECTION_PATH}"
        yield fake


@pytest.fixture(scope="session")
def tiny_datasets(persons: tuple[TestPerson, ...]) -> list[Dataset]:
    a, b = persons[0], persons[1]
    return [
        tiny.bgz("ziekenhuis@medmij", a, b),
        tiny.vaccinaties("ziekenhuis@medmij", a, b),
    ]


NICTIZ = SHARED_DATA / "nictiz-testscripts"


def nictiz_unusable(root: Path = NICTIZ) -> str | None:
    """Why the Nictiz qualification material at ``root`` cannot be served (the reason a
    test that needs it skips with), or None when it is complete."""
    if not root.is_dir():
        return f"Nictiz qualification material not found at {root}"
    missing = missing_parts(root)
    if missing:
        return f"Nictiz qualification material at {root} lacks {', '.join(missing)}"
    return None


@pytest.fixture(scope="session")
def nictiz_root(shared_data: Path) -> Path:
    """The Nictiz-testscripts material in the layout the resource server reads; skips when
    it is absent or incomplete."""
    root = shared_data / "nictiz-testscripts"
    reason = nictiz_unusable(root)
    if reason is not None:
        pytest.skip(reason)
    return root
