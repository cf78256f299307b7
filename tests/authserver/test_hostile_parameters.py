"""Values OAuth cannot repeat in an error_description, in every parameter of every endpoint.

RFC 6749 allows an ``error_description`` of %x20-21 / %x23-5B / %x5D-7E only. A refusal
that quotes a request value must still be the exception table's answer (the error page or
a redirect to the PGO; a JSON error on the back channel), never a 5xx or a dropped
connection. Each class of character is tried in each parameter.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from .browser import callback_params
from .conftest import PGO, TestWorld
from .flows import REDIRECT_URI, STATE, authorize_url, token_request

# One value per class OAuth's description cannot hold, plus a long one.
HOSTILE = {
    "latin-1": "é",
    "astral": "\U0001f600",
    "snowman": "code☃",
    "quote": 'co"de',
    "backslash": "co\\de",
    "control": "co\x01de",
    "newline": "co\nde",
    "nul": "co\x00de",
    "delete": "co\x7fde",
    "percent": "%",
    "long": "x" * 4000,
}

AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "MedMij-Request-ID",
    "X-Correlation-ID",
    "unknown_parameter",
)


def _authorize_with(tw: TestWorld, name: str, value: str) -> str:
    """The valid authorization request with ``name`` set to ``value`` (first occurrence)."""
    base = urlsplit(authorize_url(tw.front_url()))
    pairs = [(k, v) for k, v in parse_qsl(base.query) if k != name]
    return f"{tw.front_url()}/oauth/authorize?{urlencode([(name, value), *pairs])}"


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("name", AUTHORIZE_PARAMETERS)
def test_an_authorization_parameter_of_any_character_gets_the_exception_tables_answer(
    tw: TestWorld, name: str, kind: str
) -> None:
    with tw.client() as browser:
        response = browser.get(_authorize_with(tw, name, HOSTILE[kind]))
    assert response.status_code in (200, 302, 400), (response.status_code, response.text[:300])
    if response.status_code == 302:
        location = response.headers["location"]
        assert location.startswith(REDIRECT_URI + "?")
        params = callback_params(location)
        assert "error" in params
        assert "code" not in params
        description = params.get("error_description", "")
        assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in description)
        if name != "state":
            assert params["state"] == STATE


@pytest.mark.parametrize("kind", ["snowman", "quote", "backslash", "control"])
def test_an_unsupported_response_type_is_refused_by_redirect_in_fixed_words(
    tw: TestWorld, kind: str
) -> None:
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url(), response_type=HOSTILE[kind]))
    assert response.status_code == 302
    params = callback_params(response.headers["location"])
    assert params["error"] == "unsupported_response_type"
    assert HOSTILE[kind] not in params["error_description"]


BACK_CHANNEL_FIELDS = {
    "/oauth/token": ("grant_type", "code", "redirect_uri", "client_id", "code_verifier",
                     "refresh_token", "scope"),
    "/oauth/revoke": ("token", "token_type_hint", "client_id"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize(
    ("path", "name"), [(p, n) for p, names in BACK_CHANNEL_FIELDS.items() for n in names]
)
def test_a_back_channel_field_of_any_character_gets_an_oauth_error(
    tw: TestWorld, path: str, name: str, kind: str
) -> None:
    data = {"grant_type": "authorization_code", "code": "c", "client_id": PGO, "token": "t"}
    data[name] = HOSTILE[kind]
    with tw.client(PGO) as client:
        if path == "/oauth/token":
            response = token_request(client, tw, data)
        else:
            response = client.post(tw.back_url() + path, data=data)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        body = response.json()
        assert isinstance(body["error"], str)
        assert all(32 <= ord(c) < 127 for c in body.get("error_description", ""))
