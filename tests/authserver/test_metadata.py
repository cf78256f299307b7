"""Authorization-server metadata (RFC 8414): public, valid, and what the handlers really serve."""

from __future__ import annotations

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from medmij_stack.authserver import paths
from medmij_stack.wiring.world import AUTHORIZE_PATH, TOKEN_PATH

from .conftest import TestWorld

WELL_KNOWN = "/.well-known/oauth-authorization-server"


def test_metadata_is_served_without_a_client_certificate_and_is_valid(tw: TestWorld) -> None:
    with tw.client() as anonymous:
        response = anonymous.get(tw.back_url() + WELL_KNOWN)
    assert response.status_code == 200
    metadata = AuthorizationServerMetadata(response.json())
    metadata.validate()
    assert metadata["issuer"] == tw.back_url()
    # The same endpoints the ZAL publishes for this DVA.
    zal = tw.app_state().lists.lists.zal.current
    dienst = zal.get("ziekenhuistest").gegevensdienst("48")
    assert metadata["authorization_endpoint"] == dienst.authorization_endpoint
    assert metadata["token_endpoint"] == dienst.token_endpoint
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["tls_client_auth"]
    assert sorted(metadata["scopes_supported"]) == ["ggdtest", "huisartstest", "ziekenhuistest"]


def test_every_endpoint_in_the_metadata_answers(tw: TestWorld) -> None:
    with tw.client() as anonymous:
        metadata = anonymous.get(tw.back_url() + WELL_KNOWN).json()
    with tw.client() as browser:
        assert browser.get(metadata["authorization_endpoint"]).status_code == 400  # error page
    with tw.client("pgo.localhost") as pgo:
        for name in ("token_endpoint", "revocation_endpoint"):
            answer = pgo.post(metadata[name], data={"client_id": "pgo.localhost"})
            assert answer.status_code in (200, 400), (name, answer.text)
            assert answer.headers["content-type"] == "application/json"
    with tw.client("fhir.dva.localhost") as resource_server:
        answer = resource_server.post(metadata["introspection_endpoint"], data={"token": "x"})
        assert answer.json() == {"active": False}


def test_the_paths_are_the_ones_the_world_publishes() -> None:
    assert paths.AUTHORIZE == AUTHORIZE_PATH
    assert paths.TOKEN == TOKEN_PATH
