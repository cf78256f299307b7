"""The stack's apps in this process, as `medmij up` builds them, for fuzzing without sockets.

One small world (medmij_stack.wiring.world): a Stelselnode, one DVA of ours (authorisation
server front and back, resource server) and two PGOs, one not on the Whitelist. The apps
are built by :func:`medmij_stack.wiring.roles.listeners_for`, wrapped in :class:`AsPeer`
(the TLS scope extension uvicorn fills from the handshake,
medmij_stack.runtime.asgi_tls), and driven by Starlette's TestClient, which runs each app's
lifespan. The Stelselnode alone listens on 127.0.0.1, because every other node subscribes
to its lists over HTTPS; the resource server introspects at the in-process back channel
through an ASGI transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from medmij_stack.runtime.asgi_tls import ASGIApp, Receive, Scope, Send, TLSExtension
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.threaded_server import listening_socket, serving_in_thread
from medmij_stack.runtime.tls import server_context
from medmij_stack.wiring.roles import Role, listeners_for, zorgaanbieder_settings
from medmij_stack.wiring.world import World
from medmij_stack.zorgaanbieder.app import create_app as create_resource_server

PGO = "pgo.fuzz.localhost"
UNTRUSTED_PGO = "vreemd.pgo.fuzz.localhost"  # on the OCL, not on the Whitelist
STRANGER = "stranger.fuzz.localhost"  # a dev certificate, on no list
PEER_HEADER = "x-fuzz-peer"  # which certificate the request's connection presents

WORLD: dict[str, Any] = {
    "world": {"name": "Fuzzwereld", "development": True, "seed": 77},
    "stelselnode": {"hostname": "stelselnode.fuzz.localhost", "port": 1, "refresh_seconds": 60},
    "persons": {"count": 3},
    "pgo": [
        {"hostname": PGO, "naam": "Fuzz PGO", "external": True},
        {"hostname": UNTRUSTED_PGO, "naam": "Vreemde PGO", "external": True,
         "whitelisted": False},
    ],
    "dva": [
        {
            "id": "fuzz-dva", "naam": "Fuzz DVA", "telefoon": "088 000 0000",
            "front": {"hostname": "inlog.fuzz.localhost", "port": 2},
            "back": {"hostname": "api.fuzz.localhost", "port": 3},
            "resource": {"hostname": "fhir.fuzz.localhost", "port": 4},
            "zorgaanbieder": [
                {"naam": "ziekenhuisfuzz@medmij", "weergavenaam": "Ziekenhuis Fuzz",
                 "gegevensdiensten": ["48", "63"]},
                {"naam": "huisartsfuzz@medmij", "weergavenaam": "Huisarts Fuzz",
                 "gegevensdiensten": ["48"], "deelt": False},
            ],
        },
    ],
}  # fmt: skip


def _extension(der: bytes | None) -> TLSExtension:
    return TLSExtension(
        client_cert_chain=[ssl.DER_cert_to_PEM_cert(der)] if der else [],
        client_cert_name=None,
        client_cert_error=None,
        tls_version=0x0304,
        cipher_suite=0x1301,
        server_cert=None,
        client_cert_der=der,
    )


class AsPeer:
    """The app behind a TLS connection whose client certificate the request chooses.

    The ``x-fuzz-peer`` header names a host of the dev PKI (absent: no certificate); it is
    taken out of the request before the app sees it.
    """

    def __init__(self, app: ASGIApp, certificates: Mapping[str, bytes], default: str | None):
        self._app = app
        self._certificates = certificates
        self._default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = list(scope.get("headers") or [])
            peer = self._default
            kept = []
            for name, value in headers:
                if name.lower() == PEER_HEADER.encode():
                    peer = value.decode("latin-1") or None
                else:
                    kept.append((name, value))
            der = None if peer is None else self._certificates.get(peer)
            scope = {**scope, "headers": kept, "scheme": "https"}
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": _extension(der)}
        await self._app(scope, receive, send)


class InProcess:
    """A blocking HTTP client of one ASGI app, whose lifespan runs while it is open."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self._app = app
        self._base_url = base_url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._client: httpx.AsyncClient | None = None
        self._shutdown: asyncio.Event | None = None
        self._lifespan: asyncio.Future[None] | None = None

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=120)

    def __enter__(self) -> InProcess:
        self._thread.start()
        started: asyncio.Future[None] = self._loop.create_future()

        async def lifespan() -> None:
            self._shutdown = asyncio.Event()
            sent = False

            async def receive() -> dict[str, str]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "lifespan.startup"}
                assert self._shutdown is not None
                await self._shutdown.wait()
                return {"type": "lifespan.shutdown"}

            async def send(message: Mapping[str, Any]) -> None:
                if message["type"] == "lifespan.startup.complete":
                    started.set_result(None)
                elif message["type"] == "lifespan.startup.failed":
                    started.set_exception(RuntimeError(message.get("message", "")))

            await self._app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                            receive, send)  # fmt: skip

        async def start() -> None:
            self._lifespan = asyncio.ensure_future(lifespan())
            await started
            self._client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self._app),
                base_url=self._base_url,
                follow_redirects=False,
                timeout=60,
            )

        self._run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._client is not None:
                await self._client.aclose()
            if self._shutdown is not None:
                self._shutdown.set()
            if self._lifespan is not None:
                await asyncio.wait_for(self._lifespan, 30)

        try:
            self._run(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self._client is not None
        response: httpx.Response = self._run(self._client.request(method, url, **kwargs))
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@dataclass
class Stack:
    world: World
    pki: DevPKI
    clients: dict[str, InProcess]  # "front", "back", "resource", "stelselnode"
    apps: dict[str, Any]

    def host(self, node: str) -> str:
        """The host name of the DVA's "back" or "resource" node."""
        (dva,) = self.world.ours()
        endpoint = dva.back if node == "back" else dva.resource
        assert endpoint is not None
        return endpoint.hostname


def _der(pki: DevPKI, host: str) -> bytes:
    # The leaf's file holds its chain; the connection's certificate is the first.
    first = x509.load_pem_x509_certificates(Path(pki.leaf(host).cert).read_bytes())[0]
    return first.public_bytes(serialization.Encoding.DER)


def _wait_healthy(client: InProcess, what: str) -> None:
    deadline = time.monotonic() + 60
    while client.get("/health").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become healthy")
        time.sleep(0.05)


@contextlib.contextmanager
def running_stack(base: Path) -> Iterator[Stack]:
    world = World.model_validate(WORLD).with_free_ports()
    pki = ensure_dev_pki(base / "certs", (*world.our_hostnames(), PGO, UNTRUSTED_PGO, STRANGER))
    certificates = {
        host: _der(pki, host) for host in (*world.our_hostnames(), PGO, UNTRUSTED_PGO, STRANGER)
    }
    data_dir = base / "data"
    (lists,) = listeners_for(Role.STELSELNODE, world, pki, data_dir)
    (dva,) = world.ours()
    assert dva.front is not None
    assert dva.back is not None
    assert dva.resource is not None
    front, back = listeners_for(Role.AUTHSERVER, world, pki, data_dir, instance=dva.id)
    back_app = AsPeer(back.app, certificates, default=None)  # type: ignore[arg-type]

    back_url, resource_host = str(dva.back.url()), dva.resource.hostname

    def introspection_client() -> httpx.AsyncClient:
        # The back channel in this process, asked as the resource server's node.
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=back_app),
            base_url=back_url,
            headers={PEER_HEADER: resource_host},
        )

    resource_settings = zorgaanbieder_settings(world, pki, data_dir, dva=dva)
    resource_app = create_resource_server(
        resource_settings, introspection_client=introspection_client
    )
    leaf = pki.leaf(lists.endpoint.hostname)
    context = server_context(leaf.cert, leaf.key, trust=[pki.root_cert], client_certs="none")
    sock = listening_socket("127.0.0.1", lists.endpoint.port)
    import uvicorn

    from medmij_stack.runtime.asgi_tls import uvicorn_config

    config = uvicorn_config(
        lists.app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=lists.endpoint.port,
        ssl_context=context,
        http="h11",
        loop="asyncio",
        lifespan="on",
        log_config=None,
        access_log=False,
    )
    assert isinstance(config, uvicorn.Config)
    with serving_in_thread(config, sock, start_timeout=30, stop_timeout=30):
        apps = {
            "front": AsPeer(front.app, certificates, default=None),  # type: ignore[arg-type]
            "back": back_app,
            "resource": AsPeer(resource_app, certificates, default=PGO),
            "stelselnode": AsPeer(lists.app, certificates, default=None),  # type: ignore[arg-type]
        }
        urls = {
            "front": str(dva.front.url()),
            "back": str(dva.back.url()),
            "resource": str(dva.resource.url()),
            "stelselnode": str(world.stelselnode.endpoint.url()),
        }
        with contextlib.ExitStack() as stack:
            clients = {
                name: stack.enter_context(InProcess(app, urls[name])) for name, app in apps.items()
            }
            for name in ("front", "resource"):
                _wait_healthy(clients[name], name)
            yield Stack(world, pki, clients, apps)
