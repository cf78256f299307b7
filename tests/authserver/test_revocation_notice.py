"""Every way a token is revoked tells the resource server before the revocation is answered.

The resource server caches introspection answers; contract 3 of
:mod:`medmij_stack.protocol.dva_contract` has the authorisation server send the digests of the
revoked access tokens first. The fake resource node of this world records the notices, so
each test revokes one way and checks, the moment the answer is in, that the resource node
already heard of every access token the revocation ended, from this DVA's back node.
(tests/zorgaanbieder/test_introspection_revocation.py shows the resource server's side:
a notice, and the very next request with the token is refused.)
"""

from __future__ import annotations

import hashlib

import httpx

from .conftest import PGO, TestWorld
from .flows import exchange, introspect, obtain_code, token_request


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _heard(tw: TestWorld) -> dict[str, frozenset[str]]:
    return dict(tw.resource.notices)


def _tokens(tw: TestWorld, *, langdurig: bool) -> dict[str, str]:
    issued = obtain_code(tw, langdurig=langdurig)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code)
    assert response.status_code == 200, response.text
    token: dict[str, str] = response.json()
    token["code"] = issued.code
    return token


def _revoke(tw: TestWorld, token: str, **extra: str) -> httpx.Response:
    with tw.client(PGO) as pgo:
        return pgo.post(
            tw.back_url() + "/oauth/revoke", data={"token": token, "client_id": PGO, **extra}
        )


def _refresh(tw: TestWorld, refresh_token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": PGO}
    with tw.client(PGO) as pgo:
        return token_request(pgo, tw, data)


def test_an_access_token_revoked_by_rfc_7009_is_noticed_before_the_answer(tw: TestWorld) -> None:
    token = _tokens(tw, langdurig=False)
    assert _digest(token["access_token"]) not in _heard(tw)
    assert _revoke(tw, token["access_token"], token_type_hint="access_token").status_code == 200
    assert _heard(tw)[_digest(token["access_token"])] == frozenset({"api.dva.localhost"})
    assert introspect(tw, token["access_token"]) == {"active": False}


def test_a_refresh_token_revoked_by_rfc_7009_notices_every_access_token_of_the_consent(
    tw: TestWorld,
) -> None:
    token = _tokens(tw, langdurig=True)
    refreshed = _refresh(tw, token["refresh_token"]).json()
    assert _revoke(tw, refreshed["refresh_token"]).status_code == 200
    heard = _heard(tw)
    assert _digest(token["access_token"]) in heard
    assert _digest(refreshed["access_token"]) in heard


def test_a_replayed_code_notices_the_tokens_it_issued(tw: TestWorld) -> None:
    token = _tokens(tw, langdurig=False)
    with tw.client(PGO) as pgo:
        assert exchange(pgo, tw, token["code"]).status_code == 400
    assert _digest(token["access_token"]) in _heard(tw)


def test_a_replayed_refresh_token_notices_every_access_token_of_the_consent(
    tw: TestWorld,
) -> None:
    token = _tokens(tw, langdurig=True)
    refreshed = _refresh(tw, token["refresh_token"]).json()
    assert _refresh(tw, token["refresh_token"]).status_code == 400  # the replay
    heard = _heard(tw)
    assert _digest(token["access_token"]) in heard
    assert _digest(refreshed["access_token"]) in heard


def test_a_consent_ended_at_the_dva_notices_its_tokens(tw: TestWorld) -> None:
    token = _tokens(tw, langdurig=True)
    store = tw.app_state().dva.store
    info = store.find_access(token["access_token"])
    store.revoke_grant(info.grant.id, "withdrawn by the person")
    assert _digest(token["access_token"]) in _heard(tw)


def test_an_unknown_token_revoked_notices_nothing(tw: TestWorld) -> None:
    before = len(tw.resource.notices)
    assert _revoke(tw, "not-a-token").status_code == 200
    assert len(tw.resource.notices) == before
