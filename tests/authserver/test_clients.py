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
        "https://PGO.localhost/cb",  # host names compare case-insensitively
        "https://pgo.localhost",
        "https://pgo.localhost/medmij/callback/",
        "https://pgo.localhost/a.b/..c/c../%41",  # dots inside a segment are a name
    ],
)
def test_full_https_uris_on_the_ocl_hostname_are_allowed(uri: str) -> None:
    assert redirect_uri_problem(uri, "pgo.localhost") is None


@pytest.mark.parametrize("port", ["8443", "443", "1"])
def test_a_port_is_allowed_in_a_development_world_only(port: str) -> None:
    uri = f"https://pgo.localhost:{port}/medmij/callback"
    assert redirect_uri_problem(uri, "pgo.localhost", development=True) is None
    assert "port" in (redirect_uri_problem(uri, "pgo.localhost") or "")
    assert "port" in (redirect_uri_problem("https://pgo.localhost:/cb", "pgo.localhost") or "")


DOT_SEGMENTS = ["/..", "/../cb", "/a/../../cb", "/./cb", "/cb/.", "/%2e%2e/cb", "/%2E./cb",
                "/.%2e/cb", "/%2e/cb", "/a/%2E%2E"]  # fmt: skip
ENCODED_SLASHES = ["/a%2fb", "/a%2Fb", "/%2f%2fevil.localhost/cb", "/a%2F..%2Fb"]
BACKSLASHES = ["/a\\b", "/\\evil.localhost/cb", "/a%5cb", "/a%5C..%5Cb"]
USERINFO = [
    "https://user@pgo.localhost/cb",
    "https://@pgo.localhost/cb",
    "https://user:pw@pgo.localhost/cb",
    "https://pgo.localhost:pw@pgo.localhost/cb",
]


@pytest.mark.parametrize("development", [False, True])
@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        *((f"https://pgo.localhost{path}", "dot-segment") for path in DOT_SEGMENTS),
        *((f"https://pgo.localhost{path}", "encoded slash") for path in ENCODED_SLASHES),
        *((f"https://pgo.localhost{path}", "backslash") for path in BACKSLASHES),
        *((uri, "user information") for uri in USERINFO),
    ],
)
def test_paths_that_resolve_elsewhere_and_user_information_are_refused_in_every_world(
    uri: str, problem: str, development: bool
) -> None:
    found = redirect_uri_problem(uri, "pgo.localhost", development=development)
    assert found is not None
    assert problem in found


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
        ("https://pgo.localhost:8443/cb", "port"),
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
