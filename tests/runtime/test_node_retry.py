"""A node retries a failed list refresh soon, backing off, and says how old each list is."""

from __future__ import annotations

import pytest

from medmij_stack.protocol.lists import ListKind, MedMijList
from medmij_stack.runtime.node import retry_delay

from .test_node import Stelselnode, lists, subscription, world

__all__ = ["lists", "world"]  # the fixtures this module borrows


def test_the_retry_doubles_from_five_seconds_up_to_the_interval() -> None:
    assert [retry_delay(n, 900) for n in range(9)] == [900, 5, 10, 20, 40, 80, 160, 320, 640]
    assert retry_delay(9, 900) == 900
    assert retry_delay(10_000, 900) == 900
    # A short interval caps the back-off too.
    assert retry_delay(3, 12) == 12


async def test_a_failed_refresh_is_retried_soon_and_a_good_one_restores_the_interval(
    lists: dict[ListKind, MedMijList],
) -> None:
    node = Stelselnode(lists)
    sub = subscription(node, interval=900)
    async with node.client() as client:
        await sub.refresh(client)
        assert sub.next_delay() == 900
        node.missing.add(ListKind.GNL)
        await sub.refresh(client)
        assert sub.next_delay() == 5
        await sub.refresh(client)
        assert sub.next_delay() == 10
        node.missing.clear()
        await sub.refresh(client)
        assert sub.next_delay() == 900


async def test_health_gives_the_age_of_each_list(
    lists: dict[ListKind, MedMijList], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = Stelselnode(lists)
    sub = subscription(node)
    assert all(entry["age_seconds"] is None for entry in sub.health().values())
    clock = [1_000_000.0]
    monkeypatch.setattr("medmij_stack.runtime.node.time.time", lambda: clock[0])
    async with node.client() as client:
        await sub.refresh(client)
        clock[0] += 30
        node.missing.add(ListKind.WHITELIST)
        await sub.refresh(client)  # every list but the Whitelist is had again
        clock[0] += 12
    ages = {kind: entry["age_seconds"] for kind, entry in sub.health().items()}
    assert ages == {"zal": 12.0, "ocl": 12.0, "gnl": 12.0, "whitelist": 42.0}
