"""The authorisation server of a simulation world reads the world's virtual clock.

A world with ``simulation = true`` gets one clock for every role
(``medmij_stack.wiring.roles``, ``medmij_stack.runtime.clock``). Here that clock is one the
test moves by hand, years ahead of the system clock, so that anything still read from the
system clock shows: the lists the Stelselnode publishes carry the virtual Tijdstempel and
the authorisation server accepts them; tokens are issued at virtual time and expire on it;
a langdurige toestemming lapses after six virtual months; the ketenlog carries virtual
time. A world without simulation keeps the system clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from medmij_stack.authserver.grant_store import add_months
from medmij_stack.authserver.runtime import Dva
from medmij_stack.protocol.funnel import system_clock
from medmij_stack.protocol.ketenlog import EventType
from medmij_stack.protocol.lists import ListKind, ListRefused, parse_list
from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.runtime.lists import ListHolder
from medmij_stack.wiring import roles
from medmij_stack.wiring.roles import Role, listeners_for
from medmij_stack.wiring.world import World

from .conftest import (
    OTHER_PGO,
    PGO,
    STRANGER,
    UNTRUSTED_PGO,
    WORLD,
    TestWorld,
    lists_and_resource_nodes,
    running_authservers,
    wait_healthy,
)
from .flows import exchange, introspect, obtain_code, token_request

# Years after any system clock this test runs on; a whole second, as list Tijdstempels are.
START = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)


class HandClock:
    """A clock that stands still until the test moves it (only ever forward here: the
    nodes' lists must stay no more than an hour ahead of it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, moment: datetime) -> None:
        assert moment >= self.now
        self.now = moment


def _world(*, simulation: bool) -> World:
    data = {**WORLD, "world": {**WORLD["world"], "simulation": simulation}}
    return World.model_validate(data).with_free_ports()


@pytest.fixture(scope="module")
def clock() -> HandClock:
    return HandClock(START)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory, clock: HandClock) -> Iterator[TestWorld]:
    base = tmp_path_factory.mktemp("virtual-clock")
    world = _world(simulation=True)
    pki = ensure_dev_pki(
        base / "certs", (*world.our_hostnames(), PGO, OTHER_PGO, UNTRUSTED_PGO, STRANGER)
    )
    data_dir = base / "data"
    with pytest.MonkeyPatch.context() as patch:
        # The roles give a simulation world VirtualClock(data_dir); this one is moved by hand.
        patch.setattr(roles, "VirtualClock", lambda at: clock if at == data_dir else None)
        with (
            lists_and_resource_nodes(world, pki, data_dir) as resource,
            running_authservers(world, pki, data_dir) as channels,
        ):
            running = TestWorld(world, pki, data_dir, resource, channels)
            wait_healthy(running)
            yield running


def _dva(tw: TestWorld) -> Dva:
    dva: Dva = tw.app_state().dva
    return dva


def _long_term(tw: TestWorld) -> dict[str, str]:
    issued = obtain_code(tw, langdurig=True)
    with tw.client(PGO) as pgo:
        response = exchange(pgo, tw, issued.code)
    assert response.status_code == 200, response.text
    token: dict[str, str] = response.json()
    return token


def _refresh(tw: TestWorld, refresh_token: str) -> httpx.Response:
    with tw.client(PGO) as pgo:
        return token_request(
            pgo,
            tw,
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": PGO},
        )


def test_the_lists_carry_the_virtual_tijdstempel_and_the_nodes_accept_them(
    simulated: TestWorld, clock: HandClock
) -> None:
    url = simulated.world.stelselnode.endpoint.url(f"/{ListKind.ZAL.filename}")
    with simulated.client() as client:
        document = client.get(url).content
        health = client.get(simulated.front_url() + "/health")
    assert parse_list(ListKind.ZAL, document, development=True).tijdstempel == START
    # The authorisation server holds them: judged on the same clock, they are not ahead.
    assert health.status_code == 200, health.text
    assert health.json()["lists"]["zal"]["tijdstempel"] == START.isoformat()
    # A node on the system clock would refuse the same document as lying in the future.
    with pytest.raises(ListRefused, match="lies in the future"):
        ListHolder(ListKind.ZAL, development=True).offer(document)


def test_a_token_is_issued_at_virtual_time_and_expires_on_it(
    simulated: TestWorld, clock: HandClock
) -> None:
    issued_at = clock.now + timedelta(days=2)
    clock.move_to(issued_at)
    code = obtain_code(simulated)
    with simulated.client(PGO) as pgo:
        token = exchange(pgo, simulated, code.code).json()
    ttl = token["expires_in"]
    answer = introspect(simulated, token["access_token"])
    assert answer["active"] is True
    assert answer["iat"] == int(issued_at.timestamp())
    assert answer["exp"] == int(issued_at.timestamp()) + ttl
    clock.move_to(issued_at + timedelta(seconds=ttl - 1))
    assert introspect(simulated, token["access_token"])["active"] is True
    clock.move_to(issued_at + timedelta(seconds=ttl + 1))
    assert introspect(simulated, token["access_token"]) == {"active": False}


def test_a_langdurige_toestemming_lapses_after_six_virtual_months(
    simulated: TestWorld, clock: HandClock
) -> None:
    clock.move_to(clock.now + timedelta(days=1))
    first = _long_term(simulated)
    granted = clock.now
    # Used just before six months have passed, it still works (and rotates) ...
    clock.move_to(add_months(granted, 6) - timedelta(minutes=1))
    rotated = _refresh(simulated, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    # ... and the new one lapses six months after that use, not after the first grant.
    used = clock.now
    clock.move_to(add_months(used, 6) + timedelta(seconds=1))
    lapsed = _refresh(simulated, rotated.json()["refresh_token"])
    assert lapsed.status_code == 400
    assert lapsed.json()["error"] == "invalid_grant"
    assert "lapsed" in lapsed.json()["error_description"]


def test_the_ketenlog_carries_the_virtual_time(simulated: TestWorld, clock: HandClock) -> None:
    clock.move_to(clock.now + timedelta(days=3))
    issued = obtain_code(simulated)
    with simulated.client(PGO) as pgo:
        assert exchange(pgo, simulated, issued.code).status_code == 200
    records = _dva(simulated).ketenlog.records(trace_id=issued.correlation_id)
    types = {record.event.type for record in records}
    assert EventType.SEND_AUTHORIZATION_RESPONSE in types
    assert {record.event.datetime for record in records} == {clock.now}


def test_only_a_simulation_world_gives_its_roles_the_virtual_clock(
    simulated: TestWorld, clock: HandClock, tmp_path: Path
) -> None:
    assert _dva(simulated).clock is clock
    world = _world(simulation=False)
    pki = ensure_dev_pki(tmp_path / "certs", world.our_hostnames())
    front, _ = listeners_for(Role.AUTHSERVER, world, pki, tmp_path / "data", instance="test-dva")
    dva: Dva = front.app.state.dva  # type: ignore[attr-defined]
    try:
        assert dva.clock is system_clock
    finally:
        dva.close()
