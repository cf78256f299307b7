"""A zorgaanbieder's gedrag: slow, failing and hanging answers, repeatable from the seed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from medmij_stack.wiring.world import World
from medmij_stack.zorgaanbieder.behaviour import Behaviour
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.errors import FhirError
from medmij_stack.zorgaanbieder.settings import Gedrag

from . import tiny
from .conftest import Running, Start

ZA = "ziekenhuis@medmij"


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def outcomes(behaviour: Behaviour, n: int) -> list[str]:
    seen = []
    for _ in range(n):
        try:
            await behaviour.apply()
            seen.append("ok")
        except FhirError as error:
            seen.append(str(error.status))
    return seen


async def test_no_gedrag_means_no_delay_and_no_failure() -> None:
    sleeps = Sleeps()
    behaviour = Behaviour(Gedrag(), seed=1, naam=ZA, sleep=sleeps)
    assert await outcomes(behaviour, 100) == ["ok"] * 100
    assert sleeps.seconds == []


async def test_latency_is_added_to_every_request() -> None:
    sleeps = Sleeps()
    behaviour = Behaviour(Gedrag(latentie_ms=250), seed=1, naam=ZA, sleep=sleeps)
    assert await outcomes(behaviour, 3) == ["ok"] * 3
    assert sleeps.seconds == [0.25] * 3


async def test_failures_and_hangs_come_at_their_rates_and_repeat_with_the_seed() -> None:
    gedrag = Gedrag(foutkans=0.2, timeoutkans=0.1, timeout_seconden=3.0)
    sleeps = Sleeps()
    first = await outcomes(Behaviour(gedrag, seed=7, naam=ZA, sleep=sleeps), 2000)
    again = await outcomes(Behaviour(gedrag, seed=7, naam=ZA, sleep=Sleeps()), 2000)
    other = await outcomes(Behaviour(gedrag, seed=7, naam="ggd@medmij", sleep=Sleeps()), 2000)
    assert first == again
    assert first != other
    assert 320 <= first.count("500") <= 480  # 20% of 2000, well within the binomial spread
    assert 140 <= first.count("504") <= 260
    assert sleeps.seconds == [3.0] * first.count("504")  # every hang lasts timeout_seconden


def test_chances_cannot_add_up_to_more_than_certainty() -> None:
    with pytest.raises(ValueError, match="cannot exceed 1"):
        Gedrag(foutkans=0.7, timeoutkans=0.4)


# --- over HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_settings(world: World) -> list[dict[str, Any]]:
    """The world's zorgaanbieders, as the resource server's settings list them."""
    return [
        {
            "naam": za.naam,
            "gegevensdiensten": za.gegevensdiensten,
            "deelt": za.deelt,
            "nictiz": za.nictiz,
        }
        for za in world.ours()[0].zorgaanbieder
    ]


def with_gedrag(zorgaanbieders: list[dict[str, Any]], **gedrag: Any) -> list[dict[str, Any]]:
    return [za | ({"gedrag": gedrag} if za["naam"] == ZA else {}) for za in zorgaanbieders]


def condition(running: Running, client: httpx.Client) -> httpx.Response:
    return client.get(
        f"{running.base(ZA, '48')}/Condition",
        headers={"Authorization": f"Bearer {tiny.TOKEN_A_48}"},
    )


def test_a_slow_zorgaanbieder_is_slow(
    start_resource_server: Start, tiny_datasets: list[Dataset], base_settings: list[dict[str, Any]]
) -> None:
    with (
        start_resource_server(
            datasets=tiny_datasets,
            introspection_url=None,
            zorgaanbieders=with_gedrag(base_settings, latentie_ms=300),
        ) as running,
        running.client() as client,
    ):
        started = time.monotonic()
        response = condition(running, client)
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.3
        # Metadata is not a FHIR request of the zorgaanbieder's records: no gedrag.
        started = time.monotonic()
        assert client.get(f"{running.base(ZA, '48')}/metadata").status_code == 200
        assert time.monotonic() - started < 0.3


def test_a_failing_zorgaanbieder_answers_500_with_an_operation_outcome(
    start_resource_server: Start, tiny_datasets: list[Dataset], base_settings: list[dict[str, Any]]
) -> None:
    with (
        start_resource_server(
            datasets=tiny_datasets,
            introspection_url=None,
            zorgaanbieders=with_gedrag(base_settings, foutkans=1.0),
        ) as running,
        running.client() as client,
    ):
        response = condition(running, client)
        assert response.status_code == 500
        assert response.json()["issue"][0]["code"] == "exception"
        assert "medmij-request-id" in response.headers
        # Refusals come first: a bad token is still a 401, not a simulated failure.
        unknown = client.get(
            f"{running.base(ZA, '48')}/Condition", headers={"Authorization": "Bearer nope"}
        )
        assert unknown.status_code == 401
        # The other zorgaanbieders of this node are not affected.
        assert client.get(f"{running.base('ggd@medmij', '63')}/metadata").status_code == 200


def test_a_hanging_zorgaanbieder_outlasts_the_client_then_answers_504(
    start_resource_server: Start, tiny_datasets: list[Dataset], base_settings: list[dict[str, Any]]
) -> None:
    with start_resource_server(
        datasets=tiny_datasets,
        introspection_url=None,
        zorgaanbieders=with_gedrag(base_settings, timeoutkans=1.0, timeout_seconden=0.6),
    ) as running:
        with running.client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
            condition(running, impatient)
        with running.client(timeout=10) as patient:
            started = time.monotonic()
            response = condition(running, patient)
            assert time.monotonic() - started >= 0.6
        assert response.status_code == 504
        assert response.json()["issue"][0]["code"] == "timeout"
