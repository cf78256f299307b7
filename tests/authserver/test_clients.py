"""Who may be redirected to, and what an error description may contain."""

from __future__ import annotations

import pytest

from medmij_stack.authserver.oauth.clients import OclClient, redirect_uri_problem
from medmij_stack.protocol.lists import OAuthclient
from medmij_stack.protocol.oauth_errors import ascii_description


@pytest.mark.parametrize(
    "uri",
    [
        "https://pgo.localhost/cb",
        "https://pgo.localhost:8443/medmij/callback",
        "https://PGO.localhost/cb",  # host names compare case-insensitively
        "https://pgo.localhost",
    ],
)
def test_full_https_uris_on_the_ocl_hostname_are_allowed(uri: str) -> None:
    assert redirect_uri_problem(uri, "pgo.localhost") is None


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://pgo.localhost/cb", "https"),
        ("https://evil.localhost/cb", "own OCL hostname"),
        ("https://pgo.localhost.evil.localhost/cb", "own OCL hostname"),
        ("https://evil.localhost/https://pgo.localhost/cb", "own OCL hostname"),
        ("https://pgo.localhost/cb?x=1", "query"),
        ("https://pgo.localhost/cb?", "query"),
        ("https://pgo.localhost/cb#x", "fragment"),
        ("https://pgo.localhost@evil.localhost/cb", "user information"),
        ("https://pgo.localhost:99999/cb", "not a URI"),
        ("/cb", "https"),
        ("https://pgo.localhost/c b", "white space"),
    ],
)
def test_other_redirect_uris_are_refused_with_the_reason(uri: str, problem: str) -> None:
    found = redirect_uri_problem(uri, "pgo.localhost")
    assert found is not None
    assert problem in found


def test_an_ocl_client_authenticates_by_certificate_only() -> None:
    client = OclClient(OAuthclient("PGO.localhost", "Test PGO"))
    assert client.get_client_id() == "pgo.localhost"
    assert client.get_default_redirect_uri() is None
    assert not client.check_client_secret("anything")
    assert client.check_endpoint_auth_method("tls_client_auth", "token")
    assert not client.check_endpoint_auth_method("client_secret_basic", "token")
    assert client.check_response_type("code")
    assert not client.check_response_type("token")
    assert client.check_grant_type("refresh_token")
    assert not client.check_grant_type("client_credentials")


def test_error_descriptions_are_kept_to_the_characters_oauth_allows() -> None:
    assert ascii_description('scope "é\\x"') == "scope ???x?"
    assert ascii_description("a" * 400).endswith("...")
    assert len(ascii_description("a" * 400)) == 300
    assert ascii_description("No such resources.") == "No such resources."
