"""Tokens of the MedMij flow, and the beschikbaarheidstoets, with an authorisation server.

A small stand-in for the DVA's authorisation server answers RFC 7662 introspection over
real mutual TLS, as ``medmij_stack.protocol.dva_contract`` fixes it; the resource server asks it
with its own certificate. The same server (by its certificate) is the one allowed to ask for
availability.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.runtime.net import make_client
from medmij_stack.zorgaanbieder.dataset import Dataset

from .authserver_fake import FakeAuthserver
from .conftest import AUTHSERVER, PGO, RESOURCE, Running, Start

ZA = "ziekenhuis@medmij"


@pytest.fixture(scope="module")
def running(
    start_resource_server: Start, tiny_datasets: list[Dataset], fake_authserver: FakeAuthserver
) -> Iterator[Running]:
    with start_resource_server(
        datasets=tiny_datasets,
        introspection_url=fake_authserver.url,
        introspection_cache_seconds=2.0,
    ) as server:
        yield server


@pytest.fixture
def fake(fake_authserver: FakeAuthserver) -> FakeAuthserver:
    fake_authserver.tokens.clear()
    fake_authserver.seen.clear()
    fake_authserver.failing = False
    return fake_authserver


@pytest.fixture
def client(running: Running) -> Iterator[httpx.Client]:
    with running.client() as http:
        yield http


def search(
    client: httpx.Client, running: Running, token: str, where: str = "48/Condition", za: str = ZA
) -> httpx.Response:
    gegevensdienst, _, path = where.partition("/")
    return client.get(
        f"{running.base(za, gegevensdienst)}/{path}", headers={"Authorization": f"Bearer {token}"}
    )


def ids(response: httpx.Response) -> list[str]:
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def test_a_medmij_token_opens_the_record_of_the_person_it_names(
    running: Running, client: httpx.Client, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    fake.grant("flow-token-a", persons[0].bsn)
    fake.grant("flow-token-b", persons[1].bsn)
    assert ids(search(client, running, "flow-token-a")) == ["cond-a-1"]
    assert ids(search(client, running, "flow-token-b")) == ["cond-b-1"]
    assert ids(search(client, running, "flow-token-a", "63/Immunization")) == ["imm-a-1", "imm-a-2"]
    # The authorisation server was asked over mutual TLS, by the resource server's node.
    assert {peer for peer, _ in fake.seen} == {frozenset({RESOURCE})}
    # BSNs stay inside: nothing the resource server answers carries one.
    for token in ("flow-token-a", "flow-token-b"):
        body = search(client, running, token, "48/Patient").text
        assert persons[0].bsn not in body
        assert persons[1].bsn not in body


def test_one_retrieval_costs_one_introspection(
    running: Running, client: httpx.Client, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    fake.grant("flow-token-once", persons[0].bsn)
    for path in ("48/Condition", "48/Patient", "48/Observation", "48/Condition"):
        assert search(client, running, "flow-token-once", path).status_code == 200
    assert [token for _, token in fake.seen] == ["flow-token-once"]


def test_a_revoked_token_stops_working_within_the_cache_time(
    running: Running, client: httpx.Client, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    seconds = running.settings.introspection_cache_seconds
    fake.grant("flow-token-revoked", persons[0].bsn)
    assert search(client, running, "flow-token-revoked").status_code == 200
    del fake.tokens["flow-token-revoked"]
    revoked = time.monotonic()
    status = 200
    while status == 200 and time.monotonic() < revoked + seconds + 5:
        time.sleep(0.1)
        status = search(client, running, "flow-token-revoked").status_code
    assert status == 401
    assert time.monotonic() - revoked <= seconds + 0.5


@pytest.mark.parametrize(
    ("zorgaanbieder", "gegevensdiensten", "where"),
    [
        ("ggd@medmij", ("63",), "63/Immunization"),  # consent at the GGD, asking the hospital
        (ZA, ("63",), "48/Condition"),  # consent for Vaccinaties, asking BgZ
    ],
)
def test_a_token_outside_its_consent_is_403(
    running: Running,
    client: httpx.Client,
    fake: FakeAuthserver,
    persons: tuple[TestPerson, ...],
    zorgaanbieder: str,
    gegevensdiensten: tuple[str, ...],
    where: str,
) -> None:
    fake.grant("flow-token-scope", persons[0].bsn, zorgaanbieder, gegevensdiensten)
    response = search(client, running, "flow-token-scope", where)
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert response.json()["resourceType"] == "OperationOutcome"


def test_an_inactive_token_is_401(
    running: Running, client: httpx.Client, fake: FakeAuthserver
) -> None:
    response = search(client, running, "flow-token-unknown")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["issue"][0]["code"] == "login"


def test_a_person_without_a_record_here_gets_empty_answers(
    running: Running, client: httpx.Client, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    fake.grant("flow-token-nobody", persons[5].bsn)
    response = search(client, running, "flow-token-nobody")
    assert response.status_code == 200
    assert response.json()["total"] == 0
    assert search(client, running, "flow-token-nobody", "48/Patient/pat-a").status_code == 404


def test_a_zorgaanbieder_that_does_not_share_shows_nothing(
    running: Running, client: httpx.Client, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    fake.grant("flow-token-huisarts", persons[0].bsn, "huisarts@medmij", ("48",))
    response = search(client, running, "flow-token-huisarts", "48/Condition", za="huisarts@medmij")
    assert response.status_code == 200
    assert response.json()["total"] == 0


def test_an_authorisation_server_in_trouble_is_503_not_401(
    running: Running, client: httpx.Client, fake: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    fake.failing = True
    fake.grant("flow-token-trouble", persons[0].bsn)
    response = search(client, running, "flow-token-trouble")
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"
    assert "www-authenticate" not in response.headers
    fake.failing = False
    assert search(client, running, "flow-token-trouble").status_code == 200


def test_an_unreachable_authorisation_server_is_503(
    start_resource_server: Start, tiny_datasets: list[Dataset], persons: tuple[TestPerson, ...]
) -> None:
    nowhere = f"https://{AUTHSERVER}:9/oauth/introspect"  # discard port: nobody listens
    with (
        start_resource_server(datasets=tiny_datasets, introspection_url=nowhere) as running,
        running.client() as client,
    ):
        response = search(client, running, "flow-token-anything")
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"


# --- beschikbaarheidstoets -----------------------------------------------------------------


def ask(running: Running, body: Any, as_host: str = AUTHSERVER) -> httpx.Response:
    with make_client(
        trust=[running.pki.root_cert],
        cert=running.pki.leaf(as_host),
        hosts={RESOURCE: "127.0.0.1"},
    ) as client:
        if isinstance(body, bytes):
            return client.post(f"{running.url}{AVAILABILITY_PATH}", content=body)
        return client.post(f"{running.url}{AVAILABILITY_PATH}", json=body)


def question(
    bsn: str, zorgaanbieder: str = ZA, gegevensdiensten: list[str] | None = None
) -> dict[str, Any]:
    return {
        "zorgaanbieder": zorgaanbieder,
        "bsn": bsn,
        "gegevensdiensten": ["48", "63"] if gegevensdiensten is None else gegevensdiensten,
    }


def test_availability_says_which_gegevensdiensten_hold_data(
    running: Running, persons: tuple[TestPerson, ...]
) -> None:
    assert ask(running, question(persons[0].bsn)).json() == {"beschikbaar": ["48", "63"]}
    # B has data for both too; someone without a record here has none.
    assert ask(running, question(persons[1].bsn, gegevensdiensten=["63"])).json() == {
        "beschikbaar": ["63"]
    }
    assert ask(running, question(persons[5].bsn)).json() == {"beschikbaar": []}
    # A gegevensdienst the zorgaanbieder does not offer is never available.
    assert ask(running, question(persons[0].bsn, "ggd@medmij")).json() == {"beschikbaar": []}


def test_availability_at_a_zorgaanbieder_that_does_not_share_is_no(
    running: Running, persons: tuple[TestPerson, ...]
) -> None:
    answer = ask(running, question(persons[0].bsn, "huisarts@medmij", ["48"]))
    assert answer.status_code == 200
    assert answer.json() == {"beschikbaar": []}


def test_only_this_dvas_authorisation_server_may_ask(
    running: Running, persons: tuple[TestPerson, ...]
) -> None:
    refused = ask(running, question(persons[0].bsn), as_host=PGO)
    assert refused.status_code == 403
    assert refused.json()["error"] == "access_denied"
    assert "48" not in refused.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{niet json", 400),
        (b"[]", 400),
        ({"zorgaanbieder": ZA, "bsn": "123"}, 400),
        ({"zorgaanbieder": ZA, "bsn": "12345678A", "gegevensdiensten": ["48"]}, 400),
        ({"zorgaanbieder": ZA, "bsn": "999911120", "gegevensdiensten": "48"}, 400),
        ({"zorgaanbieder": "onbekend@medmij", "bsn": "999911120", "gegevensdiensten": []}, 404),
    ],
    ids=["not-json", "not-an-object", "incomplete", "bsn-not-digits", "ids-not-a-list", "unknown"],
)
def test_a_bad_availability_question_is_refused_clearly(
    running: Running, body: Any, status: int
) -> None:
    response = ask(running, body)
    assert response.status_code == status
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]
