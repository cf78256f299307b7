"""`medmij serve`, as docker-compose runs it: the Stelselnode publishes exactly the
zorgaanbieders the resource server serves, with and without the Nictiz material.

Each role runs as its own `medmij serve` process on free ports, as a container does, and
is asked over HTTPS: the ZAL from the Stelselnode, and every FHIR base of our DVA from
the resource server, with the PGO's certificate.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.lists import ListKind, parse_zal
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.net import make_client
from medmij_stack.wiring.world import World, load_world, save_world
from medmij_stack.zorgaanbieder.sources.nictiz import (
    ENVIRONMENT_VARIABLE,
    load_nictiz,
    missing_parts,
)

pytestmark = pytest.mark.e2e

NICTIZ_ZA = "kwalificatie@medmij"
STARTUP_LIMIT_SECONDS = 90


@dataclass
class Served:
    """What a client sees of a world run role by role."""

    zal: dict[str, dict[str, str]]  # zorgaanbieder → gegevensdienst → ResourceEndpointuri
    world: World
    pki: DevPKI
    output: str

    def client(self) -> httpx.Client:
        return make_client(
            trust=[self.pki.root_cert],
            cert=self.pki.leaf(self.world.pgo_by_hostname().hostname),
            hosts=self.world.hosts(),
            timeout=10,
        )


@pytest.fixture(scope="module")
def nictiz_root(shared_data: Path) -> Path:
    root = shared_data / "nictiz-testscripts"
    if not root.is_dir():
        pytest.skip(f"Nictiz qualification material not found at {root}")
    if missing := missing_parts(root):
        pytest.skip(f"Nictiz qualification material at {root} lacks {', '.join(missing)}")
    return root


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_world(load_world().with_free_ports(), tmp_path_factory.mktemp("world") / "w.json")


def _healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/health").status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serving(
    base: Path, world_file: Path, environment: Mapping[str, str], *options: str
) -> Iterator[Served]:
    """`medmij serve stelselnode` and `medmij serve zorgaanbieder`, until both are healthy."""
    world = load_world(world_file)
    certs = base / "certs"
    # Made once, before the processes start: two processes must not both create it.
    pki = ensure_dev_pki(certs, world.our_hostnames())
    env = {k: v for k, v in os.environ.items() if k != ENVIRONMENT_VARIABLE} | dict(environment)
    stelsel = world.stelselnode.endpoint.url()
    [dva] = world.ours()
    assert dva.resource is not None
    logs: list[Path] = []
    with ExitStack() as running:
        for role in ("stelselnode", "zorgaanbieder"):
            log_path = base / f"{role}.log"
            logs.append(log_path)
            argv = [sys.executable, "-m", "medmij_stack.wiring", "serve", role]
            argv += ["--world", str(world_file), "--data-dir", str(base / "data")]
            argv += ["--certs", str(certs), *options]
            with log_path.open("wb") as log:  # the child keeps its own copy of the handle
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            running.callback(_stop, process)
        with make_client(trust=[pki.root_cert], hosts=world.hosts(), timeout=2) as client:
            deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
            for url in (stelsel, dva.resource.url()):
                while not _healthy(client, url):
                    if time.monotonic() > deadline:
                        output = "\n".join(p.read_text(errors="replace") for p in logs)
                        pytest.fail(f"{url} did not become healthy:\n{output}")
                    time.sleep(0.1)
            response = client.get(f"{stelsel}/{ListKind.ZAL.filename}")
            assert response.status_code == 200
        zal = parse_zal(response.content, development=world.world.development)
        published = {
            za.naam: {
                dienst.id: rol.resource_endpoint
                for versie in za.interfaceversies
                for dienst in versie.gegevensdiensten
                for rol in dienst.systeemrollen
            }
            for za in zal.zorgaanbieders
        }
        output = "\n".join(p.read_text(errors="replace") for p in logs)
        yield Served(published, world, pki, output)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def answers(served: Served) -> dict[str, int]:
    """The status of ``metadata`` at every FHIR base the world could have, by URL."""
    [dva] = served.world.ours()
    with served.client() as client:
        return {
            url: client.get(f"{url}/metadata").status_code
            for za in dva.zorgaanbieder
            for url in (dva.resource_url(za, g) for g in za.gegevensdiensten)
        }


def test_without_nictiz_material_neither_node_has_the_qualification_zorgaanbieder(
    tmp_path: Path, world_file: Path
) -> None:
    # As docker-compose passes it by default: the variable set, and empty.
    with serving(tmp_path, world_file, {ENVIRONMENT_VARIABLE: ""}) as served:
        assert NICTIZ_ZA not in served.zal
        assert f"{NICTIZ_ZA} left out of the ZAL" in " ".join(served.output.split())
        status = answers(served)
    published = {url for bases in served.zal.values() for url in bases.values()}
    assert published
    # Every ResourceEndpointuri of the ZAL is served; nothing is served that is not in it.
    assert {url for url, code in status.items() if code == 200} == published
    assert {code for url, code in status.items() if url not in published} == {404}


@pytest.mark.parametrize("how", ["option", "environment"])
def test_with_nictiz_material_both_nodes_have_it(
    tmp_path: Path, world_file: Path, nictiz_root: Path, how: str
) -> None:
    if how == "option":
        running = serving(tmp_path, world_file, {}, "--nictiz", str(nictiz_root))
    else:
        running = serving(tmp_path, world_file, {ENVIRONMENT_VARIABLE: str(nictiz_root)})
    with running as served:
        assert set(served.zal[NICTIZ_ZA]) == {"48", "63"}
        status = answers(served)
        [bgz] = [
            d for d in load_nictiz(nictiz_root, NICTIZ_ZA) if d.endpoint.gegevensdienst == "48"
        ]
        query = catalogue.get("48").queries[0].path
        with served.client() as client:
            found = client.get(
                f"{served.zal[NICTIZ_ZA]['48']}/{query}",
                headers={"Authorization": f"Bearer {bgz.tokens[0].token}"},
            )
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 1
    published = {url for bases in served.zal.values() for url in bases.values()}
    assert {url for url, code in status.items() if code == 200} == published
