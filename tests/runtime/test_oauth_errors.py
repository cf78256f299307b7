"""The OAuth error answer every service renders (RFC 6749 5.2)."""

from __future__ import annotations

import json

from medmij_stack.protocol.oauth_errors import OAuthError
from medmij_stack.runtime.oauth_errors import oauth_error_response


def test_an_error_answer_is_json_that_no_cache_keeps() -> None:
    response = oauth_error_response(400, "invalid_grant", "Invalid grant: code expired.")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert json.loads(response.body) == {
        "error": "invalid_grant",
        "error_description": "Invalid grant: code expired.",
    }


def test_the_description_keeps_to_the_characters_oauth_allows() -> None:
    response = oauth_error_response(404, "invalid_request", 'zorgaanbieder "één" \\ is not here')
    assert json.loads(response.body)["error_description"] == ("zorgaanbieder ???n? ? is not here")


def test_an_error_without_description_has_none_in_its_body() -> None:
    response = oauth_error_response(400, OAuthError("unsupported_grant_type"))
    assert json.loads(response.body) == {"error": "unsupported_grant_type"}


def test_a_service_may_add_headers() -> None:
    response = oauth_error_response(503, "temporarily_unavailable", headers={"Retry-After": "1"})
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"
