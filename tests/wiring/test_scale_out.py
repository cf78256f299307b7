"""Several workers per role, and replicas behind the DVA's proxy, serve one world correctly.

Real processes and real HTTPS: `medmij up --workers 2` (the parent of each role binds its
sockets, its workers accept on them), and a world whose authorisation and resource
server nodes each have two replicas on PostgreSQL behind `medmij serve proxy`. Each
request below goes over a connection of its own, so that the requests spread over the
workers (the kernel gives each connection to one of them) and over the replicas (the
proxy hands connections out in turn).

* A code is spent once however many processes are asked at once: exactly one token,
  ``invalid_grant`` for every other, and the token of the replayed code is revoked.
* A revocation reaches every process at once: after the revocation is answered, no
  request with the token is served anywhere, although every process had a cached
  introspection answer that called it active.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import Outcome
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.patient import AttemptResult, PgoAccount, ScriptedPatient, StackInfo
from medmij_stack.wiring.roles import (
    SINGLE_WORKER,
    Role,
    RoleInstance,
    default_workers,
    instance_workers,
    listener_urls,
    role_instances,
)
from medmij_stack.wiring.runner import WORKERS_HEADER
from medmij_stack.wiring.world import World, load_world
from tests.authserver.browser import Browser
from tests.databases import fresh_database
from tests.e2e import conftest as e2e_conftest
from tests.e2e.conftest import RunningStack, endpoints_in, pgo_of, read_zal, start_stack
from tests.e2e.flow import ZORGAANBIEDER, Endpoints, Pgo, consent_code, exchange_code, stack_client

SLOW_START_SECONDS = 180  # start_stack's own limit, here
SLOW_START_TIMEOUT = "170"  # medmij up's --timeout, within it
CONNECTIONS = 24  # requests, each on a new connection, per check
PARALLEL = 8


# --- the stack as a PGO sees it -------------------------------------------------------------


def _endpoints(stack: RunningStack) -> Endpoints:
    return endpoints_in(read_zal(stack))


def _bsn(stack: RunningStack) -> str:
    for person in stack.info["digid_test_persons"]:
        if ZORGAANBIEDER in person["zorgaanbieders"]:
            return str(person["bsn"])
    raise LookupError("no test person with data at the hospital")


def _code(stack: RunningStack, endpoints: Endpoints, pgo: Pgo) -> str:
    parts = urlsplit(endpoints.authorize)
    with Browser(stack_client(stack), f"{parts.scheme}://{parts.netloc}") as person:
        return consent_code(person, endpoints, pgo, _bsn(stack))


def _each_on_its_own_connection(count: int, request: object) -> list[httpx.Response]:
    """``request(client)`` ``count`` times, PARALLEL at once, each with a new client."""
    assert callable(request)
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(lambda _: request(), range(count)))


def _search(stack: RunningStack, endpoints: Endpoints, pgo: Pgo, token: str) -> int:
    with stack_client(stack, pgo.leaf) as client:
        response = client.get(
            f"{endpoints.resource_63}/Immunization",
            headers={"Authorization": f"Bearer {token}", "Accept": catalogue.get("63").accept},
        )
    return response.status_code


def _replay_at_once(stack: RunningStack, endpoints: Endpoints, pgo: Pgo) -> None:
    code = _code(stack, endpoints, pgo)

    def exchange() -> httpx.Response:
        with stack_client(stack, pgo.leaf) as client:
            return exchange_code(client, endpoints, pgo, code)

    answers = _each_on_its_own_connection(PARALLEL * 2, exchange)
    granted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(granted) == 1, [a.text for a in answers]
    assert {(a.status_code, a.json()["error"]) for a in refused} == {(400, "invalid_grant")}
    # The code was presented again: its token is revoked (RFC 6749 4.1.2), everywhere.
    token = granted[0].json()["access_token"]
    statuses = _each_on_its_own_connection(
        CONNECTIONS, lambda: _search(stack, endpoints, pgo, token)
    )
    assert set(statuses) == {401}


def _revoke_everywhere(stack: RunningStack, endpoints: Endpoints, pgo: Pgo) -> None:
    code = _code(stack, endpoints, pgo)
    with stack_client(stack, pgo.leaf) as client:
        answer = exchange_code(client, endpoints, pgo, code)
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        metadata = client.get(endpoints.back_origin + "/.well-known/oauth-authorization-server")
    # Every worker (and replica) now holds an answer that says the token is active.
    warm = _each_on_its_own_connection(CONNECTIONS, lambda: _search(stack, endpoints, pgo, token))
    assert set(warm) == {200}
    with stack_client(stack, pgo.leaf) as client:
        revoked = client.post(
            metadata.json()["revocation_endpoint"],
            data={"token": token, "token_type_hint": "access_token", "client_id": pgo.hostname},
        )
    assert revoked.status_code == 200, revoked.text
    after = _each_on_its_own_connection(CONNECTIONS, lambda: _search(stack, endpoints, pgo, token))
    assert set(after) == {401}


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _serve_process(stack: RunningStack, role: str) -> int:
    """The pid of the `medmij serve <role>` that `medmij up` started."""
    for child in _children(stack.process.pid):
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"serve" in argv and role.encode() in argv:
            return child
    raise LookupError(f"no medmij serve {role}")


# --- several workers per role ---------------------------------------------------------------


@pytest.fixture(scope="module")
def long_cache() -> Iterator[None]:
    """Introspection answers cached for a minute (its most), not 5 s: on a slow machine the
    cached answers must outlive warming every worker and revoking, or the test would pass
    on expiry alone. And more time to start: these worlds run more processes than one per
    role, which all start at once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDMIJ_ZORGAANBIEDER_INTROSPECTION_CACHE_SECONDS", "60")
        patch.setattr(e2e_conftest, "STARTUP_LIMIT_SECONDS", SLOW_START_SECONDS)
        yield


@pytest.fixture(scope="module")
def workers_stack(
    tmp_path_factory: pytest.TempPathFactory, long_cache: None
) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("workers"), "--workers", "2", "--timeout", SLOW_START_TIMEOUT
    )
    try:
        # Ready once a first worker serves; the connections below must meet them all.
        _until_every_worker_serves(running)
        yield running
    finally:
        running.stop()


def _until_every_worker_serves(stack: RunningStack) -> None:
    deadline = time.monotonic() + SLOW_START_SECONDS
    with stack_client(stack) as client:
        for label, urls in stack.info["services"].items():
            count = stack.info["workers"][label]
            while True:
                answer = client.get(f"{urls[0]}/health")
                if count == 1 or answer.headers.get(WORKERS_HEADER) == f"{count}/{count}":
                    break
                assert time.monotonic() < deadline, f"{label}: {answer.headers}"
                time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads processes from /proc")
def test_stack_json_says_how_many_workers_each_role_runs(workers_stack: RunningStack) -> None:
    workers = workers_stack.info["workers"]
    assert workers["authserver:demo-dva"] == 2
    assert workers["zorgaanbieder:demo-dva"] == 2
    assert workers["pgo:pgo.localhost"] == 2
    assert workers["stelselnode"] == 1
    for role in ("authserver", "zorgaanbieder", "pgo"):
        assert len(_children(_serve_process(workers_stack, role))) == 2


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads processes from /proc")
def test_a_pgo_of_two_workers_fetches_on_both_and_ends_every_attempt_once(
    workers_stack: RunningStack,
) -> None:
    """Patients side by side, each in a browser of their own (new connections, which the
    kernel hands to whichever worker accepts first): every retrieval succeeds, both workers
    did the work, and the PGO's store holds one ending per attempt, the one the patient saw."""
    info = StackInfo.load(workers_stack.data_dir)
    accounts = [
        account
        for person in info.persons
        if ZORGAANBIEDER in person.zorgaanbieders
        and (account := info.account_for(person.bsn)) is not None
    ]
    assert accounts
    workers = _children(_serve_process(workers_stack, "pgo"))
    before = {pid: _cpu_seconds(pid) for pid in workers}

    async def one(account: PgoAccount) -> AttemptResult:
        async with ScriptedPatient.for_account(info, account) as patient:
            await patient.log_in()
            return await patient.fetch(ZORGAANBIEDER)

    async def run() -> list[AttemptResult]:
        return await asyncio.gather(*(one(accounts[i % len(accounts)]) for i in range(12)))

    results = asyncio.run(run())
    assert [r.outcome for r in results] == [Outcome.SUCCESS] * len(results), [
        r.situation for r in results
    ]
    # A retrieval costs the PGO a few hundred ms of CPU; an idle worker a few ms.
    used = {pid: _cpu_seconds(pid) - before[pid] for pid in workers}
    assert all(seconds >= 0.1 for seconds in used.values()), used
    flows = {r.flow_id for r in results}
    assert len(flows) == len(results)
    database = workers_stack.data_dir / "pgo" / "pgo.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        ends = db.execute(
            "SELECT flow_id FROM funnel_events WHERE name = 'verzamelen.flow-end'"
        ).fetchall()
        outcomes = dict(db.execute("SELECT flow_id, outcome FROM attempts").fetchall())
    assert sorted(flow for (flow,) in ends if flow in flows) == sorted(flows)
    assert {outcomes[flow] for flow in flows} == {"succes"}


def test_a_code_replayed_at_once_on_every_worker_buys_one_token(
    workers_stack: RunningStack,
) -> None:
    _replay_at_once(workers_stack, _endpoints(workers_stack), pgo_of(workers_stack))


def test_a_revocation_reaches_every_resource_server_worker_at_once(
    workers_stack: RunningStack,
) -> None:
    _revoke_everywhere(workers_stack, _endpoints(workers_stack), pgo_of(workers_stack))


def test_workers_end_with_their_parent_even_when_it_is_killed(
    workers_stack: RunningStack,
) -> None:
    # Last in this module: `medmij up` then sees a role gone and stops the world.
    parent = _serve_process(workers_stack, "zorgaanbieder")
    workers = _children(parent)
    assert len(workers) == 2
    os.kill(parent, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    # A zombie is gone but for its exit status, which `medmij serve` (dead) cannot collect.
    running = [pid for pid in alive if _state(pid) != "Z"]
    assert running == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


# --- replicas behind the proxy, on PostgreSQL -----------------------------------------------


@pytest.fixture(scope="module")
def replicas_stack(
    tmp_path_factory: pytest.TempPathFactory, long_cache: None
) -> Iterator[RunningStack]:
    base = tmp_path_factory.mktemp("replicas")
    with (
        fresh_database("postgresql", base, "authserver") as authserver,
        fresh_database("postgresql", base, "zorgaanbieder") as zorgaanbieder,
    ):
        world = load_world(None).model_dump(mode="json")
        for dva in world["dva"]:
            if dva["external"]:
                continue
            # Placeholder ports: --free-ports gives every replica a free one.
            for offset, node in enumerate(("front", "back", "resource")):
                dva[node]["replicas"] = [60001 + 2 * offset, 60002 + 2 * offset]
            dva["authserver_database"] = authserver
            dva["zorgaanbieder_database"] = zorgaanbieder
            break
        world_file = base / "world.json"
        world_file.write_text(json.dumps(world), "utf-8")
        running = start_stack(
            base, "--world", str(world_file), "--workers", "1", "--timeout", SLOW_START_TIMEOUT
        )
        yield running
        running.stop()


@pytest.mark.postgres
def test_replicas_run_behind_the_proxy(replicas_stack: RunningStack) -> None:
    labels = set(replicas_stack.info["workers"])
    assert {
        "authserver:demo-dva#0",
        "authserver:demo-dva#1",
        "zorgaanbieder:demo-dva#0",
        "zorgaanbieder:demo-dva#1",
        "proxy:demo-dva",
    } <= labels


@pytest.mark.postgres
def test_a_code_replayed_at_once_on_every_replica_buys_one_token(
    replicas_stack: RunningStack,
) -> None:
    _replay_at_once(replicas_stack, _endpoints(replicas_stack), pgo_of(replicas_stack))


@pytest.mark.postgres
def test_a_revocation_reaches_every_resource_server_replica_at_once(
    replicas_stack: RunningStack,
) -> None:
    _revoke_everywhere(replicas_stack, _endpoints(replicas_stack), pgo_of(replicas_stack))


# --- the settings: which roles run how many processes ----------------------------------------


def _replicated(ports: dict[str, list[int]]) -> World:
    data = load_world(None).model_dump(mode="json")
    dva = next(d for d in data["dva"] if not d["external"])
    for node, replicas in ports.items():
        dva[node]["replicas"] = replicas
    return World.model_validate(data)


def test_a_replicated_node_runs_one_process_per_replica_and_the_dva_s_proxy() -> None:
    world = _replicated({"front": [9501, 9502], "back": [9503, 9504], "resource": [9505, 9506]})
    labels = [instance.label for instance in role_instances(world)]
    assert labels[-5:] == [
        "authserver:demo-dva#0",
        "authserver:demo-dva#1",
        "zorgaanbieder:demo-dva#0",
        "zorgaanbieder:demo-dva#1",
        "proxy:demo-dva",
    ]
    second = RoleInstance(Role.AUTHSERVER, "demo-dva", 1)
    assert [urlsplit(url).port for url in listener_urls(world, second)] == [9502, 9504]
    proxy = RoleInstance(Role.PROXY, "demo-dva")
    dva = world.ours()[0]
    assert dva.front is not None
    assert dva.back is not None
    assert dva.resource is not None
    assert listener_urls(world, proxy) == (dva.front.url(), dva.back.url(), dva.resource.url())
    freed = world.with_free_ports()
    ports = [p for e in freed.endpoints() for p in (e.port, *e.replicas)]
    assert len(ports) == len(set(ports))
    assert [len(node.replicas) for node in freed.ours()[0].nodes] == [2, 2, 2]


def test_front_and_back_are_one_process_so_they_have_as_many_replicas() -> None:
    with pytest.raises(ValueError, match="as many replicas"):
        _replicated({"front": [9501, 9502], "back": [9503]})


def test_a_replica_port_may_not_be_another_node_s_port() -> None:
    world = load_world(None)
    with pytest.raises(ValueError, match="share a port"):
        _replicated({"resource": [world.stelselnode.port, 9506]})


def test_workers_per_role_from_the_command_the_world_or_the_machine() -> None:
    world = load_world(None)
    authserver = RoleInstance(Role.AUTHSERVER, "demo-dva")
    assert instance_workers(world, authserver) == default_workers(Role.AUTHSERVER)
    assert 1 <= default_workers(Role.AUTHSERVER) <= 2
    assert instance_workers(world, authserver, 3) == 3
    configured = World.model_validate(
        {**world.model_dump(mode="json"), "workers": {"zorgaanbieder": 4}}
    )
    assert instance_workers(configured, RoleInstance(Role.ZORGAANBIEDER, "demo-dva")) == 4
    for role in SINGLE_WORKER:
        assert instance_workers(configured, RoleInstance(role, None), 4) == 1


def test_medmij_serve_refuses_several_workers_for_a_role_that_keeps_state_in_its_process(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "stelselnode", "--workers", "2", "--data-dir", str(tmp_path),
         "--certs", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "stelselnode runs one worker" in result.output
    assert "volgnummer" in result.output  # and says why
