"""A restart loses nothing (docs/architecture.md#storage), and the database holds no secret
in the clear."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from .browser import Browser, callback_params
from .conftest import (
    PGO,
    TestWorld,
    build_world,
    lists_and_resource_nodes,
    running_authservers,
    wait_healthy,
)
from .flows import REDIRECT_URI, authorize_url, exchange, introspect, obtain_code, token_request


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("restart")


def test_tokens_codes_consents_and_sessions_survive_a_restart(base: Path) -> None:
    world, pki = build_world(base)
    data_dir = base / "data"
    with lists_and_resource_nodes(world, pki, data_dir) as resource:
        with running_authservers(world, pki, data_dir) as channels:
            before = TestWorld(world, pki, data_dir, resource, channels)
            wait_healthy(before)
            with before.client(PGO) as pgo:
                token = exchange(pgo, before, obtain_code(before, langdurig=True).code).json()
            pending = obtain_code(before)
            person = before.browser()
            # A person half-way: logged in, looking at the toestemmingsverklaring.
            landing = person.open(authorize_url(before.front_url()))
            digid = person.choose(landing, "action", "login")
            consent = person.choose(
                digid, "action", "login", bsn=before.bsn_at("ziekenhuistest@medmij")
            )
            assert consent.response.status_code == 200
            cookies = person.client.cookies
            person.client.close()  # the browser keeps its cookie, not its connections

        with running_authservers(world, pki, data_dir) as channels:
            after = replace(before, channels=channels)
            wait_healthy(after)
            assert introspect(after, token["access_token"])["active"] is True
            with after.client(PGO) as pgo:
                assert exchange(pgo, after, pending.code).status_code == 200
                refreshed = token_request(
                    pgo,
                    after,
                    {
                        "grant_type": "refresh_token",
                        "refresh_token": token["refresh_token"],
                        "client_id": PGO,
                    },
                )
            assert refreshed.status_code == 200, refreshed.text
            person = Browser(after.client(), after.front_url())
            person.client.cookies = cookies
            with person:
                done = person.choose(consent, "decision", "allow")
            assert done.url.startswith(REDIRECT_URI)
            assert "code" in callback_params(done.url)

    stored = (data_dir / "authserver-test-dva" / "authserver.sqlite3").read_bytes()
    wal = data_dir / "authserver-test-dva" / "authserver.sqlite3-wal"
    stored += wal.read_bytes() if wal.exists() else b""
    for secret in (token["access_token"], token["refresh_token"], pending.code):
        assert secret.encode() not in stored
    cookie = cookies.get("__Host-dva_sessie")
    assert cookie
    assert cookie.encode() not in stored
