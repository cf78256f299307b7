"""No request, however broken or hostile, gets a 5xx or an unhandled exception.

Property-based: hypothesis draws whole requests (tests/fuzz/strategies.py) into every route
of the authorisation server's front and back channel, the resource server and the
Stelselnode, in this process (tests/fuzz/apps.py), and any answer of 500 or more fails the
test with the request that caused it. Bounded so that the suite runs in well under two
minutes; benchmarks/fuzz_long.py is the long run of the same requests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .apps import PGO, STRANGER, UNTRUSTED_PGO, Stack
from .strategies import TEXT, Request, requests

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=False,
)


def routes_of(app: Any) -> list[tuple[str, frozenset[str]]]:
    """(path template, methods) of every route of an app behind its middleware."""
    while not hasattr(app, "routes"):
        app = app.app if hasattr(app, "app") else app._app
    found = []
    for route in app.routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None) or {"GET"}
        if path is not None:
            found.append((path, frozenset(methods)))
    return found


def peers(stack: Stack) -> tuple[str | None, ...]:
    return (None, PGO, UNTRUSTED_PGO, STRANGER, stack.host("resource"), stack.host("back"))


def _check(stack: Stack, channel: str, request: Request) -> None:
    response = request.send(stack.clients[channel])
    assert response.status_code < 500, (
        f"{channel}: {request.method} {request.path} params={request.params!r} "
        f"headers={request.headers!r} body={request.body[:300]!r} -> "
        f"{response.status_code} {response.text[:300]}"
    )


@pytest.mark.parametrize("channel", ["front", "back", "resource", "stelselnode"])
def test_no_request_to_any_route_gets_a_server_error(stack: Stack, channel: str) -> None:
    routes = routes_of(stack.apps[channel])
    assert routes

    @FUZZ
    @given(request=requests(routes, peers(stack)))
    def fuzz(request: Request) -> None:
        _check(stack, channel, request)

    fuzz()


DEEP = [
    b"[" * 20_000,
    b'{"a":' * 1500 + b"1" + b"}" * 1500,
    b'{"token": ' + b"[" * 900 + b"]" * 900 + b"}",
]


@pytest.mark.parametrize("body", DEEP, ids=["brackets", "objects", "deep-member"])
@pytest.mark.parametrize("channel", ["back", "resource"])
def test_a_deeply_nested_body_on_any_post_route_is_no_server_error(
    stack: Stack, channel: str, body: bytes
) -> None:
    posts = [path for path, methods in routes_of(stack.apps[channel]) if "POST" in methods]
    assert posts
    peer = stack.host("back") if channel == "resource" else stack.host("resource")
    for path in posts:
        for content_type in ("application/json", "application/x-www-form-urlencoded"):
            request = Request(
                "POST",
                path.replace("{", "").replace("}", ""),
                headers=[("content-type", content_type.encode()), ("x-fuzz-peer", peer.encode())],
                body=body,
            )
            _check(stack, channel, request)


@given(st.data())
@FUZZ
def test_the_front_channel_forms_take_any_field(stack: Stack, data: st.DataObject) -> None:
    fields = data.draw(
        st.dictionaries(
            st.sampled_from(["csrf_token", "action", "RelayState", "bsn", "langdurig", "SAMLart"]),
            st.text(max_size=40),
        )
    )
    flow = quote(data.draw(st.text(max_size=40)), safe="") or "x"
    paths = (f"/oauth/flow/{flow}", f"/oauth/flow/{flow}/toestemming",
             f"/oauth/flow/{flow}/terug", "/digid/inloggen")  # fmt: skip
    for path in paths:
        response = stack.clients["front"].post(path, data=fields)
        assert response.status_code < 500, (path, fields, response.text[:300])


AUTHORIZE = {
    "response_type": "code",
    "client_id": PGO,
    "redirect_uri": f"https://{PGO}/cb",
    "scope": "ziekenhuisfuzz",
    "state": "fuzz-state",
}


@given(st.data())
@FUZZ
def test_a_valid_authorization_request_with_any_value_in_any_parameter(
    stack: Stack, data: st.DataObject
) -> None:
    # Random requests rarely name a client and redirect URI the OCL trusts: here every
    # parameter but one is valid, so the refusals after the trust checks are reached too.
    params = dict(AUTHORIZE)
    choices = [*AUTHORIZE, "code_challenge", "code_challenge_method"]
    names = data.draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3))
    for name in names:
        params[name] = data.draw(TEXT)
    response = stack.clients["front"].get("/oauth/authorize", params=params)
    assert response.status_code in (200, 302, 400), (params, response.status_code)
