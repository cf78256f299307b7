"""The introspection client: what it sends, what it concludes, how long it remembers."""

from __future__ import annotations

import asyncio
import hashlib
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from medmij_stack.protocol.dva_contract import Introspection
from medmij_stack.zorgaanbieder.errors import AuthServerUnavailable
from medmij_stack.zorgaanbieder.introspection import Introspector

URL = "https://api.za.localhost:9445/oauth/introspect"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def active(exp: float = NOW + 900, **extra: object) -> dict[str, object]:
    return Introspection(
        active=True,
        client_id="pgo.za.localhost",
        scope="ziekenhuis",
        exp=int(exp),
        iat=int(NOW),
        zorgaanbieder="ziekenhuis@medmij",
        gegevensdiensten=("48",),
        bsn="999911120",
    ).to_json() | dict(extra)


def introspector(
    clock: Clock, *, whitelist: frozenset[str] | None = None, seconds: float = 5.0
) -> Introspector:
    return Introspector(
        URL,
        httpx.AsyncClient,
        cache_seconds=seconds,
        clock=clock,
        whitelist=None if whitelist is None else (lambda: whitelist),
    )


@respx.mock
async def test_an_active_token_is_read_from_the_answer() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=active()))
    answer = await introspector(Clock()).introspect("tok-1")
    assert answer.active
    assert (answer.zorgaanbieder, answer.gegevensdiensten, answer.bsn) == (
        "ziekenhuis@medmij",
        ("48",),
        "999911120",
    )
    sent = route.calls.last.request
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.content.decode()) == {"token": ["tok-1"]}


@respx.mock
async def test_answers_are_remembered_for_a_few_seconds_only() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=active()))
    clock = Clock()
    checker = introspector(clock, seconds=5)
    await checker.introspect("tok-1")
    clock.now += 4.9
    await checker.introspect("tok-1")
    assert route.call_count == 1
    clock.now += 0.2
    await checker.introspect("tok-1")
    assert route.call_count == 2
    await checker.introspect("tok-2")  # another token is another question
    assert route.call_count == 3


@respx.mock
async def test_an_answer_is_never_remembered_past_the_tokens_exp() -> None:
    answers = iter([active(exp=NOW + 2), {"active": False}])
    route = respx.post(URL).mock(
        side_effect=lambda request: httpx.Response(200, json=next(answers))
    )
    clock = Clock()
    checker = introspector(clock, seconds=5)
    assert (await checker.introspect("tok")).active
    clock.now += 2.5  # within the 5 s, but past exp
    assert not (await checker.introspect("tok")).active
    assert route.call_count == 2


@respx.mock
async def test_an_active_answer_with_exp_in_the_past_counts_as_inactive() -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=active(exp=NOW - 1)))
    assert not (await introspector(Clock()).introspect("tok")).active


@respx.mock
async def test_an_inactive_token_is_inactive() -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json={"active": False}))
    assert (await introspector(Clock()).introspect("tok")) == Introspection(active=False)


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(500, json={"error": "server_error"}),
        httpx.Response(401, json={"error": "invalid_client"}),
        httpx.Response(200, content=b"<html>niet json</html>"),
        httpx.Response(200, json=["active"]),
        httpx.Response(200, json={"active": True, "exp": NOW + 60}),  # no zorgaanbieder, bsn
    ],
    ids=["500", "401", "not-json", "not-an-object", "incomplete"],
)
@respx.mock
async def test_an_answer_that_cannot_be_used_is_unavailability_not_a_bad_token(
    reply: httpx.Response,
) -> None:
    respx.post(URL).mock(return_value=reply)
    with pytest.raises(AuthServerUnavailable) as raised:
        await introspector(Clock()).introspect("tok")
    assert raised.value.status == 503
    assert raised.value.issue_code == "transient"


@respx.mock
async def test_an_unreachable_authorisation_server_is_unavailability() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    checker = introspector(Clock())
    with pytest.raises(AuthServerUnavailable, match="did not answer"):
        await checker.introspect("tok")
    # Failures are not remembered: the next request asks again.
    respx.post(URL).mock(return_value=httpx.Response(200, json=active()))
    assert (await checker.introspect("tok")).active


@respx.mock
async def test_concurrent_questions_about_one_token_share_one_call() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=active())

    route = respx.post(URL).mock(side_effect=slow)
    checker = introspector(Clock())
    answers = await asyncio.gather(*(checker.introspect("tok") for _ in range(28)))
    assert all(a.active for a in answers)
    assert route.call_count == 1


@respx.mock
async def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return httpx.Response(200, json=active())

    respx.post(URL).mock(side_effect=slow)
    checker = introspector(Clock())
    impatient = asyncio.create_task(checker.introspect("tok"))
    patient = asyncio.create_task(checker.introspect("tok"))
    await asyncio.sleep(0.02)
    impatient.cancel()
    assert (await patient).active


@respx.mock
async def test_an_authorisation_server_off_the_whitelist_is_not_asked() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=active()))
    checker = introspector(Clock(), whitelist=frozenset({"pgo.za.localhost"}))
    with pytest.raises(AuthServerUnavailable, match="Whitelist"):
        await checker.introspect("tok")
    assert route.call_count == 0
    allowed = introspector(Clock(), whitelist=frozenset({"API.za.localhost"}))
    assert (await allowed.introspect("tok")).active


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@respx.mock
async def test_a_dropped_token_is_asked_about_again_and_others_stay_cached() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=active()))
    checker = introspector(Clock(), seconds=60)
    await checker.introspect("revoked")
    await checker.introspect("kept")
    assert checker.drop([_digest("revoked"), _digest("never-seen")]) == 1
    await checker.introspect("revoked")
    await checker.introspect("kept")
    assert route.call_count == 3


@respx.mock
async def test_an_answer_on_its_way_when_the_token_is_dropped_is_not_remembered() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=active())

    route = respx.post(URL).mock(side_effect=slow)
    checker = introspector(Clock(), seconds=60)
    asking = asyncio.create_task(checker.introspect("tok"))
    await asyncio.sleep(0.01)
    assert checker.drop([_digest("tok")]) == 0  # not cached yet, but on its way
    await asking
    await checker.introspect("tok")
    assert route.call_count == 2
