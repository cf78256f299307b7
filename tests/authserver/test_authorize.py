"""The authorization endpoint: what a PGO and a person see for good and bad requests."""

from __future__ import annotations

import pytest
from lxml import html

from .browser import callback_params
from .conftest import OTHER_PGO, PGO, UNTRUSTED_PGO, TestWorld
from .flows import REDIRECT_URI, STATE, authorize_url


def _error_page(tw: TestWorld, url: str) -> str:
    """The DVA's own error page: shown, never a redirect (core.authint.202/203)."""
    with tw.client() as browser:
        response = browser.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    text = html.fromstring(response.text).text_content()
    assert "Er ging iets mis" in text
    assert "Trace ID" in text
    return text


def _redirected_error(tw: TestWorld, url: str) -> dict[str, str]:
    """An error sent back to the PGO's redirect URI, with the state."""
    with tw.client() as browser:
        response = browser.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = callback_params(location)
    assert params["state"] == STATE
    assert "code" not in params
    return params


def test_a_valid_request_shows_the_landing_page_with_pgo_and_zorgaanbieder(
    tw: TestWorld,
) -> None:
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url()))
    assert response.status_code == 200
    page = html.fromstring(response.text)
    text = page.text_content()
    assert "Test PGO" in text  # OAuthclientOrganisatienaam from the OCL
    assert "Ziekenhuis Teststad" in text
    actions = {field.get("value") for field in page.xpath("//form//input[@name='action']")}
    assert actions == {"login", "cancel"}
    assert all(form.get("method") == "post" for form in page.forms)
    assert not page.xpath("//script")  # works without JavaScript


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"client_id": None}, "kennen wij niet"),
        ({"client_id": "onbekend.pgo.localhost"}, "kennen wij niet"),
        ({"redirect_uri": None}, "goed adres"),
        ({"redirect_uri": "https://evil.localhost/callback"}, "goed adres"),
        ({"redirect_uri": f"http://{PGO}/callback"}, "goed adres"),
        ({"redirect_uri": f"https://{PGO}/callback?next=1"}, "goed adres"),
        ({"redirect_uri": f"https://{PGO}/callback#frag"}, "goed adres"),
        ({"redirect_uri": f"https://{OTHER_PGO}/callback"}, "goed adres"),
        ({"redirect_uri": f"https://user@{PGO}/callback"}, "goed adres"),
    ],
    ids=[
        "no-client",
        "unknown-client",
        "no-redirect",
        "foreign-host",
        "http",
        "query",
        "fragment",
        "another-clients-host",
        "userinfo",
    ],
)
def test_bad_client_or_redirect_uri_shows_an_error_page_and_never_redirects(
    tw: TestWorld, overrides: dict[str, str | None], words: str
) -> None:
    url = authorize_url(tw.front_url(), **overrides)  # type: ignore[arg-type]
    assert words in _error_page(tw, url)


def test_a_repeated_client_id_is_not_trusted(tw: TestWorld) -> None:
    url = authorize_url(tw.front_url(), extra=[("client_id", OTHER_PGO)])
    _error_page(tw, url)


@pytest.mark.parametrize("state", [STATE, None])
def test_a_client_on_the_ocl_but_not_on_the_whitelist_is_refused_before_digid(
    tw: TestWorld, state: str | None
) -> None:
    # Its back channel would be refused at the token endpoint: no DigiD, consent or code
    # for nothing. The error page, never a redirect (the client is not to be trusted).
    url = authorize_url(
        tw.front_url(),
        client_id=UNTRUSTED_PGO,
        redirect_uri=f"https://{UNTRUSTED_PGO}/cb",
        state=state,
    )
    text = _error_page(tw, url)
    assert "geen gegevens bij ons ophalen" in text
    assert "staat niet op de Whitelist" in text  # the technical reason, in Dutch


def test_every_dva_refuses_a_client_that_is_not_on_the_whitelist(tw: TestWorld) -> None:
    url = authorize_url(
        tw.front_url("strikt-dva"),
        client_id=UNTRUSTED_PGO,
        redirect_uri=f"https://{UNTRUSTED_PGO}/cb",
        scope="strikttest",
        extra=[("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
               ("code_challenge_method", "S256")],
    )  # fmt: skip
    _error_page(tw, url)


@pytest.mark.parametrize(
    ("overrides", "error", "mentions"),
    [
        ({"scope": None}, "invalid_request", "scope is missing"),
        ({"scope": "48"}, "invalid_request", "AS 1.0"),
        ({"scope": "ZiekenhuisTest"}, "invalid_request", "lower case"),
        ({"scope": "ziekenhuistest@medmij"}, "invalid_request", "@medmij"),
        ({"scope": "onbekendziekenhuis"}, "invalid_request", "not served"),
        ({"scope": "strikttest"}, "invalid_request", "not served"),  # another DVA's
        ({"scope": "ggdtest~48"}, "invalid_request", "does not offer gegevensdienst 48"),
        ({"scope": "ziekenhuistest~48 ggdtest~63"}, "invalid_request", "same zorgaanbieder"),
        ({"scope": "subscribe~30/ziekenhuistest~48"}, "invalid_request", "subscription"),
        ({"response_type": None}, "invalid_request", "response_type is missing"),
        ({"response_type": "token"}, "unsupported_response_type", "authorization codes only"),
        (
            {"extra": [("code_challenge", "x" * 43), ("code_challenge_method", "plain")]},
            "invalid_request",
            "S256",
        ),
        ({"extra": [("scope", "ggdtest")]}, "invalid_request", "scope is repeated"),
    ],
    ids=[
        "no-scope",
        "bare-id",
        "upper-case",
        "suffix",
        "unknown-zorgaanbieder",
        "other-dva",
        "not-offered",
        "two-zorgaanbieders",
        "no-subscription",
        "no-response-type",
        "implicit",
        "pkce-plain",
        "repeated-scope",
    ],
)
def test_other_faults_go_back_to_the_pgo_with_the_oauth_error_and_state(
    tw: TestWorld, overrides: dict[str, object], error: str, mentions: str
) -> None:
    params = _redirected_error(tw, authorize_url(tw.front_url(), **overrides))  # type: ignore[arg-type]
    assert params["error"] == error
    assert mentions in params["error_description"]


def test_an_error_redirect_carries_no_state_when_none_was_sent(tw: TestWorld) -> None:
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url(), state=None, scope="nergens"))
    params = callback_params(response.headers["location"])
    assert params["error"] == "invalid_request"
    assert "state" not in params


@pytest.mark.parametrize(
    "scope",
    ["ziekenhuistest", "ziekenhuistest~48", "ziekenhuistest~48 ziekenhuistest~63", "ggdtest"],
)
def test_scopes_of_the_current_generations_are_accepted(tw: TestWorld, scope: str) -> None:
    with tw.client() as browser:
        assert browser.get(authorize_url(tw.front_url(), scope=scope)).status_code == 200


def test_unknown_parameters_are_ignored(tw: TestWorld) -> None:
    # core.authint.200: "overige parameters … moeten genegeerd worden".
    url = authorize_url(tw.front_url(), extra=[("prompt", "login"), ("nonce", "n")])
    with tw.client() as browser:
        assert browser.get(url).status_code == 200


def test_tracing_ids_may_be_missing_or_malformed_without_costing_the_request(
    tw: TestWorld,
) -> None:
    url = authorize_url(tw.front_url(), request_id="not-a-uuid", correlation_id="nope")
    with tw.client() as browser:
        assert browser.get(url).status_code == 200


def test_the_session_cookie_is_httponly_secure_and_samesite_lax(tw: TestWorld) -> None:
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url()))
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-dva_sessie=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    assert not any(flag.startswith("domain") for flag in flags)
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_authorize_endpoint_answers_get_only(tw: TestWorld) -> None:
    with tw.client() as browser:
        response = browser.post(tw.front_url() + "/oauth/authorize", data={"client_id": PGO})
    assert response.status_code == 405
