"""Calls between nodes on the back channel, from both ends: asking a peer, reading its question.

The stack's internal calls are all alike: a POST over mutual TLS, with this node's own
certificate, to a peer whose host name must be on the current Whitelist before a
connection is made (UCI Opvragen Whitelist; :func:`medmij_stack.runtime.tls.check_hostnames`),
answered with a JSON object:

* the authorisation server asks its resource server's beschikbaarheidstoets
  (:mod:`medmij_stack.protocol.dva_contract`): JSON in, JSON out;
* the authorisation server resolves a DigiD artifact (``authserver.digid``): JSON in, JSON
  out; DigiD is no MedMij participant, so no Whitelist applies there;
* the resource server introspects a token at its authorisation server (RFC 7662): form in,
  JSON out;
* a PGO exchanges a code or refresh token at a DVA's token endpoint (RFC 6749 4.1.3, 6): form
  in, JSON out (an OAuth error body reads with
  :meth:`medmij_stack.protocol.oauth_errors.OAuthError.from_json`).

Asking: :func:`node_client` / :func:`node_async_client` make the node's clients
(:mod:`medmij_stack.runtime.net`: Private-root trust only, hostname checked, no redirects,
the world's host map) from its settings; :func:`post` / :func:`post_async` send one question
and return the :class:`Answer`, whose :meth:`Answer.read` parses the JSON object. Whatever
keeps a caller from a usable answer is one tree, so that a caller catches one exception
and never mistakes a fault for a fact::

    CallFailed             str() completes "<the peer> ...", fit for a log or a peer
    ├── NotAsked           the peer's host is not on the current Whitelist (or none is loaded)
    ├── NoAnswer           no HTTP answer: connection refused, TLS failure, broken stream
    │   └── TimedOut       no answer within the client's timeout
    ├── UnexpectedStatus   an HTTP status the caller did not expect (``status``)
    └── UnreadableAnswer   not JSON, not a JSON object, or not what the caller reads

Reading a peer's question: :func:`read_body` and :func:`read_json_object` read a request
body up to a bound (counted as it streams in, whatever Content-Length said), and JSON no
deeper than :data:`MAX_JSON_DEPTH` (a body of thousands of ``[`` either fails in the parser
with a RecursionError or parses and then fails wherever it is walked, printed or
compared; no question or answer of the stack nests more than a few levels), raising
:class:`UnreadableRequest` with the HTTP status (400 or 413) and a description fit for an
OAuth ``error_description`` (:mod:`medmij_stack.runtime.oauth_errors`).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request

from medmij_stack.runtime.config import NodeSettings
from medmij_stack.runtime.net import KEEPALIVE_EXPIRY, make_async_client, make_client
from medmij_stack.runtime.tls import PeerRefused, check_hostnames

__all__ = [
    "MAX_JSON_DEPTH",
    "Answer",
    "CallFailed",
    "NoAnswer",
    "NotAsked",
    "TimedOut",
    "UnexpectedStatus",
    "UnreadableAnswer",
    "UnreadableRequest",
    "Whitelist",
    "json_object",
    "json_value",
    "node_async_client",
    "node_client",
    "post",
    "post_async",
    "read_body",
    "read_json_object",
    "require_whitelisted",
]

MAX_JSON_DEPTH = 32
"""The deepest nesting of arrays and objects a back-channel JSON body may have."""

Whitelist = Callable[[], Collection[str] | None]
"""The node's current Whitelist host names, asked for at every call (None: none loaded yet)."""

_T = TypeVar("_T")


# --- the node's clients ------------------------------------------------------------------------


def node_client(settings: NodeSettings, *, timeout: float = 10.0) -> httpx.Client:
    """A blocking client that calls as this node: its certificate, its trust, its host map."""
    return make_client(
        trust=settings.trust, cert=settings.identity, hosts=settings.hosts, timeout=timeout
    )


def node_async_client(
    settings: NodeSettings, *, timeout: float = 10.0, keepalive_expiry: float = KEEPALIVE_EXPIRY
) -> httpx.AsyncClient:
    """The ``asyncio`` twin of :func:`node_client` (``keepalive_expiry``: see
    :func:`~medmij_stack.runtime.net.make_async_client`)."""
    return make_async_client(
        trust=settings.trust,
        cert=settings.identity,
        hosts=settings.hosts,
        timeout=timeout,
        keepalive_expiry=keepalive_expiry,
    )


# --- what can go wrong -------------------------------------------------------------------------


class CallFailed(Exception):
    """No usable answer from a peer; the message completes a sentence about the peer."""


class NotAsked(CallFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(f"was not asked: {reason}")
        self.reason = reason


class NoAnswer(CallFailed):
    _what: ClassVar[str] = "did not answer"

    def __init__(self, cause: httpx.HTTPError) -> None:
        # The exception's name only: its text may hold addresses a peer need not read.
        super().__init__(f"{self._what} ({type(cause).__name__})")


class TimedOut(NoAnswer):
    _what = "did not answer in time"


class UnexpectedStatus(CallFailed):
    def __init__(self, status: int) -> None:
        super().__init__(f"answered HTTP {status}")
        self.status = status


class UnreadableAnswer(CallFailed):
    def __init__(self, why: str) -> None:
        super().__init__(f"gave an answer that could not be read ({why})")
        self.why = why


# --- asking --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A peer's answer with one of the expected statuses."""

    status: int
    content: bytes

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; UnreadableAnswer when it is not one."""
        try:
            return json_object(self.content)
        except ValueError as exc:
            raise UnreadableAnswer(str(exc)) from None

    def read(self, parse: Callable[[dict[str, Any]], _T]) -> _T:
        """The body's JSON object read by ``parse``, whose ValueError means "not an answer"."""
        data = self.json_object()
        try:
            return parse(data)
        except ValueError as exc:
            raise UnreadableAnswer(str(exc)) from exc


def require_whitelisted(url: str, whitelist: Whitelist) -> None:
    """The Whitelist rule for a client: NotAsked unless ``url``'s host is on the Whitelist."""
    host = (urlsplit(url).hostname or "").lower()
    try:
        check_hostnames(frozenset({host}), whitelist())
    except PeerRefused as refused:
        raise NotAsked(refused.reason) from None


def _body(
    json: object | None, form: Mapping[str, str] | None, content: bytes | None = None
) -> dict[str, Any]:
    if sum(part is not None for part in (json, form, content)) > 1:
        raise ValueError("a question is sent as JSON, as a form or as bytes: one, not both")
    if json is not None:
        return {"json": json}
    if content is not None:
        return {"content": content}
    return {} if form is None else {"data": dict(form)}


def _answer(response: httpx.Response, expect: Collection[int]) -> Answer:
    if response.status_code not in expect:
        raise UnexpectedStatus(response.status_code)
    return Answer(response.status_code, response.content)


def post(
    client: httpx.Client,
    url: str,
    *,
    json: object | None = None,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    whitelist: Whitelist | None = None,
    expect: Collection[int] = (200,),
) -> Answer:
    """POST ``json`` or ``form`` to ``url``; its Whitelist is checked first when given.

    Raises a :class:`CallFailed` unless the peer answers with a status in ``expect``.
    """
    if whitelist is not None:
        require_whitelisted(url, whitelist)
    try:
        response = client.post(url, headers=dict(headers or {}), **_body(json, form))
    except httpx.TimeoutException as exc:
        raise TimedOut(exc) from exc
    except httpx.HTTPError as exc:
        raise NoAnswer(exc) from exc
    return _answer(response, expect)


async def post_async(
    client: httpx.AsyncClient,
    url: str,
    *,
    json: object | None = None,
    form: Mapping[str, str] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    whitelist: Whitelist | None = None,
    expect: Collection[int] = (200,),
) -> Answer:
    """The ``asyncio`` twin of :func:`post`; ``content``: a body already encoded (give its
    Content-Type in ``headers``)."""
    if whitelist is not None:
        require_whitelisted(url, whitelist)
    try:
        response = await client.post(url, headers=dict(headers or {}), **_body(json, form, content))
    except httpx.TimeoutException as exc:
        raise TimedOut(exc) from exc
    except httpx.HTTPError as exc:
        raise NoAnswer(exc) from exc
    return _answer(response, expect)


# --- reading a peer's question -------------------------------------------------------------------


class UnreadableRequest(Exception):
    """A request body refused before it is read as a question (``status`` 400 or 413)."""

    def __init__(self, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The request body; UnreadableRequest (413) beyond ``max_bytes``, declared or not."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise UnreadableRequest("the request body is too large", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise UnreadableRequest("the request body is too large", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(
    request: Request, *, max_bytes: int, media_type: str | None = "application/json"
) -> dict[str, Any]:
    """The body as a JSON object; ``media_type`` (unless None) must be its Content-Type."""
    if media_type is not None:
        sent = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if sent != media_type:
            raise UnreadableRequest(f"the body must be {media_type}")
    body = await read_body(request, max_bytes=max_bytes)
    try:
        return json_object(body)
    except ValueError as exc:
        raise UnreadableRequest(f"the body is {exc}") from None


def json_value(content: bytes | str) -> Any:
    """``content`` as any JSON value of at most :data:`MAX_JSON_DEPTH` levels.

    ValueError ("not JSON", "nested too deeply") otherwise: never a RecursionError, which is
    no ValueError and would pass every ``except ValueError`` — neither here nor later, when
    a deep but parseable value is walked or encoded again.
    """
    try:
        data = jsonlib.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError:
        raise ValueError("not JSON") from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise ValueError("nested too deeply")
    return data


def json_object(content: bytes | str) -> dict[str, Any]:
    """``content`` as a JSON object of at most :data:`MAX_JSON_DEPTH` levels; ValueError
    ("not JSON", "not a JSON object", "nested too deeply") otherwise."""
    data = json_value(content)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _depth_exceeds(data: object, limit: int) -> bool:
    """Whether ``data`` nests arrays and objects deeper than ``limit`` (walked without
    recursion, so the walk cannot fail the way the data would)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        children: Collection[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
