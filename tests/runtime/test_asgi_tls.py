"""A real uvicorn back-channel server: handshake rules, the TLS extension, the Whitelist gate."""

from __future__ import annotations

import json
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import medmij_stack.runtime.asgi_tls
from medmij_stack.runtime.asgi_tls import (
    ClientCertificateGate,
    Scope,
    TLSH11Protocol,
    TLSHttpToolsProtocol,
    TLSUvicornConfig,
    admitted_hostnames,
    peer_certificate,
    uvicorn_config,
)
from medmij_stack.runtime.devpki import DevPKI, LeafFiles
from medmij_stack.runtime.net import make_client
from medmij_stack.runtime.threaded_server import listening_socket
from medmij_stack.runtime.tls import client_context, server_context

from .conftest import HANDSHAKE_FAILURES, Reply, ServeFactory

TLS13_SUITES = {0x1301, 0x1302, 0x1303}
TLS12_GOOD_SUITES = {0xC02B, 0xC02C, 0xCCA9}  # ECDSA server key: the ECDSA "goed" suites


@dataclass
class Server:
    port: int
    whitelist: frozenset[str] | None = None
    seen: list[str] = field(default_factory=list)


def _app(server: Server) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        server.seen.append(request.url.path)
        tls = request.scope["extensions"]["tls"]
        cert = peer_certificate(request.scope)
        return JSONResponse(
            {
                "peer": sorted(admitted_hostnames(request.scope)),
                "client_cert_name": tls["client_cert_name"],
                "client_cert_chain": tls["client_cert_chain"],
                "client_cert_error": tls["client_cert_error"],
                # Our non-standard DER copy is the same certificate as the standard PEM one.
                "der_matches": cert is not None
                and ssl.DER_cert_to_PEM_cert(tls["client_cert_der"]) == tls["client_cert_chain"][0],
                "tls_version": tls["tls_version"],
                "cipher_suite": tls["cipher_suite"],
                "server_cert": tls["server_cert"],
            }
        )

    async def health(request: Request) -> JSONResponse:
        server.seen.append(request.url.path)
        tls = request.scope["extensions"]["tls"]
        return JSONResponse({"status": "ok", "client_cert_chain": tls["client_cert_chain"]})

    return Starlette(routes=[Route("/", whoami), Route("/health", health)])


@pytest.fixture(
    scope="module",
    params=[("h11", "asyncio"), ("httptools", "uvloop")],
    ids=["h11-asyncio", "httptools-uvloop"],
)
def running(
    request: pytest.FixtureRequest, dev_pki: DevPKI, serve: ServeFactory
) -> Iterator[Server]:
    http, loop = request.param
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )
    server = Server(port=0)
    gate = ClientCertificateGate(_app(server), whitelist=lambda: server.whitelist)
    with serve(gate, context, http=http, loop=loop) as port:
        server.port = port
        yield server


@pytest.fixture
def server(running: Server) -> Server:
    running.whitelist = frozenset({"pgo.localhost", "stelselnode.localhost"})
    running.seen.clear()
    return running


def _client(dev_pki: DevPKI, leaf: LeafFiles | None) -> ssl.SSLContext:
    if leaf is None:
        return client_context([dev_pki.trust_bundle()])
    return client_context([dev_pki.trust_bundle()], cert=leaf.cert, key=leaf.key)


def _refusal(reply: Reply) -> str:
    assert reply.status == 403
    assert reply.headers["content-type"] == "application/json"
    body = json.loads(reply.body)
    assert body["error"] == "access_denied"
    description = body["error_description"]
    assert isinstance(description, str)
    return description


def test_whitelisted_client_is_admitted(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    reply = fetch(_client(dev_pki, dev_pki.leaf("pgo.localhost")), server.port)
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["peer"] == ["pgo.localhost"]
    assert "CN=pgo.localhost" in body["client_cert_name"]
    assert len(body["client_cert_chain"]) == 1
    assert body["client_cert_chain"][0].startswith("-----BEGIN CERTIFICATE-----")
    assert body["der_matches"]
    assert body["client_cert_error"] is None
    assert body["server_cert"] is None
    # core.tls.304: both sides support 1.3, so 1.3 it is.
    assert body["tls_version"] == 0x0304
    assert body["cipher_suite"] in TLS13_SUITES
    assert server.seen == ["/"]


def test_tls12_client_is_admitted_with_a_good_suite(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    context = _client(dev_pki, dev_pki.leaf("pgo.localhost"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    reply = fetch(context, server.port)
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["tls_version"] == 0x0303
    assert body["cipher_suite"] in TLS12_GOOD_SUITES


def test_client_without_certificate_is_refused(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    reply = fetch(_client(dev_pki, None), server.port)
    assert "client certificate is required" in _refusal(reply)
    assert server.seen == []


def test_certificate_not_on_whitelist_is_refused(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    reply = fetch(_client(dev_pki, dev_pki.leaf("stranger.localhost")), server.port)
    assert "stranger.localhost" in _refusal(reply)
    assert server.seen == []


def test_no_whitelist_loaded_fails_closed(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    server.whitelist = None
    reply = fetch(_client(dev_pki, dev_pki.leaf("pgo.localhost")), server.port)
    assert "no Whitelist" in _refusal(reply)
    assert server.seen == []


def test_whitelist_is_case_insensitive(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    server.whitelist = frozenset({"PGO.Localhost"})
    reply = fetch(_client(dev_pki, dev_pki.leaf("pgo.localhost")), server.port)
    assert reply.status == 200


def test_certificate_from_another_ca_fails_the_handshake(
    server: Server, dev_pki: DevPKI, foreign_leaf: LeafFiles, fetch: Callable[..., Reply]
) -> None:
    with pytest.raises(HANDSHAKE_FAILURES):
        fetch(_client(dev_pki, foreign_leaf), server.port)
    assert server.seen == []


def test_expired_certificate_fails_the_handshake(
    server: Server, dev_pki: DevPKI, expired_leaf: LeafFiles, fetch: Callable[..., Reply]
) -> None:
    with pytest.raises(HANDSHAKE_FAILURES):
        fetch(_client(dev_pki, expired_leaf), server.port)
    assert server.seen == []


def test_tls11_client_fails_the_handshake(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    files = dev_pki.leaf("pgo.localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        # Python warns that TLS 1.0/1.1 are deprecated, which is the point of this client.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.load_verify_locations(cafile=dev_pki.trust_bundle())
    context.load_cert_chain(files.cert, files.key)
    with pytest.raises(ssl.SSLError):
        fetch(context, server.port)
    assert server.seen == []


def test_tls12_client_with_only_cbc_suites_fails_the_handshake(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    context = _client(dev_pki, dev_pki.leaf("pgo.localhost"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(
        "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA"
    )
    with pytest.raises(ssl.SSLError):
        fetch(context, server.port)
    assert server.seen == []


def test_health_needs_no_certificate(
    server: Server, dev_pki: DevPKI, fetch: Callable[..., Reply]
) -> None:
    reply = fetch(_client(dev_pki, None), server.port, "/health")
    assert reply.status == 200
    assert json.loads(reply.body) == {"status": "ok", "client_cert_chain": []}
    assert server.seen == ["/health"]


def test_tls_extension_is_parsed_once_per_connection_and_gate_runs_per_request(
    server: Server, dev_pki: DevPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    original = medmij_stack.runtime.asgi_tls.tls_extension

    def counting(ssl_object: Any) -> medmij_stack.runtime.asgi_tls.TLSExtension:
        calls.append(ssl_object)
        return original(ssl_object)

    monkeypatch.setattr(medmij_stack.runtime.asgi_tls, "tls_extension", counting)
    with make_client(
        trust=[dev_pki.trust_bundle()],
        cert=dev_pki.leaf("pgo.localhost"),
        hosts={"za.localhost": "127.0.0.1"},
    ) as client:
        url = f"https://za.localhost:{server.port}/"
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 200
        # A Whitelist update applies to the very next request on a kept-alive connection.
        server.whitelist = frozenset({"stelselnode.localhost"})
        refused = client.get(url)
        assert refused.status_code == 403
        assert refused.json()["error"] == "access_denied"
    assert len(calls) == 1
    assert server.seen == ["/", "/"]


# --- server_context(client_certs="required"), no gate -------------------------------------


async def _plain_app(scope: Scope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = json.dumps({"has_cert": peer_certificate(scope) is not None}).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_required_mode_without_certificate_fails_the_handshake(
    dev_pki: DevPKI, serve: ServeFactory, fetch: Callable[..., Reply]
) -> None:
    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="required"
    )
    with serve(_plain_app, context, http="h11") as port:
        with pytest.raises(HANDSHAKE_FAILURES):
            fetch(_client(dev_pki, None), port)
        reply = fetch(_client(dev_pki, dev_pki.leaf("pgo.localhost")), port)
        assert reply.status == 200
        assert json.loads(reply.body) == {"has_cert": True}


# --- configuration --------------------------------------------------------------------------


def test_uvicorn_config_installs_our_context_and_protocol(dev_pki: DevPKI) -> None:
    files = dev_pki.leaf("za.localhost")
    context = server_context(files.cert, files.key, trust=[], client_certs="none")
    config = uvicorn_config(
        _plain_app, host="127.0.0.1", port=0, ssl_context=context, log_config=None
    )
    assert isinstance(config, TLSUvicornConfig)
    assert config.proxy_headers is False
    config.load()
    assert config.ssl is context
    assert config.is_ssl
    assert config.http_protocol_class is TLSHttpToolsProtocol
    assert config.ws_protocol_class is None
    h11 = uvicorn_config(
        _plain_app, host="127.0.0.1", port=0, ssl_context=context, http="h11", log_config=None
    )
    h11.load()
    assert h11.http_protocol_class is TLSH11Protocol


def test_uvicorn_config_refuses_its_own_tls_settings(dev_pki: DevPKI) -> None:
    files = dev_pki.leaf("za.localhost")
    context = server_context(files.cert, files.key, trust=[], client_certs="none")
    with pytest.raises(TypeError, match="ssl_context"):
        uvicorn_config(
            _plain_app,
            host="127.0.0.1",
            port=0,
            ssl_context=context,
            ssl_certfile=str(files.cert),
            log_config=None,
        )
    with pytest.raises(ValueError, match="proxy_headers"):
        uvicorn_config(
            _plain_app,
            host="127.0.0.1",
            port=0,
            ssl_context=context,
            proxy_headers=True,
            log_config=None,
        )


# --- the gate as plain ASGI ----------------------------------------------------------------


def _scope(path: str = "/token", *, chain: list[str] | None = None, **tls: Any) -> Scope:
    scope: Scope = {"type": "http", "path": path, "client": ("127.0.0.1", 1), "state": {}}
    if chain is not None:
        scope["extensions"] = {
            "tls": {
                "client_cert_chain": chain,
                "client_cert_name": None,
                "client_cert_error": None,
                "tls_version": 0x0304,
                "cipher_suite": None,
                "server_cert": None,
                **tls,
            }
        }
    return scope


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.reached: list[Scope] = []

    async def app(self, scope: Scope, receive: Any, send: Any) -> None:
        self.reached.append(scope)

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: Any) -> None:
        self.messages.append(dict(message))


def _pem(leaf: LeafFiles) -> str:
    return (
        leaf.cert.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )


async def test_gate_reads_the_standard_extension_from_other_servers(dev_pki: DevPKI) -> None:
    """Without our client_cert_der key, the gate falls back to client_cert_chain[0]."""
    recorder = _Recorder()
    gate = ClientCertificateGate(recorder.app, whitelist=lambda: {"pgo.localhost"})
    scope = _scope(chain=[_pem(dev_pki.leaf("pgo.localhost"))])
    await gate(scope, recorder.receive, recorder.send)
    assert recorder.reached == [scope]
    assert admitted_hostnames(scope) == frozenset({"pgo.localhost"})
    cert = peer_certificate(scope)
    assert cert is not None


async def test_a_request_that_passed_no_gate_has_no_admitted_names(dev_pki: DevPKI) -> None:
    # An exempt path carries a certificate, but nobody checked it against the Whitelist.
    recorder = _Recorder()
    gate = ClientCertificateGate(
        recorder.app, whitelist=lambda: {"pgo.localhost"}, exempt_paths=("/token",)
    )
    scope = _scope(chain=[_pem(dev_pki.leaf("pgo.localhost"))])
    await gate(scope, recorder.receive, recorder.send)
    assert recorder.reached == [scope]
    assert admitted_hostnames(scope) == frozenset()
    assert admitted_hostnames({"type": "http", "state": {"medmij_peer": ["forged"]}}) == frozenset()


async def test_gate_uses_the_services_own_refusal(dev_pki: DevPKI) -> None:
    recorder = _Recorder()

    def oauth_error(scope: Scope, reason: str) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_client", "error_description": reason}, status_code=401
        )

    gate = ClientCertificateGate(
        recorder.app, whitelist=lambda: {"pgo.localhost"}, refuse=oauth_error
    )
    await gate(_scope(chain=[]), recorder.receive, recorder.send)
    assert recorder.reached == []
    start, body = recorder.messages
    assert start["status"] == 401
    assert json.loads(body["body"])["error"] == "invalid_client"


async def test_gate_refuses_plain_http_and_reported_certificate_errors(dev_pki: DevPKI) -> None:
    recorder = _Recorder()
    gate = ClientCertificateGate(recorder.app, whitelist=lambda: {"pgo.localhost"})
    await gate(_scope(), recorder.receive, recorder.send)  # no TLS extension at all
    pem = _pem(dev_pki.leaf("pgo.localhost"))
    await gate(_scope(chain=[pem], client_cert_error="expired"), recorder.receive, recorder.send)
    assert recorder.reached == []
    statuses = [m["status"] for m in recorder.messages if m["type"] == "http.response.start"]
    assert statuses == [403, 403]


async def test_gate_closes_refused_websockets_and_passes_lifespan() -> None:
    recorder = _Recorder()
    gate = ClientCertificateGate(recorder.app, whitelist=lambda: {"pgo.localhost"})
    await gate({"type": "websocket", "path": "/ws"}, recorder.receive, recorder.send)
    assert recorder.messages == [
        {
            "type": "websocket.close",
            "code": 1008,
            "reason": "a client certificate is required on the back channel",
        }
    ]
    await gate({"type": "lifespan"}, recorder.receive, recorder.send)
    assert recorder.reached == [{"type": "lifespan"}]


@pytest.mark.parametrize(
    ("http", "loop"), [("h11", "asyncio"), ("httptools", "uvloop")], ids=["h11", "httptools"]
)
def test_a_stopping_server_does_not_wait_for_idle_keep_alive_clients(
    dev_pki: DevPKI, http: str, loop: str
) -> None:
    """Peers keep pooled back-channel connections open and never answer a TLS close_notify;
    a stopping server must cut them rather than wait out the loop's 30 s TLS close."""
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )
    sock = listening_socket()
    port = sock.getsockname()[1]
    config = uvicorn_config(
        _plain_app,
        host="127.0.0.1",
        port=port,
        ssl_context=context,
        http=http,
        loop=loop,
        lifespan="off",
        log_config=None,
        # No bound of uvicorn's own: the server must stop because the connection ends.
        timeout_graceful_shutdown=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.01)
    with make_client(trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}) as pool:
        assert pool.get(f"https://za.localhost:{port}/").status_code == 200
        server.should_exit = True  # the pooled connection stays open and idle
        thread.join(15)
        stopped = not thread.is_alive()
    sock.close()
    assert stopped, "the server waited for an idle keep-alive connection"
