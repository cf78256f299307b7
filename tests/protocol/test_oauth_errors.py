"""The OAuth error as a JSON body and as a redirect, both ways (RFC 6749 4.1.2.1 and 5.2)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from medmij_stack.protocol.oauth_errors import OAuthError, ascii_description


def test_the_body_names_the_code_and_the_description() -> None:
    error = OAuthError("access_denied", "Authorization denied.")
    assert error.to_json() == {
        "error": "access_denied",
        "error_description": "Authorization denied.",
    }
    assert OAuthError.from_json(error.to_json()) == error
    assert OAuthError("invalid_grant").to_json() == {"error": "invalid_grant"}


def test_a_redirect_carries_code_description_and_state() -> None:
    location = OAuthError("access_denied", "No such resources.").redirect(
        "https://pgo.localhost/cb", "s t&a"
    )
    assert location.startswith("https://pgo.localhost/cb?")
    query = parse_qs(urlsplit(location).query)
    assert query == {
        "error": ["access_denied"],
        "error_description": ["No such resources."],
        "state": ["s t&a"],
    }
    params = {k: v[0] for k, v in query.items()}
    assert OAuthError.from_query(params) == OAuthError("access_denied", "No such resources.")


def test_a_redirect_without_state_has_none_and_keeps_a_query_of_its_own() -> None:
    location = OAuthError("invalid_request", "Bad.").redirect("https://pgo.localhost/cb?x=1", None)
    assert location == "https://pgo.localhost/cb?x=1&error=invalid_request&error_description=Bad."
    assert OAuthError.from_query({"code": "abc", "state": "s"}) is None


def test_descriptions_keep_to_the_allowed_characters_and_length() -> None:
    assert ascii_description('a "quoted" \\ é') == "a ?quoted? ? ?"
    long = ascii_description("x" * 400)
    assert len(long) == 300
    assert long.endswith("...")
    assert OAuthError("invalid_request", "ü").description == "?"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ([], "JSON object"),
        ({"error_description": "x"}, "names its code"),
        ({"error": 1}, "names its code"),
        ({"error": ""}, "not an OAuth error code"),
        ({"error": "x", "error_description": 3}, "must be a string"),
    ],
)
def test_what_is_no_error_body_is_refused(data: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        OAuthError.from_json(data)


def test_an_error_code_outside_the_allowed_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="not an OAuth error code"):
        OAuthError('bad"code')
