"""A search is read once, by the request handler, and the store runs what it is handed.

The handler plans each search (``store.plan_search``) after the token is checked; the store
(here the real Repository, noting what it is asked) receives that plan and never the query.
A search this server cannot answer is refused before any store is asked, with the same 400
OperationOutcome for every token, whether its person has records here or not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from medmij_stack.protocol.fhir import FhirFormat
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey
from medmij_stack.zorgaanbieder.store import Repository, SearchPlan, SearchResult

from . import tiny
from .authserver_fake import FakeAuthserver
from .conftest import Running, Start
from .store.helpers import plan

ZA = "ziekenhuis@medmij"
LOINC_WEIGHT = "http://loinc.org|29463-7"


class RecordingRepository(Repository):
    """The store, noting every plan it is asked to run."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.plans: list[SearchPlan] = []

    def search(self, endpoint: EndpointKey, patient_id: str, plan: SearchPlan) -> SearchResult:
        self.plans.append(plan)
        return super().search(endpoint, patient_id, plan)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingRepository]:
    path: Path = tmp_path_factory.mktemp("planning") / "store.db"
    repository = RecordingRepository.create(f"sqlite:///{path}")
    assert isinstance(repository, RecordingRepository)
    yield repository
    repository.close()


@pytest.fixture(scope="module")
def running(
    start_resource_server: Start,
    tiny_datasets: list[Dataset],
    fake_authserver: FakeAuthserver,
    store: RecordingRepository,
) -> Iterator[Running]:
    with start_resource_server(
        datasets=tiny_datasets, records=store, introspection_url=fake_authserver.url
    ) as server:
        yield server


@pytest.fixture
def client(running: Running) -> Iterator[httpx.Client]:
    with running.client() as http:
        yield http


def get(client: httpx.Client, url: str, token: str, **headers: str) -> httpx.Response:
    return client.get(url, headers={"Authorization": f"Bearer {token}", **headers})


def test_the_store_runs_the_plan_the_handler_made(
    running: Running, client: httpx.Client, store: RecordingRepository
) -> None:
    base = running.base(ZA, "48")
    url = f"{base}/Observation/$lastn?code={LOINC_WEIGHT}&max=2&_format=xml"
    response = get(client, url, tiny.TOKEN_A_48)
    assert response.status_code == 200, response.text
    expected = plan(f"Observation/$lastn?code={LOINC_WEIGHT}&max=2")
    assert store.plans[-1] == dataclasses.replace(expected, fmt=FhirFormat.XML)
    # Asked again: the answer comes from the cache, the store is not asked twice.
    asked = len(store.plans)
    assert get(client, url, tiny.TOKEN_A_48).content == response.content
    assert len(store.plans) == asked


def test_under_lenient_handling_the_store_gets_the_plan_without_what_was_left_out(
    running: Running, client: httpx.Client, store: RecordingRepository
) -> None:
    base = running.base(ZA, "48")
    url = f"{base}/Observation?_count=10&code={LOINC_WEIGHT}"
    response = get(client, url, tiny.TOKEN_A_48, Prefer="handling=lenient")
    assert response.status_code == 200, response.text
    ran = store.plans[-1]
    assert ran.ignored == (("_count", "10"),)
    assert [f.param for f in ran.filters] == ["code"]
    assert response.json()["link"][0]["url"] == f"{base}/Observation?code={LOINC_WEIGHT}"


def test_a_refused_search_never_reaches_the_store(
    running: Running, client: httpx.Client, store: RecordingRepository
) -> None:
    asked = len(store.plans)
    for query in ("Condition?date=2020", "Condition?patient=pat-b", "Observation/$lastn?max=0"):
        response = get(client, f"{running.base(ZA, '48')}/{query}", tiny.TOKEN_A_48)
        assert response.status_code == 400, query
    assert len(store.plans) == asked


def _refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


def test_every_token_gets_the_same_refusal_whether_its_person_has_records_here_or_not(
    running: Running,
    client: httpx.Client,
    fake_authserver: FakeAuthserver,
    persons: tuple[TestPerson, ...],
) -> None:
    # A person with records here (a qualification token); one without any (persons[5] is
    # in neither tiny dataset); and a zorgaanbieder that shares nothing (deelt = false).
    fake_authserver.grant("planning-nobody", persons[5].bsn)
    fake_authserver.grant("planning-huisarts", persons[0].bsn, "huisarts@medmij", ("48",))
    asked = [
        (running.base(ZA, "48"), tiny.TOKEN_A_48),
        (running.base(ZA, "48"), "planning-nobody"),
        (running.base("huisarts@medmij", "48"), "planning-huisarts"),
    ]
    refusals = [
        _refusal(get(client, f"{base}/Condition?date=2020", token)) for base, token in asked
    ]
    assert refusals[0]["issue"][0]["code"] == "not-supported"
    assert "'date'" in refusals[0]["issue"][0]["diagnostics"]
    assert refusals[1:] == [refusals[0], refusals[0]]
    # Leniently, the tokens without records get an empty searchset whose self link leaves
    # the parameter out, as the token with records gets its answer.
    for base, token in asked[1:]:
        response = get(client, f"{base}/Condition?date=2020", token, Prefer="handling=lenient")
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 0
        assert response.json()["link"][0]["url"] == f"{base}/Condition"
