"""An authorization request carries state or PKCE, or its redirect is open to CSRF.

RFC 6749 10.12 asks the client for CSRF protection, by ``state`` or (RFC 7636, OAuth 2.0
Security BCP 4.7.1) by PKCE. A request with neither is refused by default; a DVA may serve
one for a legacy client (``allow_requests_without_state_or_pkce``), and then says so at
startup and in its /health.
"""

from __future__ import annotations

import logging

import pytest

from medmij_stack.authserver.errors import STATE_OR_PKCE_REQUIRED
from medmij_stack.authserver.oauth.server import DvaAuthorizationServer
from medmij_stack.authserver.settings import AuthserverSettings

from .browser import callback_params
from .conftest import TestWorld
from .flows import REDIRECT_URI, authorize_url

CHALLENGE = [
    ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    ("code_challenge_method", "S256"),
]


@pytest.mark.parametrize("state", [None, ""])
def test_a_request_with_neither_state_nor_pkce_is_refused_by_redirect(
    tw: TestWorld, state: str | None
) -> None:
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url(), state=state))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = callback_params(location)
    assert params["error"] == "invalid_request"
    assert params["error_description"] == STATE_OR_PKCE_REQUIRED


@pytest.mark.parametrize(
    ("state", "extra"),
    [("s", []), (None, CHALLENGE), ("s", CHALLENGE)],
    ids=["state", "pkce", "both"],
)
def test_state_or_pkce_alone_is_enough(
    tw: TestWorld, state: str | None, extra: list[tuple[str, str]]
) -> None:
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url(), state=state, extra=extra))
    assert response.status_code == 200, response.headers.get("location")


def test_a_dva_set_for_a_legacy_client_serves_the_request_and_says_so_in_health(
    tw: TestWorld,
) -> None:
    url = authorize_url(tw.front_url("oud-dva"), scope="oudtest", state=None)
    with tw.client() as browser:
        assert browser.get(url).status_code == 200
        health = browser.get(tw.front_url("oud-dva") + "/health").json()
        strict_health = browser.get(tw.front_url() + "/health").json()
    assert any("without state and without PKCE" in w for w in health["warnings"])
    assert "warnings" not in strict_health


def test_the_relaxed_setting_is_warned_about_at_startup(
    tw: TestWorld, caplog: pytest.LogCaptureFixture
) -> None:
    settings: AuthserverSettings = tw.app_state("oud-dva").settings
    dva = tw.app_state("oud-dva").dva
    with caplog.at_level(logging.WARNING):
        DvaAuthorizationServer(settings, dva.lists, dva.store)
    assert "without state and without PKCE" in caplog.text
    assert AuthserverSettings.model_fields["allow_requests_without_state_or_pkce"].default is False
