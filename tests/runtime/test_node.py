"""A node's subscription to the lists: fail closed until they arrive, refuse rollbacks, report.

The Stelselnode is played by an httpx MockTransport serving the lists of the default world.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from medmij_stack.protocol.lists import ListKind, MedMijList, write_list
from medmij_stack.runtime.node import ListSubscription
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.world import World, load_world

BASE = "https://stelselnode.localhost:8440"
URLS = {kind: f"{BASE}/{kind.filename}" for kind in ListKind}


@pytest.fixture(scope="module")
def world() -> World:
    return load_world()


@pytest.fixture(scope="module")
def lists(world: World) -> dict[ListKind, MedMijList]:
    published = publication(world)
    return {
        ListKind.ZAL: published.zal,
        ListKind.OCL: published.ocl,
        ListKind.GNL: published.gnl,
        ListKind.WHITELIST: published.whitelist,
    }


class Stelselnode:
    """Serves each list at a Volgnummer the test sets; counts the requests it answers."""

    def __init__(self, lists: Mapping[ListKind, MedMijList], volgnummer: int = 1) -> None:
        self.lists = dict(lists)
        self.volgnummers = dict.fromkeys(ListKind, volgnummer)
        self.missing: set[ListKind] = set()
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        for kind in ListKind:
            if request.url.path == f"/{kind.filename}" and kind not in self.missing:
                lst = replace(self.lists[kind], volgnummer=self.volgnummers[kind])
                return httpx.Response(
                    200, content=write_list(lst), headers={"Content-Type": "application/xml"}
                )
        return httpx.Response(404, text="niet gevonden")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


def subscription(node: Stelselnode, *, interval: float = 60) -> ListSubscription:
    return ListSubscription(URLS, node.client, interval=interval, development=True)


async def test_before_the_first_refresh_the_node_trusts_nobody_and_says_starting(
    lists: dict[ListKind, MedMijList],
) -> None:
    sub = subscription(Stelselnode(lists))
    assert not sub.ready
    assert sub.whitelist() is None
    status, body = sub.node_health("pgo", "pgo.localhost")
    assert status == 503
    assert body["status"] == "starting"
    assert body["service"] == "pgo"
    assert body["node"] == "pgo.localhost"
    assert {kind: report["volgnummer"] for kind, report in body["lists"].items()} == {
        "zal": None,
        "ocl": None,
        "gnl": None,
        "whitelist": None,
    }


async def test_after_a_refresh_the_node_is_ready_with_the_worlds_whitelist(
    world: World, lists: dict[ListKind, MedMijList]
) -> None:
    node = Stelselnode(lists, volgnummer=4)
    sub = subscription(node)
    async with node.client() as client:
        problems = await sub.refresh(client)
    assert problems == dict.fromkeys(ListKind)
    assert sub.ready
    assert sub.whitelist() == frozenset(world.whitelist())
    status, body = sub.node_health("authserver", "api.dva.localhost")
    assert status == 200
    assert body["status"] == "ok"
    for report in body["lists"].values():
        assert report["volgnummer"] == 4
        assert report["tijdstempel"] == lists[ListKind.ZAL].tijdstempel.isoformat()
        assert "problem" not in report


async def test_one_missing_list_keeps_the_node_starting_and_says_which(
    lists: dict[ListKind, MedMijList],
) -> None:
    node = Stelselnode(lists)
    node.missing = {ListKind.OCL}
    sub = subscription(node)
    async with node.client() as client:
        await sub.refresh(client)
    assert not sub.ready
    assert sub.whitelist() is not None  # the Whitelist itself did arrive
    status, body = sub.node_health("pgo", "pgo.localhost")
    assert status == 503
    assert body["status"] == "starting"
    assert "404" in body["lists"]["ocl"]["problem"]
    assert body["lists"]["zal"]["volgnummer"] == 1


async def test_a_lower_volgnummer_later_is_refused_and_reported(
    lists: dict[ListKind, MedMijList],
) -> None:
    node = Stelselnode(lists, volgnummer=3)
    sub = subscription(node)
    async with node.client() as client:
        await sub.refresh(client)
        held = sub.lists.whitelist.raw
        node.volgnummers[ListKind.WHITELIST] = 2
        problems = await sub.refresh(client)
    problem = problems[ListKind.WHITELIST]
    assert problem is not None
    assert "Volgnummer 2 is lower than the held 3" in problem
    assert sub.lists.whitelist.raw == held
    status, body = sub.node_health("zorgaanbieder", "fhir.dva.localhost")
    # Still serving with the last good list, and saying why it did not move on.
    assert status == 200
    assert body["lists"]["whitelist"]["volgnummer"] == 3
    assert body["lists"]["whitelist"]["problem"] == problem
    assert "problem" not in body["lists"]["zal"]


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_two_users_share_one_refresh_that_stops_with_the_last(
    lists: dict[ListKind, MedMijList],
) -> None:
    node = Stelselnode(lists)
    clients: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        clients.append(node.client())
        return clients[-1]

    sub = ListSubscription(URLS, factory, interval=0.02, development=True)
    # A node with a front and a back channel app starts it once per app.
    await sub.start()
    await sub.start()
    try:
        assert await sub.wait_ready(5)
        assert len(clients) == 1

        await sub.stop()  # one app gone: the other still needs fresh lists
        seen = node.requests
        assert await eventually(lambda: node.requests > seen + len(ListKind))
        assert not clients[0].is_closed
    finally:
        await sub.stop()
    assert clients[0].is_closed
    stopped_at = node.requests
    await asyncio.sleep(0.1)
    assert node.requests == stopped_at


async def test_a_stop_too_many_does_not_stop_a_later_user(
    lists: dict[ListKind, MedMijList],
) -> None:
    node = Stelselnode(lists)
    sub = ListSubscription(URLS, node.client, interval=0.02, development=True)
    await sub.stop()  # e.g. a lifespan that failed before its start
    await sub.start()
    await sub.start()
    try:
        await sub.stop()
        seen = node.requests
        assert await eventually(lambda: node.requests > seen + len(ListKind))
    finally:
        await sub.stop()
    stopped_at = node.requests
    await asyncio.sleep(0.1)
    assert node.requests == stopped_at


async def test_a_subscription_can_start_again_after_it_stopped(
    lists: dict[ListKind, MedMijList],
) -> None:
    node = Stelselnode(lists)
    sub = ListSubscription(URLS, node.client, interval=0.02, development=True)
    await sub.start()
    await sub.stop()
    await sub.start()
    try:
        assert await sub.wait_ready(5)
    finally:
        await sub.stop()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(
            {"volgnummer": 3 + 10**9}, f"Volgnummer jumps from 3 to {3 + 10**9}", id="jump"
        ),
        pytest.param(
            {"volgnummer": 4, "tijdstempel": datetime(1999, 1, 1, tzinfo=UTC)},
            "goes backwards",
            id="Tijdstempel backwards",
        ),
    ],
)
async def test_a_list_that_would_lock_the_node_is_refused_logged_and_shown_in_health(
    lists: dict[ListKind, MedMijList],
    change: dict[str, object],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = Stelselnode(lists, volgnummer=3)
    sub = subscription(node)
    async with node.client() as client:
        await sub.refresh(client)
        good = node.lists[ListKind.ZAL]
        node.lists[ListKind.ZAL] = replace(good, **change)  # type: ignore[arg-type]
        node.volgnummers[ListKind.ZAL] = int(change["volgnummer"])  # type: ignore[call-overload]
        with caplog.at_level(logging.WARNING, logger="medmij_stack.protocol.lists"):
            problems = await sub.refresh(client)
        assert reason in (problems[ListKind.ZAL] or "")
        assert any(
            record.levelno == logging.WARNING and reason in record.getMessage()
            for record in caplog.records
        )
        status, body = sub.node_health("pgo", "pgo.localhost")
        assert status == 200  # still serving, with the last good ZAL
        zal = body["lists"]["zal"]
        assert zal["volgnummer"] == 3
        assert zal["refused"]["volgnummer"] == change["volgnummer"]
        assert reason in zal["refused"]["reason"]
        assert "refused" not in body["lists"]["ocl"]
        # The next normal list is taken: the node is not locked out.
        node.lists[ListKind.ZAL] = good
        node.volgnummers[ListKind.ZAL] = 4
        assert (await sub.refresh(client))[ListKind.ZAL] is None
    _, body = sub.node_health("pgo", "pgo.localhost")
    assert body["lists"]["zal"]["volgnummer"] == 4
    assert "refused" not in body["lists"]["zal"]


async def test_a_restarted_node_refuses_a_lower_volgnummer_and_says_so(
    lists: dict[ListKind, MedMijList], tmp_path: Path
) -> None:
    node = Stelselnode(lists, volgnummer=5)
    first = ListSubscription(URLS, node.client, interval=60, development=True, state_dir=tmp_path)
    async with node.client() as client:
        await first.refresh(client)
    # The Stelselnode was reset and publishes 1 again; the node restarts.
    node.volgnummers = dict.fromkeys(ListKind, 1)
    again = ListSubscription(URLS, node.client, interval=60, development=True, state_dir=tmp_path)
    async with node.client() as client:
        problems = await again.refresh(client)
    for kind in ListKind:
        assert "Volgnummer 1 is lower than the held 5" in (problems[kind] or "")
    status, body = again.node_health("pgo", "pgo.localhost")
    assert status == 503  # nothing it may trust: fail closed
    assert body["lists"]["whitelist"]["refused"]["volgnummer"] == 1
    assert again.whitelist() is None


async def test_a_joining_process_serves_only_once_its_lists_are_in(
    lists: dict[ListKind, MedMijList],
) -> None:
    """A further worker or replica (NodeSettings.lists_wait_seconds) waits in its lifespan
    for every list: the role serves already, and this process could only refuse until then."""
    node = Stelselnode(lists)
    joining = ListSubscription(URLS, node.client, interval=60, development=True, wait_at_start=10)
    async with joining.lifespan(None):
        assert joining.ready  # before the app's first request, not some time after
        assert joining.whitelist()
    # One that cannot have its lists serves after the wait all the same, and says so.
    node.missing = {ListKind.GNL}
    patient = ListSubscription(URLS, node.client, interval=60, development=True, wait_at_start=0.2)
    async with patient.lifespan(None):
        assert not patient.ready
    # The first process of a role does not wait: `medmij up` waits on its /health instead.
    first = subscription(Stelselnode(lists))
    async with first.lifespan(None):
        assert not first.ready
