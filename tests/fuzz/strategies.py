"""What a hostile or broken peer may send: hypothesis strategies for whole HTTP requests.

A request is a method, a path (a route's, with random path parameters, or none of ours),
query parameters (names the stack reads and random ones), headers (the ones the stack
reads, and random ones, with any byte a header can carry), the client certificate of the
connection, and a body: random bytes, a random JSON structure (deeply nested ones among
them), or a random form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from .apps import PEER_HEADER

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")

PARAMETERS = (
    # OAuth (authorization, token, revocation, introspection)
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
    "code_challenge_method", "grant_type", "code", "code_verifier", "refresh_token", "token",
    "token_type_hint", "MedMij-Request-ID", "X-Correlation-ID",
    # front channel forms and DigiD
    "csrf_token", "action", "RelayState", "SAMLart", "bsn", "langdurig", "gegevensdienst",
    # FHIR
    "_format", "_include", "_revinclude", "_count", "_id", "_lastUpdated", "patient", "date",
    "category", "code", "status", "_summary", "_elements", "_sort", "page",
)  # fmt: skip

HEADERS = (
    "accept", "content-type", "authorization", "cookie", "medmij-request-id",
    "x-correlation-id", "origin", "referer", "user-agent", "accept-language", "if-none-match",
    "prefer", "x-forwarded-for", "host", "accept-encoding", "range",
)  # fmt: skip

CONTENT_TYPES = (
    "application/json", "application/x-www-form-urlencoded", "multipart/form-data",
    "application/fhir+json", "application/fhir+xml", "application/xml", "text/plain", "",
    "application/json; charset=latin-1", "application/x-www-form-urlencoded; charset=utf-16",
)  # fmt: skip

ACCEPTS = (
    "application/fhir+json; fhirVersion=3.0", "application/fhir+xml; fhirVersion=4.0",
    "application/fhir+json; fhirVersion=9.9", "*/*", "text/html", "application/json+fhir",
    "application/fhir+json; fhirVersion=", "application/fhir+json;;;q=x",
)  # fmt: skip

# Text of every kind: ASCII, Latin-1, astral, controls, quotes, backslashes, surrogates out.
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80) | st.sampled_from(
    ["", " ", "..", "../..", "%2f", "\\", '"', "\x00", "é", "😀", "a" * 3000]
)

HEADER_VALUE = (
    st.binary(max_size=120).map(
        lambda raw: bytes(b for b in raw if b == 9 or (0x20 <= b <= 0xFF and b != 0x7F))
    )
    | st.sampled_from([s.encode() for s in ACCEPTS + CONTENT_TYPES])
    | st.sampled_from(
        [b"Bearer ", b"Bearer x", b"Bearer " + b"A" * 500, b"Basic Zm9vOmJhcg==", b"bearer a b"]
    )
)


def _deep(depth: int, kind: str) -> str:
    return kind[0] * depth + kind[1] * depth


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(PARAMETERS) | TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A body and the Content-Type that goes with it (None: no such header)."""
    kind = draw(st.sampled_from(["none", "bytes", "json", "deep", "form", "form-bytes"]))
    content_type = draw(st.sampled_from(CONTENT_TYPES) | st.none())
    if kind == "none":
        return b"", content_type
    if kind == "bytes":
        return draw(st.binary(max_size=300)), content_type
    if kind == "json":
        text = json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans()))
        return text.encode("utf-8"), content_type or "application/json"
    if kind == "deep":
        depth = draw(st.sampled_from([33, 100, 999, 1001, 5000, 20_000]))
        inner = _deep(depth, draw(st.sampled_from(["[]", "{}"])).replace("{}", '{"a":}'))
        if "{" in inner:
            inner = '{"a":' * depth + "1" + "}" * depth
        wrapped = draw(st.sampled_from(["{}", '{"token": %s}', '{"bsn": %s}', "%s"]))
        body = wrapped % inner if "%s" in wrapped else inner
        return body.encode(), content_type or "application/json"
    pairs = draw(st.lists(st.tuples(st.sampled_from(PARAMETERS) | TEXT, TEXT), max_size=8))
    if kind == "form":
        return urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    raw = b"&".join(
        quote(k).encode() + b"=" + draw(st.binary(max_size=20)).replace(b"&", b"") for k, _ in pairs
    )
    return raw, "application/x-www-form-urlencoded"


@dataclass
class Request:
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    body: bytes = b""

    def send(self, client: Any) -> Any:
        return client.request(
            self.method, self.path, params=self.params, headers=self.headers, content=self.body
        )


_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@st.composite
def requests(
    draw: st.DrawFn, routes: list[tuple[str, frozenset[str]]], peers: tuple[str | None, ...]
) -> Request:
    """A request to one of ``routes`` (path template, methods), or to a path of no route."""
    if draw(st.integers(0, 9)) == 0:
        path = "/" + quote(draw(TEXT), safe="/%")
        method = draw(st.sampled_from(METHODS))
    else:
        template, methods = draw(st.sampled_from(routes))
        path = _PARAM.sub(lambda _: quote(draw(TEXT), safe="") or "x", template)
        ours = draw(st.integers(0, 5)) > 0
        method = draw(st.sampled_from(sorted(methods) if ours else METHODS))
    params = draw(st.lists(st.tuples(st.sampled_from(PARAMETERS) | TEXT, TEXT), max_size=8))
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADERS), HEADER_VALUE), max_size=6))
    headers = [(name, value) for name, value in headers if name not in ("content-type", "host")]
    body, content_type = draw(bodies())
    if method in ("GET", "HEAD", "OPTIONS") and draw(st.booleans()):
        body = b""
    if content_type is not None:
        headers.append(("content-type", content_type.encode()))
    peer = draw(st.sampled_from(peers))
    if peer is not None:
        headers.append((PEER_HEADER, peer.encode()))
    return Request(method, path, params, headers, body)
