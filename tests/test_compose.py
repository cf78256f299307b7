"""docker-compose.yml and the Dockerfile agree with the `medmij` command and the default world.

Docker itself is not needed: the compose file is read as YAML, and every command in it is
parsed by the real `medmij` command line (without running it), so a renamed option, a
wrong port or a missing network alias fails here rather than in a container. To see which
zorgaanbieders each node would serve, each node's command also runs, with the environment
compose gives it, up to the point where it would build its apps.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import typer.main
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

import medmij_stack.wiring.cli
from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.roles import Role, RoleInstance, listener_urls, role_instances
from medmij_stack.wiring.world import World, load_world
from medmij_stack.zorgaanbieder.sources.nictiz import ENVIRONMENT_VARIABLE
from tests.conftest import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def world() -> World:
    # The compose file passes no --world: its containers run the embedded default world.
    return load_world()


def medmij_params(args: Sequence[str]) -> dict[str, Any]:
    """Parse `medmij ARGS` as the real command line does, without running anything."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    name, *rest = args
    command = group.commands[name]
    return dict(command.make_context(f"medmij {name}", list(rest)).params)


def node_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run `medmij serve`, by name."""
    return {name: s for name, s in services.items() if s["command"][0] == "serve"}


def service_for(services: dict[str, dict[str, Any]], instance: RoleInstance) -> dict[str, Any]:
    matches = [
        s
        for s in node_services(services).values()
        if s["command"][1 : 1 + len(instance.argv())] == instance.argv()
    ]
    assert len(matches) == 1, f"{instance.label}: {len(matches)} services"
    return matches[0]


def volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → named volume."""
    return {spec.split(":")[1]: spec.split(":")[0] for spec in service["volumes"]}


def test_the_command_line_parser_refuses_what_it_does_not_know() -> None:
    # Guards the tests below: parsing really checks options.
    with pytest.raises(typer.TyperException, match="No such option"):
        medmij_params(["serve", "stelselnode", "--no-such-option"])
    with pytest.raises(typer.TyperException):
        medmij_params(["serve"])


def test_every_role_of_the_default_world_has_a_service(
    services: dict[str, dict[str, Any]], world: World
) -> None:
    instances = role_instances(world)
    # The proxy runs only in a world whose DVA nodes have replicas; the default has none.
    assert {i.role for i in instances} == set(Role) - {Role.PROXY}
    for instance in instances:
        service_for(services, instance)
    assert len(node_services(services)) == len(instances)


def test_every_command_is_one_the_medmij_command_accepts(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        params = medmij_params(service["command"])
        assert params, name
    certs = medmij_params(services["certs"]["command"])
    assert certs["out"] == Path("/certs")


def test_nodes_listen_on_all_interfaces_and_find_each_other_by_dns(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in node_services(services).items():
        params = medmij_params(service["command"])
        assert Role(params["role"]), name
        # 127.0.0.1 inside a container is unreachable from the other containers.
        assert params["listen"] == "0.0.0.0", name  # noqa: S104 - a container's own interfaces
        assert params["system_dns"] is True, name


def test_published_ports_and_aliases_are_the_worlds(
    services: dict[str, dict[str, Any]], world: World
) -> None:
    for instance in role_instances(world):
        service = service_for(services, instance)
        urls = [urlsplit(url) for url in listener_urls(world, instance)]
        published = [tuple(int(p) for p in spec.split(":")) for spec in service["ports"]]
        # Same port outside as inside: the ZAL's URLs work from the host's browser.
        assert sorted(published) == sorted((u.port, u.port) for u in urls), instance.label
        aliases = service["networks"]["medmij"]["aliases"]
        assert sorted(aliases) == sorted(str(u.hostname) for u in urls), instance.label


def test_every_node_has_a_healthcheck_of_its_own_role(
    services: dict[str, dict[str, Any]], world: World
) -> None:
    for instance in role_instances(world):
        service = service_for(services, instance)
        check = service["healthcheck"]["test"]
        assert check[:3] == ["CMD", "medmij", "health"], instance.label
        health = medmij_params(check[2:])
        serve = medmij_params(service["command"])
        for key in ("role", "dva", "pgo", "certs", "system_dns"):
            assert health[key] == serve[key], (instance.label, key)


def test_nodes_wait_for_the_certificates_and_for_a_healthy_stelselnode(
    services: dict[str, dict[str, Any]], world: World
) -> None:
    for instance in role_instances(world):
        depends = service_for(services, instance)["depends_on"]
        assert depends["certs"] == {"condition": "service_completed_successfully"}
        if instance.role is Role.STELSELNODE:
            assert set(depends) == {"certs"}
        else:
            assert depends["stelselnode"] == {"condition": "service_healthy"}, instance.label
    assert services["stelselnode"]["command"][1] == Role.STELSELNODE.value


def test_all_nodes_share_the_certs_volume_the_certs_service_fills(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    assert "certs" in compose["volumes"]
    certs_out = str(medmij_params(services["certs"]["command"])["out"])
    assert volume_mounts(services["certs"])[certs_out] == "certs"
    for name, service in node_services(services).items():
        params = medmij_params(service["command"])
        mounts = volume_mounts(service)
        assert mounts[str(params["certs"])] == "certs", name
        assert str(params["data_dir"]) in mounts, name


def test_every_service_runs_the_one_image(services: dict[str, dict[str, Any]]) -> None:
    assert {s["image"] for s in services.values()} == {"medmij-reference-stack"}
    assert {s["build"] for s in services.values()} == {"."}


def test_the_dockerfile_runs_medmij() -> None:
    instructions = [
        line.strip().split(maxsplit=1)
        for line in DOCKERFILE.read_text("utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    entrypoints = [json.loads(rest) for word, rest in instructions if word == "ENTRYPOINT"]
    assert entrypoints == [["medmij"]]
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["scripts"]["medmij"] == "medmij_stack.wiring.cli:app"


def interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}``: the variable when set and not empty, else the default."""
    match = re.fullmatch(r"\$\{([A-Z_]+):-([^}]*)\}", value)
    assert match, f"not an interpolation with a default: {value!r}"
    return environment.get(match[1]) or match[2]


def test_every_node_reads_the_one_nictiz_setting_empty_by_default(
    services: dict[str, dict[str, Any]], world: World
) -> None:
    for instance in role_instances(world):
        service = service_for(services, instance)
        value = service["environment"][ENVIRONMENT_VARIABLE]
        assert interpolate(value, {}) == "", instance.label
        assert interpolate(value, {ENVIRONMENT_VARIABLE: "/nictiz"}) == "/nictiz"
        # No --nictiz of its own: the environment decides, for every node alike.
        assert medmij_params(service["command"])["nictiz"] is None, instance.label


def served_worlds(
    services: dict[str, dict[str, Any]],
    world: World,
    environment: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, World]:
    """Run every node's `medmij serve` command as its container would, with the compose
    environment, up to the point where it builds its apps: the world each would serve."""
    seen: dict[str, World] = {}

    def record(role: Role, served: World, *args: Any, **kwargs: Any) -> list[object]:
        seen[role.value] = served
        return []

    async def serve_nothing(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(medmij_stack.wiring.cli, "listeners_for", record)
    monkeypatch.setattr(medmij_stack.wiring.cli, "serve_listeners", serve_nothing)
    for instance in role_instances(world):
        service = service_for(services, instance)
        params = medmij_params(service["command"])
        # The container's own folders, here in a temporary one.
        here = {
            str(params["certs"]): str(tmp_path / "certs"),
            str(params["data_dir"]): str(tmp_path / "data"),
        }
        argv = [here.get(arg, arg) for arg in service["command"]]
        # One process: what the command builds is recorded here, not in forked workers.
        argv += ["--workers", "1"]
        env = {
            name: interpolate(value, environment) for name, value in service["environment"].items()
        }
        result = CliRunner().invoke(medmij_stack.wiring.cli.app, argv, env=env)
        assert result.exit_code == 0, (instance.label, result.output)
    assert set(seen) == {r.value for r in Role if r is not Role.PROXY}  # no replicas here
    return seen


def zorgaanbieders(world: World) -> list[str]:
    return [za.naam for dva in world.ours() for za in dva.zorgaanbieder]


def test_without_nictiz_no_node_has_the_qualification_zorgaanbieder(
    services: dict[str, dict[str, Any]],
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = served_worlds(services, world, {}, tmp_path, monkeypatch)
    nictiz = [za.naam for dva in world.ours() for za in dva.zorgaanbieder if za.nictiz]
    assert nictiz
    expected = [naam for naam in zorgaanbieders(world) if naam not in nictiz]
    for role, effective in served.items():
        assert zorgaanbieders(effective) == expected, role
    zal = publication(served["stelselnode"]).zal
    assert sorted(za.naam for za in zal.zorgaanbieders) == sorted(expected)


def test_with_nictiz_every_node_has_the_qualification_zorgaanbieder(
    services: dict[str, dict[str, Any]],
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shared_data: Path,
) -> None:
    root = shared_data / "nictiz-testscripts"
    if not root.is_dir():
        pytest.skip(f"Nictiz qualification material not found at {root}")
    served = served_worlds(
        services, world, {ENVIRONMENT_VARIABLE: str(root)}, tmp_path, monkeypatch
    )
    for role, effective in served.items():
        assert zorgaanbieders(effective) == zorgaanbieders(world), role


README = PROJECT_ROOT / "README.md"


def test_the_readme_copies_the_root_ca_out_of_the_certs_volume(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The README's command reads the root CA from the path where `medmij certs` puts it,
    in a service that mounts the `certs` volume there, with a plain `cat`."""
    docker = README.read_text("utf-8").split("\n## Docker\n", 1)[1].split("\n## ", 1)[0]
    commands = [
        line.split()
        for line in docker.splitlines()
        if line.strip().startswith("docker compose run") and "root.pem" in line
    ]
    assert len(commands) == 1, docker
    words = commands[0]
    assert words[:3] == ["docker", "compose", "run"]
    assert {"--rm", "--no-deps", "-T"} <= set(words)  # -T: no terminal, no CR in the file
    entrypoint = words[words.index("--entrypoint") + 1]
    assert entrypoint == "cat"
    rest = words[words.index("--entrypoint") + 2 :]
    service, path, redirect, target = rest
    assert redirect == ">"
    assert target.endswith(".pem")
    # The service mounts the certs volume, and the file is where `medmij certs --out` puts it.
    out = Path(medmij_params(services["certs"]["command"])["out"])
    mounts = volume_mounts(services[service])
    assert mounts[str(out)] == "certs"
    pki = ensure_dev_pki(tmp_path / "certs", [])
    assert Path(path) == out / pki.root_cert.relative_to(tmp_path / "certs")
