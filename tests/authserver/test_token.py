"""The token endpoint over mutual TLS: what a PGO gets, and every way it must not get a token."""

from __future__ import annotations

import sqlite3
import uuid

import httpx
import pytest

from medmij_stack.authserver.credentials import digest
from medmij_stack.protocol.scope import CombinatieScope, parse_scope

from .conftest import OTHER_PGO, PGO, STRANGER, UNTRUSTED_PGO, TestWorld
from .flows import REDIRECT_URI, exchange, introspect, obtain_code, token_request


def _oauth_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert "access_token" not in body
    assert body["error"] == error
    description: str = body.get("error_description", "")
    return description


def test_a_code_buys_a_bearer_token_for_the_available_gegevensdiensten(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    assert uuid.UUID(issued.code).version == 4
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    token = response.json()
    assert uuid.UUID(token["access_token"]).version == 4
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 900
    assert "refresh_token" not in token  # no langdurige toestemming asked
    # Granted scope: the combinations that passed the beschikbaarheidstoets.
    assert token["scope"] == "ziekenhuistest~48 ziekenhuistest~63"
    assert parse_scope(token["scope"]) == CombinatieScope("ziekenhuistest", ("48", "63"))


def test_introspection_tells_the_resource_server_whose_data_and_which(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    issued = obtain_code(tw, bsn=bsn)
    with tw.client(PGO) as pgo:
        token = exchange(pgo, tw, issued.code).json()
    answer = introspect(tw, token["access_token"])
    assert answer["active"] is True
    assert answer["bsn"] == bsn
    assert answer["zorgaanbieder"] == "ziekenhuistest@medmij"
    assert answer["gegevensdiensten"] == ["48", "63"]
    assert answer["client_id"] == PGO
    assert isinstance(answer["exp"], int)
    assert isinstance(answer["iat"], int)
    assert answer["exp"] - answer["iat"] == 900
    assert introspect(tw, "f" * 36) == {"active": False}


def test_only_the_dvas_resource_server_may_introspect(tw: TestWorld) -> None:
    with tw.client(PGO) as pgo:
        response = pgo.post(tw.back_url() + "/oauth/introspect", data={"token": "x"})
    assert _oauth_error(response, 400, "invalid_client")


def test_a_partly_available_consent_grants_only_that_part(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    tw.resource.partial[("ziekenhuistest@medmij", bsn)] = ("63",)
    issued = obtain_code(tw, bsn=bsn, scope="ziekenhuistest~48 ziekenhuistest~63")
    with tw.client(PGO) as pgo:
        token = exchange(pgo, tw, issued.code).json()
    assert token["scope"] == "ziekenhuistest~63"
    assert introspect(tw, token["access_token"])["gegevensdiensten"] == ["63"]


def test_a_replayed_code_fails_and_revokes_what_it_issued(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        first = exchange(pgo, tw, issued.code)
        second = exchange(pgo, tw, issued.code)
    assert first.status_code == 200
    assert "already presented" in _oauth_error(second, 400, "invalid_grant")
    assert introspect(tw, first.json()["access_token"]) == {"active": False}


def test_a_code_is_spent_even_when_its_first_exchange_fails(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        wrong = exchange(pgo, tw, issued.code, redirect_uri=f"https://{PGO}/elders")
        right = exchange(pgo, tw, issued.code)
    assert "redirect_uri" in _oauth_error(wrong, 400, "invalid_grant")
    _oauth_error(right, 400, "invalid_grant")


def test_a_code_from_another_client_is_refused(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(OTHER_PGO) as other:
        stolen = exchange(other, tw, issued.code, client_id=OTHER_PGO, redirect_uri=REDIRECT_URI)
    assert "another client" in _oauth_error(stolen, 400, "invalid_grant")
    with tw.client(PGO) as pgo:  # and it is spent: the leak ends it
        _oauth_error(exchange(pgo, tw, issued.code), 400, "invalid_grant")


def test_an_expired_code_is_refused(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    # Age the code past its 900 s in the server's own store instead of waiting.
    with sqlite3.connect(tw.database()) as db:
        db.execute(
            "UPDATE authorization_codes SET expires_at = '2000-01-01 00:00:00' WHERE code_hash = ?",
            (digest(issued.code),),
        )
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code)
    assert "expired" in _oauth_error(response, 400, "invalid_grant")


def test_an_unknown_code_and_a_missing_redirect_uri_are_refused(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        unknown = exchange(pgo, tw, str(uuid.uuid4()))
        no_redirect = exchange(pgo, tw, issued.code, redirect_uri=None)
        no_code = token_request(
            pgo,
            tw,
            {"grant_type": "authorization_code", "client_id": PGO, "redirect_uri": REDIRECT_URI},
        )
        implicit = token_request(pgo, tw, {"grant_type": "password", "client_id": PGO})
        no_grant_type = token_request(pgo, tw, {"code": issued.code, "client_id": PGO})
    assert "unknown" in _oauth_error(unknown, 400, "invalid_grant")
    assert "redirect_uri" in _oauth_error(no_redirect, 400, "invalid_request")
    _oauth_error(no_code, 400, "invalid_request")
    _oauth_error(implicit, 400, "unsupported_grant_type")
    assert "grant_type is missing" in _oauth_error(no_grant_type, 400, "invalid_request")


def test_no_client_certificate_no_token(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client() as anonymous:
        response = exchange(anonymous, tw, issued.code)
    assert "client certificate is required" in _oauth_error(response, 403, "access_denied")
    with tw.client(PGO) as pgo:  # the refused request never reached the code
        assert exchange(pgo, tw, issued.code).status_code == 200


def test_a_certificate_not_on_the_whitelist_gets_no_token(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    for hostname in (UNTRUSTED_PGO, STRANGER):
        with tw.client(hostname) as refused:
            response = exchange(refused, tw, issued.code)
        assert "not on the Whitelist" in _oauth_error(response, 403, "access_denied")


def test_client_id_must_be_a_name_in_the_client_certificate(tw: TestWorld) -> None:
    issued = obtain_code(tw)
    with tw.client(tw.dva().resource.hostname) as whitelisted_but_not_the_client:
        response = exchange(whitelisted_but_not_the_client, tw, issued.code)
    assert "client certificate" in _oauth_error(response, 400, "invalid_client")
    with tw.client(PGO) as pgo:
        unlisted = exchange(pgo, tw, issued.code, client_id="onbekend.pgo.localhost")
        missing = token_request(
            pgo,
            tw,
            {"grant_type": "authorization_code", "code": issued.code, "redirect_uri": REDIRECT_URI},
        )
    assert "OAuth Client List" in _oauth_error(unlisted, 400, "invalid_client")
    assert "client_id is missing" in _oauth_error(missing, 400, "invalid_client")
    # No OAuth client presented the code: it is not spent (core.tknint.204), so the PGO
    # still gets its token.
    with tw.client(PGO) as pgo:
        assert exchange(pgo, tw, issued.code).status_code == 200


def test_a_node_that_is_no_client_cannot_revoke_a_token_by_replaying_its_code(
    tw: TestWorld,
) -> None:
    issued = obtain_code(tw)
    with tw.client(PGO) as pgo:
        token = exchange(pgo, tw, issued.code).json()["access_token"]
    with tw.client(tw.dva().resource.hostname) as whitelisted_but_not_the_client:
        replay = exchange(whitelisted_but_not_the_client, tw, issued.code)
    _oauth_error(replay, 400, "invalid_client")
    assert introspect(tw, token)["active"] is True


def test_an_empty_code_is_an_unknown_code_not_a_server_error(tw: TestWorld) -> None:
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, "")
    assert "unknown" in _oauth_error(response, 400, "invalid_grant")


@pytest.mark.parametrize(
    "how",
    ["json", "multipart", "query", "repeated"],
)
def test_the_token_endpoint_takes_form_encoded_bodies_only(tw: TestWorld, how: str) -> None:
    issued = obtain_code(tw)
    data = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "client_id": PGO,
        "redirect_uri": REDIRECT_URI,
    }
    with tw.client(PGO) as pgo:
        if how == "json":
            response = pgo.post(tw.token_url(), json=data)
        elif how == "multipart":
            response = pgo.post(tw.token_url(), files={"x": b"y"}, data=data)
        elif how == "query":
            response = pgo.post(tw.token_url(), params=data)
        else:
            body = "&".join(f"{k}={v}" for k, v in [*data.items(), ("code", issued.code)])
            response = pgo.post(
                tw.token_url(),
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert _oauth_error(response, 400, "invalid_request")
        # None of these spent the code: the server never read it.
        assert exchange(pgo, tw, issued.code).status_code == 200


def test_an_oversized_body_is_refused(tw: TestWorld) -> None:
    with tw.client(PGO) as pgo:
        response = pgo.post(tw.token_url(), data={"grant_type": "x" * 20_000})
    _oauth_error(response, 413, "invalid_request")


def test_token_endpoint_requires_post(tw: TestWorld) -> None:
    with tw.client(PGO) as pgo:
        assert pgo.get(tw.token_url()).status_code == 405


# --- langdurige toestemming ----------------------------------------------------------------


def _long_term(tw: TestWorld) -> dict[str, str]:
    issued = obtain_code(tw, langdurig=True)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code)
    assert response.status_code == 200
    token: dict[str, str] = response.json()
    return token


def _refresh(tw: TestWorld, refresh_token: str, **extra: str) -> httpx.Response:
    with tw.client(PGO) as pgo:
        return token_request(
            pgo,
            tw,
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": PGO}
            | extra,
        )


def test_long_term_consent_gives_a_refresh_token_that_rotates(tw: TestWorld) -> None:
    token = _long_term(tw)
    assert len(token["refresh_token"]) >= 43  # 256 bits
    refreshed = _refresh(tw, token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] != token["refresh_token"]
    assert new["access_token"] != token["access_token"]
    assert new["expires_in"] == 900
    assert new["scope"] == token["scope"]
    assert introspect(tw, new["access_token"])["active"] is True


def test_a_rotated_refresh_token_used_again_ends_the_whole_consent(tw: TestWorld) -> None:
    token = _long_term(tw)
    new = _refresh(tw, token["refresh_token"]).json()
    replay = _refresh(tw, token["refresh_token"])
    assert "already used" in _oauth_error(replay, 400, "invalid_grant")
    assert introspect(tw, new["access_token"]) == {"active": False}
    _oauth_error(_refresh(tw, new["refresh_token"]), 400, "invalid_grant")


def test_a_refresh_may_narrow_the_scope_but_not_widen_it(tw: TestWorld) -> None:
    token = _long_term(tw)
    narrowed = _refresh(tw, token["refresh_token"], scope="ziekenhuistest~63")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "ziekenhuistest~63"
    wider = _refresh(tw, narrowed.json()["refresh_token"], scope="ggdtest")
    _oauth_error(wider, 400, "invalid_scope")


def test_the_bare_name_on_refresh_means_the_whole_consent(tw: TestWorld) -> None:
    token = _long_term(tw)
    refreshed = _refresh(tw, token["refresh_token"], scope="ziekenhuistest")
    assert refreshed.json()["scope"] == "ziekenhuistest~48 ziekenhuistest~63"


def test_a_long_term_consent_lapses_after_six_months_unused(tw: TestWorld) -> None:
    token = _long_term(tw)
    with sqlite3.connect(tw.database()) as db:
        db.execute(
            "UPDATE tokens SET refresh_expires_at = '2000-01-01 00:00:00' WHERE refresh_hash = ?",
            (digest(token["refresh_token"]),),
        )
    lapsed = _refresh(tw, token["refresh_token"])
    assert "lapsed" in _oauth_error(lapsed, 400, "invalid_grant")


def test_another_client_cannot_use_a_refresh_token(tw: TestWorld) -> None:
    token = _long_term(tw)
    with tw.client(OTHER_PGO) as other:
        stolen = token_request(
            other,
            tw,
            {
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": OTHER_PGO,
            },
        )
    _oauth_error(stolen, 400, "invalid_grant")
    # A leaked refresh token ends the consent for everyone.
    _oauth_error(_refresh(tw, token["refresh_token"]), 400, "invalid_grant")


# --- revocation (RFC 7009) -----------------------------------------------------------------


def _revoke(tw: TestWorld, token: str, client: str = PGO, **extra: str) -> httpx.Response:
    with tw.client(client) as pgo:
        return pgo.post(
            tw.back_url() + "/oauth/revoke", data={"token": token, "client_id": client, **extra}
        )


def test_revoking_the_refresh_token_ends_the_consent(tw: TestWorld) -> None:
    token = _long_term(tw)
    response = _revoke(tw, token["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert introspect(tw, token["access_token"]) == {"active": False}
    after = _refresh(tw, token["refresh_token"])
    _oauth_error(after, 400, "invalid_grant")


def test_revoking_an_access_token_ends_only_that_token(tw: TestWorld) -> None:
    token = _long_term(tw)
    assert _revoke(tw, token["access_token"]).status_code == 200
    assert introspect(tw, token["access_token"]) == {"active": False}
    assert _refresh(tw, token["refresh_token"]).status_code == 200


def test_revoking_an_unknown_token_is_not_an_error(tw: TestWorld) -> None:
    assert _revoke(tw, "nothing-issued").status_code == 200


def test_a_client_cannot_revoke_another_clients_token(tw: TestWorld) -> None:
    token = _long_term(tw)
    _oauth_error(_revoke(tw, token["refresh_token"], client=OTHER_PGO), 400, "invalid_grant")
    assert _refresh(tw, token["refresh_token"]).status_code == 200


def test_refresh_tokens_are_never_active_at_introspection(tw: TestWorld) -> None:
    token = _long_term(tw)
    assert introspect(tw, token["refresh_token"]) == {"active": False}


def test_a_fault_of_our_own_at_the_token_endpoint_is_a_server_error(
    tw: TestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tw.app_state().dva.store, "spend_code", broken)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, str(uuid.uuid4()))
    assert "database" not in _oauth_error(response, 500, "server_error")
