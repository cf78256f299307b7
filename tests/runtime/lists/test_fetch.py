"""ListSet.refresh and fetch_document over httpx, against a MockTransport."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medmij_stack.protocol.lists import ListKind, write_gnl, write_ocl, write_whitelist, write_zal
from medmij_stack.runtime.lists import FetchError, ListSet, fetch_document
from tests.protocol.lists import samples

BASE = "https://stelselnode.example.nl/"
URLS = {kind: BASE + kind.filename for kind in ListKind}


def client_for(routes: dict[str, Callable[[], httpx.Response]]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        route = routes.get(request.url.path.lstrip("/"))
        return route() if route else httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def ok(body: bytes) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(200, content=body)


async def test_good_lists_are_swapped_and_bad_ones_keep_the_last_good() -> None:
    lists = ListSet()
    first = {
        ListKind.ZAL: write_zal(samples.zal(1)),
        ListKind.OCL: write_ocl(samples.ocl(1)),
        ListKind.GNL: write_gnl(samples.gnl(1)),
        ListKind.WHITELIST: write_whitelist(samples.whitelist(1)),
    }
    async with client_for({kind.filename: ok(body) for kind, body in first.items()}) as client:
        assert await lists.refresh(client, URLS) == dict.fromkeys(ListKind)
    assert {kind: lists.holder(kind).raw for kind in ListKind} == first

    second_zal = write_zal(samples.zal(2))
    second_gnl = write_gnl(samples.gnl(2))
    routes = {
        ListKind.ZAL.filename: ok(second_zal),
        ListKind.OCL.filename: lambda: httpx.Response(500, text="storing"),
        ListKind.GNL.filename: ok(second_gnl),
        ListKind.WHITELIST.filename: ok(b"<Whitelist>kapot"),
    }
    async with client_for(routes) as client:
        reasons = await lists.refresh(client, URLS)

    assert reasons[ListKind.ZAL] is None
    assert reasons[ListKind.GNL] is None
    assert reasons[ListKind.OCL] == f"HTTP 500 from {URLS[ListKind.OCL]}"
    whitelist_reason = reasons[ListKind.WHITELIST]
    assert whitelist_reason is not None
    assert whitelist_reason.startswith("Whitelist (line 1): not well-formed XML")
    assert lists.zal.raw == second_zal
    assert lists.gnl.raw == second_gnl
    assert lists.ocl.raw == first[ListKind.OCL]
    assert lists.whitelist.raw == first[ListKind.WHITELIST]
    assert lists.zal.volgnummer == 2
    assert lists.ocl.volgnummer == 1


async def test_rollback_and_unchanged_lists() -> None:
    lists = ListSet()
    lists.whitelist.offer(write_whitelist(samples.whitelist(5)))
    lists.gnl.offer(write_gnl(samples.gnl(5)))
    routes = {
        ListKind.WHITELIST.filename: ok(write_whitelist(samples.whitelist(4))),
        ListKind.GNL.filename: ok(write_gnl(samples.gnl(5))),
    }
    urls = {kind: URLS[kind] for kind in (ListKind.WHITELIST, ListKind.GNL)}
    async with client_for(routes) as client:
        reasons = await lists.refresh(client, urls)
    assert reasons == {
        ListKind.WHITELIST: "Volgnummer 4 is lower than the held 5",
        ListKind.GNL: None,
    }
    assert lists.whitelist.volgnummer == 5


async def test_redirects_are_not_followed() -> None:
    lists = ListSet()
    routes = {
        ListKind.WHITELIST.filename: lambda: httpx.Response(
            302, headers={"Location": BASE + "elders.xml"}
        ),
        "elders.xml": ok(write_whitelist(samples.whitelist())),
    }
    async with client_for(routes) as client:
        reasons = await lists.refresh(client, {ListKind.WHITELIST: URLS[ListKind.WHITELIST]})
    assert reasons == {ListKind.WHITELIST: f"HTTP 302 from {URLS[ListKind.WHITELIST]}"}
    assert lists.whitelist.current is None


async def test_transport_errors_are_reasons_not_exceptions() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    lists = ListSet()
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        reasons = await lists.refresh(client, {ListKind.OCL: URLS[ListKind.OCL]})
    reason = reasons[ListKind.OCL]
    assert reason is not None
    assert "ConnectError" in reason
    assert "connection refused" in reason


async def test_oversized_bodies_are_cut_off() -> None:
    body = write_whitelist(samples.whitelist())
    async with client_for({"list.xml": ok(body)}) as client:
        assert await fetch_document(client, BASE + "list.xml", max_bytes=len(body)) == body
        with pytest.raises(FetchError, match="announces"):
            await fetch_document(client, BASE + "list.xml", max_bytes=len(body) - 1)

    async def chunks() -> object:
        for _ in range(10):
            yield b"x" * 100

    def streamed() -> httpx.Response:
        return httpx.Response(200, content=chunks())  # type: ignore[arg-type]

    async with client_for({"list.xml": streamed}) as client:
        with pytest.raises(FetchError, match="more than the 500 byte limit"):
            await fetch_document(client, BASE + "list.xml", max_bytes=500)
    lists = ListSet(max_bytes=500)
    async with client_for({ListKind.WHITELIST.filename: streamed}) as client:
        reasons = await lists.refresh(client, {ListKind.WHITELIST: URLS[ListKind.WHITELIST]})
    assert reasons[ListKind.WHITELIST] == (
        f"{URLS[ListKind.WHITELIST]} sent more than the 500 byte limit"
    )


async def test_lists_are_parsed_and_validated_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large list takes a while to validate; the node's loop must keep serving meanwhile."""
    from medmij_stack.protocol.lists.reader import parse_list as real_parse
    from medmij_stack.runtime.lists import holder

    loop_thread = threading.get_ident()
    parsed_in: list[int] = []

    def parse_list(*args: Any, **kwargs: Any) -> Any:
        parsed_in.append(threading.get_ident())
        time.sleep(0.3)  # a slow validation
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(holder, "parse_list", parse_list)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    lists = ListSet()
    body = write_whitelist(samples.whitelist())
    ticker = asyncio.create_task(tick())
    try:
        async with client_for({ListKind.WHITELIST.filename: ok(body)}) as client:
            reasons = await lists.refresh(client, {ListKind.WHITELIST: URLS[ListKind.WHITELIST]})
    finally:
        ticker.cancel()
    assert reasons == {ListKind.WHITELIST: None}
    assert lists.whitelist.current == samples.whitelist()
    assert parsed_in
    assert loop_thread not in parsed_in
    assert ticks >= 5  # the loop ran other work while the list was validated
