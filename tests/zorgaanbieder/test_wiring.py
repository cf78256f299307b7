"""From the world to a running resource server: settings, gedrag, the Nictiz switch."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from medmij_stack.protocol.dva_contract import INTROSPECTION_PATH
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.wiring import up as up_module
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.roles import role_instances, zorgaanbieder_settings
from medmij_stack.wiring.world import World, WorldError, load_world, save_world
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey
from medmij_stack.zorgaanbieder.provisioning import datasets_for
from medmij_stack.zorgaanbieder.settings import Gedrag, ZorgaanbiederSettings
from medmij_stack.zorgaanbieder.sources.nictiz import NictizError

GEDRAG_WORLD = """\
[world]
seed = 5

[[pgo]]
hostname = "pgo.g.localhost"
naam = "PGO"
port = 9643

[[dva]]
id = "g"
naam = "G"
telefoon = "088 000 0000"
front = { hostname = "inlog.g.localhost", port = 9644 }
back = { hostname = "api.g.localhost", port = 9645 }
resource = { hostname = "fhir.g.localhost", port = 9646 }

[[dva.zorgaanbieder]]
naam = "traag@medmij"
weergavenaam = "Traag Ziekenhuis"
gegevensdiensten = ["48"]
gedrag = { latentie_ms = 250, foutkans = 0.05, timeoutkans = 0.01, onvolledig = true }
"""


@pytest.fixture(autouse=True)
def no_nictiz_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDMIJ_NICTIZ", raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="medmij", env={"COLUMNS": "1000"})


def test_the_resource_server_settings_come_from_the_world(
    world: World, pki: DevPKI, tmp_path: Path
) -> None:
    dva = world.ours()[0]
    assert dva.back is not None
    assert dva.resource is not None
    settings = zorgaanbieder_settings(world, pki, tmp_path, dva=dva, nictiz=tmp_path / "nictiz")
    assert settings.public_url == dva.resource.url()
    assert settings.introspection_url == dva.back.url(INTROSPECTION_PATH)
    assert settings.hostname == dva.resource.hostname
    assert [za.naam for za in settings.zorgaanbieders] == [za.naam for za in dva.zorgaanbieder]
    assert [za.deelt for za in settings.zorgaanbieders] == [za.deelt for za in dva.zorgaanbieder]
    assert [za.nictiz for za in settings.zorgaanbieders] == [za.nictiz for za in dva.zorgaanbieder]
    assert settings.seed == world.world.seed
    assert settings.persons_count == world.persons.count
    assert settings.sharing_zorgaanbieders == ("ziekenhuis@medmij", "ggd@medmij")
    assert settings.nictiz == tmp_path / "nictiz"
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.introspection_cache_seconds == 5.0


def test_gedrag_travels_from_the_world_file_to_the_settings(tmp_path: Path, pki: DevPKI) -> None:
    path = tmp_path / "world.toml"
    path.write_text(GEDRAG_WORLD, "utf-8")
    world = load_world(path)
    [za] = world.ours()[0].zorgaanbieder
    assert za.gedrag == Gedrag(latentie_ms=250, foutkans=0.05, timeoutkans=0.01, onvolledig=True)
    # Through the effective world that `medmij up` hands its processes, unchanged.
    again = load_world(save_world(world, tmp_path / "world.json"))
    pki = ensure_dev_pki(tmp_path / "pki", again.our_hostnames())
    settings = zorgaanbieder_settings(again, pki, tmp_path, dva=again.ours()[0])
    assert settings.zorgaanbieders[0].gedrag == za.gedrag
    # Settings survive the environment-variable route a container takes.
    assert ZorgaanbiederSettings.model_validate(settings.model_dump()) == settings


@pytest.mark.parametrize(
    ("gedrag", "problem"),
    [
        ("{ foutkans = 1.5 }", "foutkans"),
        ("{ foutkans = 0.6, timeoutkans = 0.6 }", "cannot exceed 1"),
        ("{ latentie_ms = -1 }", "latentie_ms"),
        ("{ vaak_kapot = true }", "vaak_kapot"),
    ],
)
def test_a_bad_gedrag_is_a_world_error(tmp_path: Path, gedrag: str, problem: str) -> None:
    path = tmp_path / "world.toml"
    text = GEDRAG_WORLD.replace(
        "{ latentie_ms = 250, foutkans = 0.05, timeoutkans = 0.01, onvolledig = true }", gedrag
    )
    path.write_text(text, "utf-8")
    with pytest.raises(WorldError, match=problem):
        load_world(path)


def test_without_nictiz_material_the_qualification_zorgaanbieder_is_left_out(
    world: World,
) -> None:
    effective, root, dropped = up_module.without_unserved_nictiz(world, None)
    assert root is None
    assert dropped == ("kwalificatie@medmij",)
    names = [za.naam for za in publication(effective).zal.zorgaanbieders]
    assert "kwalificatie@medmij" not in names
    assert "ziekenhuis@medmij" in names
    # Nothing else about the world changes.
    assert effective.sharing_zorgaanbieders() == world.sharing_zorgaanbieders()
    assert effective.persons_list() == world.persons_list()


def test_with_nictiz_material_the_world_stays_whole(world: World, nictiz_root: Path) -> None:
    effective, root, dropped = up_module.without_unserved_nictiz(world, nictiz_root)
    assert (effective, root, dropped) == (world, nictiz_root.resolve(), ())


def test_the_environment_variable_counts_as_given(
    world: World, nictiz_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDMIJ_NICTIZ", str(nictiz_root))
    assert up_module.without_unserved_nictiz(world, None)[2] == ()


def test_a_wrong_nictiz_path_is_an_error_not_a_silent_omission(
    world: World, tmp_path: Path
) -> None:
    with pytest.raises(NictizError):
        up_module.without_unserved_nictiz(world, tmp_path)


@pytest.mark.parametrize(
    "command", [("up",), ("serve", "zorgaanbieder"), ("serve", "stelselnode"), ("serve", "pgo")]
)
def test_the_commands_refuse_a_wrong_nictiz_path_clearly(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = run(
        *command,
        "--nictiz",
        str(tmp_path / "nergens"),
        "--data-dir",
        str(tmp_path / "data"),
        "--certs",
        str(tmp_path / "certs"),
    )
    assert result.exit_code == 2
    message = " ".join((result.stdout + result.stderr).split())
    assert "Nictiz material not usable" in message
    assert "Traceback" not in message


def test_every_role_is_handed_the_nictiz_path(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each `medmij serve` decides again which zorgaanbieders it serves: without the path,
    # the Stelselnode would leave the qualification zorgaanbieder out of the ZAL.
    started: list[list[str]] = []

    class Recorded:
        def __init__(self, argv: list[str], **kwargs: Any) -> None:
            started.append(argv)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    up_module.start_stack(
        tmp_path / "world.json",
        world,
        tmp_path,
        tmp_path / "certs",
        log_dir=tmp_path / "logs",
        nictiz=tmp_path / "nictiz",
    )
    # Every process this world starts (the collector only when the world has one).
    assert {argv[argv.index("serve") + 1] for argv in started} == {
        instance.role.value for instance in role_instances(world)
    }
    for argv in started:
        assert argv[argv.index("--nictiz") + 1] == str(tmp_path / "nictiz")
    started.clear()
    up_module.start_stack(
        tmp_path / "world.json", world, tmp_path, tmp_path / "certs", log_dir=tmp_path / "logs"
    )
    assert started
    assert not [argv for argv in started if "--nictiz" in argv]


def test_an_incomplete_zorgaanbieder_serves_less_of_the_same_persons(
    world: World, pki: DevPKI, tmp_path: Path
) -> None:
    complete = zorgaanbieder_settings(world, pki, tmp_path, dva=world.ours()[0])
    fields = complete.model_dump()
    fields["zorgaanbieders"] = [
        za | {"gedrag": {"onvolledig": za["naam"] == "ziekenhuis@medmij"}}
        for za in fields["zorgaanbieders"]
    ]
    incomplete = ZorgaanbiederSettings(**fields)

    def served(settings: ZorgaanbiederSettings) -> dict[EndpointKey, Dataset]:
        return {d.endpoint: d for d in datasets_for(settings)}

    full, partial = served(complete), served(incomplete)
    assert full.keys() == partial.keys()
    for key in full:
        assert {p.bsn for p in full[key].patients} == {p.bsn for p in partial[key].patients}
        if key.zorgaanbieder == "ziekenhuis@medmij":
            assert len(partial[key].resources) < len(full[key].resources)
        else:
            assert partial[key].version == full[key].version


def test_who_is_where_is_decided_as_the_world_decides_it(
    world: World, pki: DevPKI, tmp_path: Path
) -> None:
    settings = zorgaanbieder_settings(world, pki, tmp_path, dva=world.ours()[0])
    where = world.person_zorgaanbieders()
    for dataset in datasets_for(settings):
        expected = {bsn for bsn, names in where.items() if dataset.endpoint.zorgaanbieder in names}
        assert {p.bsn for p in dataset.patients} == expected
