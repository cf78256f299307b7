"""Calls between nodes: the node's own clients, a POST with clear failures, a bounded read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.asgi_tls import ClientCertificateGate, admitted_hostnames
from medmij_stack.runtime.backchannel import (
    Answer,
    CallFailed,
    NoAnswer,
    NotAsked,
    TimedOut,
    UnexpectedStatus,
    UnreadableAnswer,
    UnreadableRequest,
    node_async_client,
    node_client,
    post,
    post_async,
    read_json_object,
)
from medmij_stack.runtime.config import NodeSettings
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.runtime.threaded_server import listening_socket
from medmij_stack.runtime.tls import server_context

from .conftest import ServeFactory

ON_THE_WHITELIST = frozenset({"pgo.localhost", "za.localhost"})


@dataclass
class Peer:
    """A node answering on za.localhost behind the Whitelist gate; it records what it got."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"https://za.localhost:{self.port}{path}"


def _peer_app(peer: Peer) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        peer.received.append(
            {
                "path": request.url.path,
                "peer": sorted(admitted_hostnames(request.scope)),
                "content_type": request.headers.get("content-type"),
                "correlation": request.headers.get("x-correlation-id"),
                "body": body.decode(),
            }
        )
        path = request.url.path
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            return JSONResponse({"error": "refused"}, status_code=status)
        if path == "/not-json":
            return PlainTextResponse("<html>storing</html>")
        if path == "/list":
            return JSONResponse(["answer"])
        if path == "/slow":
            await asyncio.sleep(2)
        return JSONResponse({"answer": 42, "peer": peer.received[-1]["peer"]})

    routes = [Route("/{rest:path}", echo, methods=["POST"])]
    return Starlette(routes=routes)


@pytest.fixture(scope="module")
def za(dev_pki: DevPKI, serve: ServeFactory) -> Iterator[Peer]:
    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )
    peer = Peer()
    gate = ClientCertificateGate(_peer_app(peer), whitelist=lambda: ON_THE_WHITELIST)
    with serve(gate, context, http="h11") as port:
        peer.port = port
        yield peer


@pytest.fixture
def peer(za: Peer) -> Peer:
    za.received.clear()
    return za


@pytest.fixture(scope="module")
def settings(dev_pki: DevPKI) -> NodeSettings:
    """The settings of the node pgo.localhost, as a service reads them."""
    leaf = dev_pki.leaf("pgo.localhost")
    return NodeSettings(
        hostname="pgo.localhost",
        cert=leaf.cert,
        key=leaf.key,
        trust=(dev_pki.trust_bundle(),),
        hosts={"za.localhost": "127.0.0.1"},
        lists={kind: f"https://stelselnode.localhost/{kind.name}" for kind in ListKind},
    )


def _answer_of(data: dict[str, Any]) -> int:
    if not isinstance(data.get("answer"), int):
        raise ValueError("no answer in it")
    return int(data["answer"])


# --- asking ----------------------------------------------------------------------------------


def test_the_node_client_calls_with_the_nodes_own_certificate(
    peer: Peer, settings: NodeSettings
) -> None:
    with node_client(settings) as client:
        answer = post(
            client,
            peer.url("/vraag"),
            json={"bsn": "999911120"},
            headers={"X-Correlation-ID": "c-1"},
            whitelist=lambda: ON_THE_WHITELIST,
        )
    assert answer.status == 200
    assert answer.read(_answer_of) == 42
    (seen,) = peer.received
    assert seen["peer"] == ["pgo.localhost"]  # mutual TLS, read behind the gate
    assert seen["content_type"] == "application/json"
    assert json.loads(seen["body"]) == {"bsn": "999911120"}
    assert seen["correlation"] == "c-1"


def test_a_form_is_sent_form_encoded(peer: Peer, settings: NodeSettings) -> None:
    with node_client(settings) as client:
        post(client, peer.url("/introspect"), form={"token": "a b&c"})
    (seen,) = peer.received
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == "token=a+b%26c"


async def test_the_async_twin_does_the_same(peer: Peer, settings: NodeSettings) -> None:
    async with node_async_client(settings) as client:
        answer = await post_async(
            client, peer.url("/vraag"), json={}, whitelist=lambda: ON_THE_WHITELIST
        )
        with pytest.raises(UnexpectedStatus):
            await post_async(client, peer.url("/status/500"), json={})
    assert answer.read(_answer_of) == 42
    assert [seen["peer"] for seen in peer.received] == [["pgo.localhost"]] * 2


@pytest.mark.parametrize(
    "whitelist",
    [lambda: frozenset({"pgo.localhost"}), lambda: None],
    ids=["host-not-on-it", "none-loaded-yet"],
)
def test_a_peer_off_the_whitelist_is_not_asked_at_all(
    peer: Peer, settings: NodeSettings, whitelist: Any
) -> None:
    with node_client(settings) as client, pytest.raises(NotAsked) as refused:
        post(client, peer.url("/vraag"), json={}, whitelist=whitelist)
    assert str(refused.value).startswith("was not asked: ")
    assert peer.received == []


def test_a_status_not_expected_is_a_failure_and_an_expected_one_an_answer(
    peer: Peer, settings: NodeSettings
) -> None:
    with node_client(settings) as client:
        with pytest.raises(UnexpectedStatus) as failed:
            post(client, peer.url("/status/503"), json={})
        gone = post(client, peer.url("/status/410"), json={}, expect=(200, 410))
    assert failed.value.status == 503
    assert str(failed.value) == "answered HTTP 503"
    assert gone.status == 410


@pytest.mark.parametrize(
    ("path", "why"),
    [("/not-json", "not JSON"), ("/list", "not a JSON object"), ("/status/200", "no answer in it")],
)
def test_an_answer_that_cannot_be_read_says_why(
    peer: Peer, settings: NodeSettings, path: str, why: str
) -> None:
    with node_client(settings) as client:
        answer = post(client, peer.url(path), json={})
    with pytest.raises(UnreadableAnswer) as unreadable:
        answer.read(_answer_of)
    assert unreadable.value.why == why
    assert isinstance(unreadable.value, CallFailed)


def test_a_slow_peer_is_a_timeout(peer: Peer, settings: NodeSettings) -> None:
    with node_client(settings, timeout=0.3) as client, pytest.raises(TimedOut) as late:
        post(client, peer.url("/slow"), json={})
    assert isinstance(late.value, NoAnswer)
    assert str(late.value).startswith("did not answer in time (")


def test_nobody_listening_is_no_answer(settings: NodeSettings) -> None:
    with listening_socket() as probe:
        port = probe.getsockname()[1]
    with node_client(settings) as client, pytest.raises(NoAnswer) as silent:
        post(client, f"https://za.localhost:{port}/vraag", json={})
    assert not isinstance(silent.value, TimedOut)
    assert str(silent.value) == "did not answer (ConnectError)"


def test_a_question_is_json_or_a_form_not_both(settings: NodeSettings) -> None:
    with node_client(settings) as client, pytest.raises(ValueError, match="not both"):
        post(client, "https://za.localhost/x", json={}, form={"a": "b"})


def test_an_answer_reads_without_a_peer() -> None:
    assert Answer(200, b'{"answer": 7}').read(_answer_of) == 7
    with pytest.raises(UnreadableAnswer):
        Answer(200, b"[" * 100_000).json_object()  # nested too deep is no answer either


# --- reading a peer's question ----------------------------------------------------------------


class _Reader:
    """An app that reads one JSON question from each POST, in process (no sockets)."""

    def __init__(self, max_bytes: int, media_type: str | None = "application/json") -> None:
        async def question(request: Request) -> JSONResponse:
            try:
                data = await read_json_object(request, max_bytes=max_bytes, media_type=media_type)
            except UnreadableRequest as bad:
                return JSONResponse({"refused": bad.description}, status_code=bad.status)
            return JSONResponse({"read": data})

        self.app = Starlette(routes=[Route("/", question, methods=["POST"])])

    async def post(self, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://za") as client:
            return await client.post("/", **kwargs)


async def test_a_json_question_is_read() -> None:
    response = await _Reader(100).post(json={"artifact": "abc"})
    assert response.json() == {"read": {"artifact": "abc"}}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "refused"),
    [
        (b'{"a": 1}', "text/plain", 400, "the body must be application/json"),
        (b"{not json", "application/json", 400, "the body is not JSON"),
        (b"[1, 2]", "application/json", 400, "the body is not a JSON object"),
        (b'{"a": "' + b"x" * 200 + b'"}', "application/json", 413, "the request body is too large"),
    ],
)
async def test_a_body_that_is_no_question_is_refused_with_its_status(
    content: bytes, content_type: str, status: int, refused: str
) -> None:
    response = await _Reader(100).post(content=content, headers={"content-type": content_type})
    assert (response.status_code, response.json()) == (status, {"refused": refused})


async def test_a_body_is_bounded_as_it_streams_in_without_a_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        yield b"x" * 200
        yield b'"}'

    response = await _Reader(100).post(
        content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_the_media_type_check_can_be_left_out() -> None:
    response = await _Reader(100, media_type=None).post(
        content=b'{"a": 1}', headers={"content-type": "text/plain"}
    )
    assert response.json() == {"read": {"a": 1}}


@pytest.mark.parametrize(
    "content", [b"[" * 100_000, b"[" * 40 + b"]" * 40, b'{"a": ' + b"{" * 1 + b"}" + b"}"]
)
def test_json_value_reads_any_value_within_the_depth_limit(content: bytes) -> None:
    from medmij_stack.runtime.backchannel import MAX_JSON_DEPTH, json_value

    if content.count(b"[") > MAX_JSON_DEPTH:
        with pytest.raises(ValueError, match="nested too deeply"):
            json_value(content)
    else:
        assert json_value(content) == {"a": {}}
