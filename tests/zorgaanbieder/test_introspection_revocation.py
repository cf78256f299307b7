"""A revoked token opens nothing once its revocation is answered, cache or no cache.

The authorisation server sends the digests of the access tokens it revoked to
``/_dva/ingetrokken`` before it answers the revocation (contract 3 of
:mod:`medmij_stack.protocol.dva_contract`; tests/authserver/test_revocation_notice.py shows
that each way of revoking does). Here the resource server's side, over real mutual TLS:
the cached answer is dropped, and the very next request with the token is refused, with
a cache long enough that only the notice can explain it. Only this DVA's authorisation
server may send a notice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from medmij_stack.protocol.dva_contract import REVOCATION_PATH
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import Dataset

from .authserver_fake import FakeAuthserver
from .conftest import AUTHSERVER, PGO, Running, Start

ZA = "ziekenhuis@medmij"


@pytest.fixture(scope="module")
def running(
    start_resource_server: Start, tiny_datasets: list[Dataset], fake_authserver: FakeAuthserver
) -> Iterator[Running]:
    with start_resource_server(
        datasets=tiny_datasets,
        introspection_url=fake_authserver.url,
        introspection_cache_seconds=60.0,  # only the notice can end a cached answer
    ) as server:
        yield server


@pytest.fixture
def fake(fake_authserver: FakeAuthserver) -> FakeAuthserver:
    fake_authserver.tokens.clear()
    fake_authserver.seen.clear()
    fake_authserver.failing = False
    return fake_authserver


def _search(running: Running, token: str) -> int:
    with running.client(PGO) as client:
        response = client.get(
            f"{running.base(ZA, '48')}/Condition", headers={"Authorization": f"Bearer {token}"}
        )
    return response.status_code


def _notice(running: Running, tokens: list[str], *, sender: str = AUTHSERVER) -> httpx.Response:
    digests = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in tokens]
    with running.client(sender) as client:
        return client.post(running.url + REVOCATION_PATH, json={"access_token_sha256": digests})


def test_after_the_notice_the_very_next_request_is_refused(
    running: Running, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    fake.grant("revoked-at-once", persons[0].bsn)
    fake.grant("still-good", persons[0].bsn)
    assert _search(running, "revoked-at-once") == 200
    assert _search(running, "still-good") == 200
    del fake.tokens["revoked-at-once"]  # the authorisation server revoked it, then tells:
    answer = _notice(running, ["revoked-at-once"])
    assert answer.status_code == 200
    assert answer.json() == {"dropped": 1}
    assert _search(running, "revoked-at-once") == 401
    # Other tokens keep their cached answer: no new introspection for them.
    asked = len(fake.seen)
    assert _search(running, "still-good") == 200
    assert len(fake.seen) == asked


def test_without_a_notice_the_cache_answers(
    running: Running, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    # The converse, so that the test above proves the notice and not a short cache.
    fake.grant("cached", persons[0].bsn)
    assert _search(running, "cached") == 200
    del fake.tokens["cached"]
    assert _search(running, "cached") == 200


@pytest.mark.parametrize("sender", [PGO, "stranger.za.localhost", None])
def test_only_this_dvas_authorisation_server_may_send_a_notice(
    running: Running, fake: FakeAuthserver, persons: tuple[TestPerson, ...], sender: str | None
) -> None:
    fake.grant("kept", persons[0].bsn)
    assert _search(running, "kept") == 200
    with running.client(sender) as client:
        digest = hashlib.sha256(b"kept").hexdigest()
        answer = client.post(running.url + REVOCATION_PATH, json={"access_token_sha256": [digest]})
    assert answer.status_code in (401, 403)
    assert fake.tokens  # nothing was dropped: the next request needs no introspection
    asked = len(fake.seen)
    assert _search(running, "kept") == 200
    assert len(fake.seen) == asked


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[" * 50_000,
        b'{"access_token_sha256": ' + b"[" * 500 + b"]" * 500 + b"}",
        b'{"access_token_sha256": ["not-hex"]}',
        b'{"access_token_sha256": "' + b"a" * 64 + b'"}',
        b"{}",
    ],
    ids=["broken", "deep", "deep-member", "not-hex", "not-a-list", "empty"],
)
def test_a_bad_notice_is_invalid_request(running: Running, body: bytes) -> None:
    with running.client(AUTHSERVER) as client:
        answer = client.post(
            running.url + REVOCATION_PATH,
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
