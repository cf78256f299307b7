"""PKCE (RFC 7636, S256): supported everywhere, required where the world says so."""

from __future__ import annotations

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .browser import callback_params
from .conftest import PGO, TestWorld
from .flows import authorize_url, exchange, obtain_code


def _pkce() -> tuple[str, list[tuple[str, str]]]:
    verifier = secrets.token_urlsafe(48)
    challenge = create_s256_code_challenge(verifier)
    return verifier, [("code_challenge", challenge), ("code_challenge_method", "S256")]


def test_a_code_with_a_challenge_needs_the_right_verifier(tw: TestWorld) -> None:
    verifier, extra = _pkce()
    without = obtain_code(tw, extra=extra)
    wrong = obtain_code(tw, extra=extra)
    right = obtain_code(tw, extra=extra)
    with tw.client(PGO) as pgo:
        missing = exchange(pgo, tw, without.code)
        mismatched = exchange(pgo, tw, wrong.code, code_verifier=secrets.token_urlsafe(48))
        accepted = exchange(pgo, tw, right.code, code_verifier=verifier)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert mismatched.status_code == 400
    assert mismatched.json()["error"] == "invalid_grant"
    assert "code_verifier" in mismatched.json()["error_description"]
    assert accepted.status_code == 200, accepted.text


def test_a_verifier_without_a_challenge_is_refused(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code, code_verifier=secrets.token_urlsafe(48))
    assert response.json()["error"] == "invalid_request"


def test_where_pkce_is_required_a_request_without_it_goes_back(tw: TestWorld) -> None:
    url = authorize_url(tw.front_url("strikt-dva"), scope="strikttest")
    with tw.client() as browser:
        response = browser.get(url)
    assert response.status_code == 302
    params = callback_params(response.headers["location"])
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]


def test_where_pkce_is_required_the_flow_works_with_it(tw: TestWorld) -> None:
    verifier, extra = _pkce()
    issued = obtain_code(tw, scope="strikttest", dva_id="strikt-dva", extra=extra)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code, dva_id="strikt-dva", code_verifier=verifier)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "strikttest~48"


def test_a_code_of_one_dva_is_unknown_at_another(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code, dva_id="strikt-dva")
    assert response.json()["error"] == "invalid_grant"
