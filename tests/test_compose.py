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
from sqlalchemy.engine import make_url
from typer.core import TyperGroup
from typer.testing import CliRunner

import medmij_stack.wiring.cli
from medmij_stack.authserver.settings import AuthserverSettings
from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.roles import (
    Role,
    RoleInstance,
    listener_urls,
    proxy_routes,
    role_instances,
)
from medmij_stack.wiring.world import World, load_world
from medmij_stack.zorgaanbieder.settings import ZorgaanbiederSettings
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
    return {name: s for name, s in services.items() if s.get("command", [None])[0] == "serve"}


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


# --- docker-compose.scale-out.yml: replicas on PostgreSQL behind the DVA's proxy -------------

SCALE_OUT = PROJECT_ROOT / "docker-compose.scale-out.yml"
DEFAULT_WORLD = PROJECT_ROOT / "services/medmij_stack/wiring/worlds/default.toml"
REPLICATED = (Role.AUTHSERVER, Role.ZORGAANBIEDER)


@pytest.fixture(scope="module")
def scaled() -> dict[str, Any]:
    data = yaml.safe_load(SCALE_OUT.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def scaled_services(scaled: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = scaled["services"]
    assert isinstance(result, dict)
    return result


def world_file(scaled: dict[str, Any]) -> Path:
    """The world the scale-out containers mount as a config."""
    return PROJECT_ROOT / scaled["configs"]["world"]["file"]


@pytest.fixture(scope="module")
def scaled_world(scaled: dict[str, Any]) -> World:
    return load_world(world_file(scaled))


def medmij_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services of the project's image (not PostgreSQL's)."""
    return {n: s for n, s in services.items() if s["image"] == "medmij-reference-stack"}


def without_world(args: Sequence[str]) -> list[str]:
    args = list(args)
    at = args.index("--world")
    return args[:at] + args[at + 2 :]


def substitute(value: str, environment: dict[str, str]) -> str:
    """Every ``${NAME:-default}`` in ``value``, as compose fills it in."""
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: environment.get(m[1]) or m[2], value)


def test_the_scaled_world_is_the_default_world_with_replicas(
    scaled: dict[str, Any], scaled_world: World
) -> None:
    def stripped(path: Path) -> dict[str, Any]:
        data = tomllib.loads(path.read_text("utf-8"))
        del data["world"]["name"]
        for dva in data["dva"]:
            for node in ("front", "back", "resource"):
                if node in dva:
                    dva[node].pop("replicas", None)
        return data

    assert stripped(world_file(scaled)) == stripped(DEFAULT_WORLD)
    (dva,) = scaled_world.ours()
    assert [len(node.replicas) for node in dva.nodes] == [2, 2, 2]


def test_every_scaled_command_and_healthcheck_is_one_the_medmij_command_accepts(
    scaled_services: dict[str, dict[str, Any]],
) -> None:
    assert set(scaled_services) - set(medmij_services(scaled_services)) == {"postgres"}
    for name, service in medmij_services(scaled_services).items():
        assert service["build"] == ".", name
        params = medmij_params(service["command"])
        assert params, name
        if "healthcheck" in service:
            check = service["healthcheck"]["test"]
            assert check[:2] == ["CMD", "medmij"], name
            assert medmij_params(check[2:]), name
    assert "healthcheck" not in scaled_services["certs"]


def test_every_process_of_the_scaled_world_has_a_service(
    scaled_services: dict[str, dict[str, Any]], scaled_world: World
) -> None:
    instances = role_instances(scaled_world)
    assert {(i.role, i.replica) for i in instances} >= {
        (role, replica) for role in REPLICATED for replica in (0, 1)
    } | {(Role.PROXY, None)}
    for instance in instances:
        service_for(scaled_services, instance)
    assert len(node_services(scaled_services)) == len(instances)


def test_every_scaled_container_runs_the_world_it_mounts(
    scaled_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in medmij_services(scaled_services).items():
        mounted = {c["target"]: c["source"] for c in service["configs"]}
        world = str(medmij_params(service["command"])["world_file"])
        assert mounted[world] == "world", name
        if "healthcheck" in service:
            health = medmij_params(service["healthcheck"]["test"][2:])
            assert str(health["world_file"]) == world, name


def test_the_shared_nodes_are_the_default_composes_but_for_the_world(
    services: dict[str, dict[str, Any]], scaled_services: dict[str, dict[str, Any]]
) -> None:
    for name in ("certs", "stelselnode", "collector", "pgo"):
        base, scaled_one = services[name], scaled_services[name]
        assert without_world(scaled_one["command"]) == base["command"], name
        for key in ("ports", "networks", "depends_on", "volumes", "environment"):
            assert scaled_one.get(key) == base.get(key), (name, key)
        if "healthcheck" in base:
            scaled_check = dict(scaled_one["healthcheck"])
            scaled_check["test"] = without_world(scaled_check["test"])
            assert scaled_check == base["healthcheck"], name


def test_each_replica_listens_on_its_own_ports_and_checks_itself(
    scaled_services: dict[str, dict[str, Any]], scaled_world: World
) -> None:
    for instance in role_instances(scaled_world):
        if instance.role not in REPLICATED:
            continue
        service = service_for(scaled_services, instance)
        params = medmij_params(service["command"])
        assert params["replica"] == instance.replica
        assert params["listen"] == "0.0.0.0", instance.label  # noqa: S104 - its container's
        assert params["system_dns"] is True, instance.label
        # Only the proxy answers to the node hostnames and ports: the replicas publish no
        # port and take no alias, so every client reaches them through the proxy.
        assert "ports" not in service, instance.label
        assert service["networks"] == {"medmij": {}}, instance.label
        health = medmij_params(service["healthcheck"]["test"][2:])
        for key in ("role", "dva", "replica", "certs"):
            assert health[key] == params[key], (instance.label, key)
        # Without --system-dns: the world's host map, loopback, where the replica itself
        # listens inside its container (not through the proxy, which waits for it).
        assert health["system_dns"] is False, instance.label
        assert set(scaled_world.hosts().values()) == {"127.0.0.1"}
        depends = service["depends_on"]
        assert depends["certs"] == {"condition": "service_completed_successfully"}
        assert depends["stelselnode"] == {"condition": "service_healthy"}
        assert depends["postgres"] == {"condition": "service_healthy"}


def test_the_proxy_passes_the_node_ports_to_the_replica_services(
    scaled_services: dict[str, dict[str, Any]], scaled_world: World
) -> None:
    (dva,) = scaled_world.ours()
    proxy = service_for(scaled_services, RoleInstance(Role.PROXY, dva.id))
    params = medmij_params(proxy["command"])
    assert params["listen"] == "0.0.0.0"  # noqa: S104 - its container's
    nodes = [node for node in dva.nodes if node.replicas]
    published = sorted(tuple(int(p) for p in spec.split(":")) for spec in proxy["ports"])
    assert published == sorted((node.port, node.port) for node in nodes)
    aliases = proxy["networks"]["medmij"]["aliases"]
    assert sorted(aliases) == sorted(node.hostname for node in nodes)
    routes = proxy_routes(scaled_world, params["dva"], params["replica_host"])
    assert set(routes) == {node.port for node in nodes}
    reached: set[str] = set()
    for upstreams in routes.values():
        for host, port in upstreams:
            # A compose service name is its containers' hostname on the network.
            service = scaled_services[host]
            replica = medmij_params(service["command"])
            instance = RoleInstance(Role(replica["role"]), replica["dva"], replica["replica"])
            ports = {urlsplit(url).port for url in listener_urls(scaled_world, instance)}
            assert port in ports, (host, port)
            assert "medmij" in service["networks"], host
            reached.add(host)
    replicas = {
        name
        for name, service in node_services(scaled_services).items()
        if service["command"][1] in REPLICATED
    }
    assert reached == replicas
    assert proxy["depends_on"] == {name: {"condition": "service_healthy"} for name in replicas}
    health = medmij_params(proxy["healthcheck"]["test"][2:])
    # Through the proxy, by the names every client uses.
    assert (health["role"], health["dva"], health["system_dns"]) == ("proxy", dva.id, True)


def test_the_replicas_share_the_databases_of_the_postgres_service(
    scaled: dict[str, Any], scaled_services: dict[str, dict[str, Any]], scaled_world: World
) -> None:
    postgres = scaled_services["postgres"]
    created = [postgres["environment"]["POSTGRES_DB"]]
    for config in postgres["configs"]:
        # SQL the image runs once, on its first start.
        assert config["target"].startswith("/docker-entrypoint-initdb.d/")
        assert config["target"].endswith(".sql")
        sql = scaled["configs"][config["source"]]["content"]
        created += re.findall(r"CREATE DATABASE (\w+);", sql)
    port = postgres.get("ports")
    assert port is None  # reached only on the compose network
    for password in ({}, {"MEDMIJ_POSTGRES_PASSWORD": "geheim"}):
        databases: dict[Role, set[str]] = {role: set() for role in REPLICATED}
        for instance in role_instances(scaled_world):
            if instance.role not in REPLICATED:
                continue
            service = service_for(scaled_services, instance)
            variable = f"MEDMIJ_{instance.role.value.upper()}_DATABASE_URL"
            url = make_url(substitute(service["environment"][variable], password))
            assert url.drivername == "postgresql+psycopg", instance.label
            assert url.host == "postgres", instance.label
            assert url.port in (None, 5432), instance.label
            assert url.username == postgres["environment"]["POSTGRES_USER"]
            assert url.password == substitute(
                postgres["environment"]["POSTGRES_PASSWORD"], password
            )
            assert url.database in created, instance.label
            databases[instance.role].add(str(url.database))
            assert service["environment"][ENVIRONMENT_VARIABLE] == "${MEDMIJ_NICTIZ:-}"
        # One database per role, shared by its replicas; each role's its own.
        assert all(len(names) == 1 for names in databases.values()), databases
        assert databases[Role.AUTHSERVER] != databases[Role.ZORGAANBIEDER]
    # The variables are the ones the settings read.
    assert AuthserverSettings.model_config["env_prefix"] == "MEDMIJ_AUTHSERVER_"
    assert ZorgaanbiederSettings.model_config["env_prefix"] == "MEDMIJ_ZORGAANBIEDER_"
    # And the image has the driver the URLs name.
    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("psycopg") for d in extras["postgres"])
    assert 'pip install ".[postgres]"' in DOCKERFILE.read_text("utf-8")


def test_every_scaled_command_starts_as_its_container_would(
    scaled: dict[str, Any],
    scaled_services: dict[str, dict[str, Any]],
    scaled_world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each node's command, run up to where it would build its apps or open its ports:
    the replica services start as replicas, and the proxy passes to the services."""
    seen: list[tuple[Role, World]] = []
    proxied: list[dict[int, list[tuple[str, int]]]] = []

    def record(role: Role, served: World, *args: Any, **kwargs: Any) -> list[object]:
        seen.append((role, served))
        return []

    async def serve_nothing(*args: Any, **kwargs: Any) -> None:
        return None

    async def proxy_nothing(routes: dict[int, list[tuple[str, int]]], **kwargs: Any) -> None:
        proxied.append(routes)

    monkeypatch.setattr(medmij_stack.wiring.cli, "listeners_for", record)
    monkeypatch.setattr(medmij_stack.wiring.cli, "serve_listeners", serve_nothing)
    monkeypatch.setattr(medmij_stack.wiring.cli, "serve_proxy", proxy_nothing)
    for name, service in node_services(scaled_services).items():
        params = medmij_params(service["command"])
        here = {
            str(params["certs"]): str(tmp_path / "certs"),
            str(params["data_dir"]): str(tmp_path / "data"),
            str(params["world_file"]): str(world_file(scaled)),
        }
        argv = [here.get(arg, arg) for arg in service["command"]]
        if params["role"] != Role.PROXY.value:
            argv += ["--workers", "1"]
        env = {n: substitute(v, {}) for n, v in service["environment"].items()}
        result = CliRunner().invoke(medmij_stack.wiring.cli.app, argv, env=env)
        assert result.exit_code == 0, (name, result.output)
    assert sorted(role.value for role, _ in seen) == sorted(
        i.role.value for i in role_instances(scaled_world) if i.role is not Role.PROXY
    )
    (routes,) = proxied
    hosts = {host for upstreams in routes.values() for host, _ in upstreams}
    assert hosts == {"authserver-0", "authserver-1", "zorgaanbieder-0", "zorgaanbieder-1"}
    assert hosts <= set(scaled_services)
