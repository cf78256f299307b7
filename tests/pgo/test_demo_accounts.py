"""The demo accounts of a world: one per DigiD test person, in stack.json and the PGO's settings."""

from __future__ import annotations

from pathlib import Path

from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.wiring.demo_accounts import DEMO_PASSWORD, demo_logins
from medmij_stack.wiring.roles import Role, listeners_for
from medmij_stack.wiring.up import stack_json
from medmij_stack.wiring.world import World, load_world


def _world() -> World:
    data = load_world().model_dump(mode="python")
    data["persons"]["count"] = 30  # enough for names to repeat
    return World.model_validate(data)


def test_one_account_per_test_person_with_a_unique_name() -> None:
    world = _world()
    logins = demo_logins(world)
    persons = world.persons_list()
    assert [d.bsn for d in logins] == [p.bsn for p in persons]
    assert [d.naam for d in logins] == [p.name for p in persons]
    names = [d.gebruikersnaam for d in logins]
    assert len(set(names)) == len(names)
    assert all(name.isascii() and name == name.lower() and " " not in name for name in names)
    assert {d.wachtwoord for d in logins} == {DEMO_PASSWORD}


def test_stack_json_names_them_and_the_pgo_gets_them_without_bsn(tmp_path: Path) -> None:
    world = load_world()
    pki = ensure_dev_pki(tmp_path / "certs", world.our_hostnames())
    info = stack_json(world, pki, tmp_path / "world.json")
    accounts = info["pgo_accounts"]
    assert isinstance(accounts, list)
    assert accounts[0] == demo_logins(world)[0].to_json()
    assert set(accounts[0]) == {"gebruikersnaam", "wachtwoord", "bsn", "naam"}
    (listener,) = listeners_for(Role.PGO, world, pki, tmp_path / "data")
    settings = listener.app.state.settings  # type: ignore[attr-defined]
    assert [a.gebruikersnaam for a in settings.demo_accounts] == [
        a["gebruikersnaam"] for a in accounts
    ]
    assert not hasattr(settings.demo_accounts[0], "bsn")
    assert settings.weergavenamen["ziekenhuisdemo@medmij"] == "Ziekenhuis Demostad"
    listener.app.state.pgo.close()  # type: ignore[attr-defined]
