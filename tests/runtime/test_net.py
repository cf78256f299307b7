"""Back-channel HTTP clients: host map with real SNI and hostname checks, mTLS, no redirects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from medmij_stack.protocol.pki import make_ca
from medmij_stack.runtime.asgi_tls import ASGIApp, Receive, Scope, Send, peer_certificate
from medmij_stack.runtime.devpki import DevPKI, write_certificates
from medmij_stack.runtime.net import make_async_client, make_client
from medmij_stack.runtime.tls import peer_hostnames, server_context

from .conftest import ServeFactory


@dataclass
class Node:
    port: int = 0
    server_names: list[str | None] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _app(node: Node) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        node.paths.append(scope["path"])
        if scope["path"] == "/redirect":
            target = f"https://za.localhost:{node.port}/target".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [(b"location", target), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        cert = peer_certificate(scope)
        peer = sorted(peer_hostnames(cert)) if cert else []
        body = json.dumps({"path": scope["path"], "peer": peer}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _start(
    serve: ServeFactory, dev_pki: DevPKI, hostname: str, node: Node
) -> contextlib.AbstractContextManager[int]:
    files = dev_pki.leaf(hostname)
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )

    def record_sni(obj: ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> None:
        node.server_names.append(server_name)

    context.sni_callback = record_sni
    return serve(_app(node), context, http="h11")


@pytest.fixture(scope="module")
def za(dev_pki: DevPKI, serve: ServeFactory) -> Iterator[Node]:
    """A node serving the za.localhost certificate."""
    node = Node()
    with _start(serve, dev_pki, "za.localhost", node) as port:
        node.port = port
        yield node


@pytest.fixture(scope="module")
def impostor(dev_pki: DevPKI, serve: ServeFactory) -> Iterator[Node]:
    """A node with a valid dev certificate, but for stranger.localhost."""
    node = Node()
    with _start(serve, dev_pki, "stranger.localhost", node) as port:
        node.port = port
        yield node


@pytest.fixture
def node(za: Node) -> Node:
    za.server_names.clear()
    za.paths.clear()
    return za


def test_reaches_a_localhost_subdomain_through_the_host_map(node: Node, dev_pki: DevPKI) -> None:
    with make_client(
        trust=[dev_pki.trust_bundle()],
        cert=dev_pki.leaf("pgo.localhost"),
        hosts={"ZA.localhost": "127.0.0.1"},
    ) as client:
        response = client.get(f"https://za.localhost:{node.port}/fhir/Patient")
    assert response.status_code == 200
    assert response.json() == {"path": "/fhir/Patient", "peer": ["pgo.localhost"]}
    # The name, not the address, went into SNI.
    assert node.server_names == ["za.localhost"]


def test_without_client_certificate_none_is_sent(node: Node, dev_pki: DevPKI) -> None:
    with make_client(trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}) as client:
        response = client.get(f"https://za.localhost:{node.port}/")
    assert response.json()["peer"] == []


def test_server_certificate_for_another_host_is_refused(impostor: Node, dev_pki: DevPKI) -> None:
    with (
        make_client(trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}) as client,
        pytest.raises(httpx.ConnectError, match="Hostname mismatch"),
    ):
        client.get(f"https://za.localhost:{impostor.port}/")
    assert impostor.paths == []


def test_connecting_by_address_does_not_bypass_the_name_check(node: Node, dev_pki: DevPKI) -> None:
    with (
        make_client(trust=[dev_pki.trust_bundle()]) as client,
        pytest.raises(httpx.ConnectError, match="IP address mismatch"),
    ):
        client.get(f"https://127.0.0.1:{node.port}/")
    assert node.paths == []


def test_system_trust_store_is_not_used(
    node: Node, tmp_path_factory: pytest.TempPathFactory
) -> None:

    other = tmp_path_factory.mktemp("other-trust") / "root.pem"
    write_certificates(other, [make_ca("Another Root")[0]])
    with (
        make_client(trust=[other], hosts={"za.localhost": "127.0.0.1"}) as client,
        pytest.raises(httpx.ConnectError, match="certificate verify failed"),
    ):
        client.get(f"https://za.localhost:{node.port}/")


def test_redirects_are_not_followed(node: Node, dev_pki: DevPKI) -> None:
    with make_client(
        trust=[dev_pki.trust_bundle()],
        cert=dev_pki.leaf("pgo.localhost"),
        hosts={"za.localhost": "127.0.0.1"},
    ) as client:
        assert client.follow_redirects is False
        response = client.get(f"https://za.localhost:{node.port}/redirect")
    assert response.status_code == 302
    assert response.next_request is not None
    assert node.paths == ["/redirect"]


async def test_async_client_has_the_same_guarantees(
    node: Node, impostor: Node, dev_pki: DevPKI
) -> None:
    async with make_async_client(
        trust=[dev_pki.trust_bundle()],
        cert=dev_pki.leaf("pgo.localhost"),
        hosts={"za.localhost": "127.0.0.1"},
        timeout=5.0,
    ) as client:
        assert client.follow_redirects is False
        assert client.timeout.read == 5.0
        response = await client.get(f"https://za.localhost:{node.port}/x")
        assert response.json() == {"path": "/x", "peer": ["pgo.localhost"]}
        redirect = await client.get(f"https://za.localhost:{node.port}/redirect")
        assert redirect.status_code == 302
        with pytest.raises(httpx.ConnectError, match="Hostname mismatch"):
            await client.get(f"https://za.localhost:{impostor.port}/")
    assert node.server_names == ["za.localhost"]
    assert node.paths == ["/x", "/redirect"]


def test_clients_need_a_trust_anchor() -> None:
    with pytest.raises(ValueError, match="trusted CA"):
        make_client(trust=[])


def test_pooled_connections_are_dropped_before_our_servers_close_them(dev_pki: DevPKI) -> None:
    # A request on a connection the server closes at that very moment fails with
    # RemoteProtocolError; the client must give up an idle connection first.
    from medmij_stack.runtime.asgi_tls import uvicorn_config
    from medmij_stack.runtime.net import KEEPALIVE_EXPIRY

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    server = uvicorn_config(app, host="127.0.0.1", port=0, ssl_context=ssl.create_default_context())
    assert server.timeout_keep_alive - 1 > KEEPALIVE_EXPIRY
    for client in (
        make_client(trust=[dev_pki.root_cert]),
        make_async_client(trust=[dev_pki.root_cert]),
    ):
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._keepalive_expiry == KEEPALIVE_EXPIRY


async def test_a_pooled_connection_the_server_closed_is_not_used_again(dev_pki: DevPKI) -> None:
    # The pool asks each idle connection whether its socket turned readable (the server's
    # close) before reusing it; our stream answers that from the socket it keeps.

    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )
    connections = 0
    close_now = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await close_now.wait()  # idle, kept alive, until the test has the server close it
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        make_async_client(
            trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}, timeout=5.0
        ) as client,
    ):
        assert (await client.get(f"https://za.localhost:{port}/")).text == "ok"
        pool = client._transport._pool  # type: ignore[attr-defined]
        (pooled,) = pool.connections
        stream = pooled._connection._network_stream
        assert stream.get_extra_info("is_readable") is False
        close_now.set()
        for _ in range(200):
            if stream.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is True
        close_now.clear()
        assert (await client.get(f"https://za.localhost:{port}/")).text == "ok"
        close_now.set()
    assert connections == 2


async def _dropping_server(
    dev_pki: DevPKI,
) -> tuple[asyncio.Server, list[str]]:
    """A server that answers the first request of every connection and then closes the
    connection as the next request arrives, without answering it: a kept-alive connection
    the server drops just as a request goes out on it."""
    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )
    answered: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        answered.append(head.split(b" ", 1)[0].decode())
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")  # the next request: dropped unanswered
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    return server, answered


async def test_a_get_on_a_connection_the_server_dropped_is_sent_again(dev_pki: DevPKI) -> None:
    server, answered = await _dropping_server(dev_pki)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        make_async_client(
            trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}, timeout=5.0
        ) as client,
    ):
        for _ in range(3):
            response = await client.get(f"https://za.localhost:{port}/")
            assert response.text == "ok"
    assert answered == ["GET", "GET", "GET"]  # each on a new connection after the drop


async def test_a_post_on_a_connection_the_server_dropped_is_not_sent_twice(
    dev_pki: DevPKI,
) -> None:
    # A token exchange must never be sent twice: the server may have spent the code.
    server, answered = await _dropping_server(dev_pki)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        make_async_client(
            trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}, timeout=5.0
        ) as client,
    ):
        assert (await client.post(f"https://za.localhost:{port}/", content=b"a=1")).text == "ok"
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(f"https://za.localhost:{port}/", content=b"a=2")
    assert answered == ["POST"]


def test_the_blocking_client_sends_a_get_again_too(dev_pki: DevPKI) -> None:
    async def scenario() -> list[str]:
        server, answered = await _dropping_server(dev_pki)
        port = server.sockets[0].getsockname()[1]

        def fetch_twice() -> list[str]:
            with make_client(
                trust=[dev_pki.trust_bundle()], hosts={"za.localhost": "127.0.0.1"}, timeout=5.0
            ) as client:
                return [client.get(f"https://za.localhost:{port}/").text for _ in range(2)]

        async with server:
            assert await asyncio.to_thread(fetch_twice) == ["ok", "ok"]
        return answered

    assert asyncio.run(scenario()) == ["GET", "GET"]
