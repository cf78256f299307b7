"""The collector as a role of the world: on the Whitelist, started, named, known to each node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medmij_stack.collector.settings import CollectorSettings
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.ketenlog_delivery import DELIVERY_PATH
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.roles import (
    Role,
    RoleInstance,
    listener_urls,
    listeners_for,
    role_instances,
    zorgaanbieder_settings,
)
from medmij_stack.wiring.up import stack_json
from medmij_stack.wiring.world import World, WorldError, load_world


@pytest.fixture(scope="module")
def default() -> World:
    return load_world()


@pytest.fixture(scope="module")
def without_collector(default: World) -> World:
    data = default.model_dump(mode="python")
    data["collector"] = None
    return World.model_validate(data)


@pytest.fixture(scope="module")
def pki(default: World, tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return ensure_dev_pki(tmp_path_factory.mktemp("certs"), default.our_hostnames())


def test_the_default_world_runs_a_collector_on_the_whitelist(default: World) -> None:
    assert default.collector is not None
    assert default.collector.endpoint.url() == "https://collector.localhost:8447"
    assert "collector.localhost" in default.our_hostnames()
    assert "collector.localhost" in publication(default).whitelist.hostnames
    assert RoleInstance(Role.COLLECTOR, None) in role_instances(default)
    assert role_instances(default)[:2] == [
        RoleInstance(Role.STELSELNODE, None),
        RoleInstance(Role.COLLECTOR, None),
    ]
    assert RoleInstance(Role.COLLECTOR, None).argv() == ["collector"]
    assert listener_urls(default, RoleInstance(Role.COLLECTOR, None)) == (
        "https://collector.localhost:8447",
    )


def test_free_ports_move_the_collector_too(default: World) -> None:
    moved = default.with_free_ports()
    assert moved.collector is not None
    assert default.collector is not None
    assert moved.collector.port != default.collector.port
    assert moved.collector.hostname == default.collector.hostname


def test_a_world_without_a_collector_has_no_such_role(without_collector: World) -> None:
    assert Role.COLLECTOR not in {i.role for i in role_instances(without_collector)}
    assert "collector.localhost" not in without_collector.whitelist()
    with pytest.raises(WorldError, match="no collector"):
        listener_urls(without_collector, RoleInstance(Role.COLLECTOR, None))


def test_every_node_is_told_where_to_deliver(default: World, pki: DevPKI, tmp_path: Path) -> None:
    dva = default.ours()[0]
    settings = zorgaanbieder_settings(default, pki, tmp_path, dva=dva)
    assert settings.collector_url == f"https://collector.localhost:8447{DELIVERY_PATH}"


def test_without_a_collector_no_node_delivers(
    without_collector: World, pki: DevPKI, tmp_path: Path
) -> None:
    dva = without_collector.ours()[0]
    settings = zorgaanbieder_settings(without_collector, pki, tmp_path, dva=dva)
    assert settings.collector_url is None


def test_the_collector_role_is_built_from_the_world(
    default: World, pki: DevPKI, tmp_path: Path
) -> None:
    (listener,) = listeners_for(Role.COLLECTOR, default, pki, tmp_path)
    assert listener.endpoint == default.collector.endpoint  # type: ignore[union-attr]
    assert (listener.client_certs, listener.channel) == ("optional", "back")
    app: Any = listener.app
    settings = app.app.state.settings  # behind the Whitelist gate
    assert isinstance(settings, CollectorSettings)
    assert settings.hostname == "collector.localhost"
    assert settings.collector_url is None  # it delivers to no one
    assert settings.data_dir == tmp_path / "collector"
    # The authorisation server delivers its front channel's events with its back channel's
    # certificate.
    assert settings.locations == {"api.dva.localhost": ("inlog.dva.localhost",)}


def test_stack_json_names_the_collector(
    default: World, without_collector: World, pki: DevPKI, tmp_path: Path
) -> None:
    info = stack_json(default, pki, tmp_path / "world.json")
    assert info["collector"] == "https://collector.localhost:8447"
    services = info["services"]
    assert isinstance(services, dict)
    assert services["collector"] == ["https://collector.localhost:8447"]
    assert stack_json(without_collector, pki, tmp_path / "world.json")["collector"] is None
