"""Accounts and sessions: sign up, log in, lock-out, cookies, CSRF, log out, expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from medmij_stack.pgo import passwords
from medmij_stack.pgo.accounts import Accounts
from medmij_stack.pgo.db import Database
from medmij_stack.pgo.passwords import DEMO, SIMULATED, ScryptParameters
from medmij_stack.pgo.settings import DemoAccount
from medmij_stack.pgo.tables import Account, WebSession

from .harness import FakeClock, Person, PgoWorld, form_with, settings, text


def _accounts(
    tmp_path: Path,
    clock: FakeClock,
    *,
    cost: ScryptParameters = DEMO,
    demo_cost: ScryptParameters = DEMO,
) -> Accounts:
    return Accounts(
        Database(f"sqlite:///{tmp_path / 'pgo.sqlite3'}"),
        clock,
        failures_before_lock=3,
        lock=timedelta(seconds=60),
        lock_max=timedelta(seconds=600),
        cost=cost,
        demo_cost=demo_cost,
    )


def test_sign_up_rules_are_said_per_field(tmp_path: Path) -> None:
    accounts = _accounts(tmp_path, FakeClock())
    problems = accounts.sign_up("a", "kort", "anders")
    assert {p.field for p in problems} == {"gebruikersnaam", "wachtwoord", "wachtwoord_herhaling"}  # type: ignore[union-attr]
    same = accounts.sign_up("annaannaanna", "AnnaAnnaAnna", "AnnaAnnaAnna")
    assert [p.message for p in same] == ["Je wachtwoord mag niet je gebruikersnaam zijn."]  # type: ignore[union-attr]
    made = accounts.sign_up("  Anna.Test ", "een lang wachtwoord", "een lang wachtwoord")
    assert isinstance(made, Account)
    assert made.gebruikersnaam == "anna.test"
    assert made.password_hash.startswith("scrypt$14$")
    taken = accounts.sign_up("ANNA.TEST", "een lang wachtwoord", "een lang wachtwoord")
    assert [p.field for p in taken] == ["gebruikersnaam"]  # type: ignore[union-attr]


def test_wrong_passwords_lock_the_name_with_back_off(tmp_path: Path) -> None:
    clock = FakeClock()
    accounts = _accounts(tmp_path, clock)
    accounts.sign_up("anna", "een lang wachtwoord", "een lang wachtwoord")
    assert accounts.log_in("anna", "fout").locked_for is None
    assert accounts.log_in("anna", "fout").locked_for is None
    third = accounts.log_in("anna", "fout")
    assert third.locked_for == timedelta(seconds=60)
    # Locked: even the right password is refused, without being checked.
    assert accounts.log_in("anna", "een lang wachtwoord").account is None
    clock.advance(seconds=61)
    fourth = accounts.log_in("anna", "nog steeds fout")
    assert fourth.locked_for == timedelta(seconds=120)  # doubled
    clock.advance(seconds=121)
    assert accounts.log_in("anna", "een lang wachtwoord").account is not None
    assert accounts.log_in("anna", "fout").locked_for is None  # the count starts again


def test_unknown_names_lock_the_same_way(tmp_path: Path) -> None:
    accounts = _accounts(tmp_path, FakeClock())
    results = [accounts.log_in("niemand", "x") for _ in range(3)]
    assert results[-1].locked_for == timedelta(seconds=60)


def test_demo_accounts_are_made_once(tmp_path: Path) -> None:
    accounts = _accounts(tmp_path, FakeClock())
    demo = (DemoAccount(gebruikersnaam="anna.test", wachtwoord="medmij-demo", naam="Anna Test"),)
    assert accounts.ensure_demo(demo) == 1
    assert accounts.ensure_demo(demo) == 0
    found = accounts.log_in("anna.test", "medmij-demo").account
    assert found is not None
    assert found.naam == "Anna Test"
    assert found.password_hash.startswith("scrypt$14$")  # passwords.DEMO


def test_a_simulation_worlds_persons_are_made_together_at_the_simulated_cost(
    tmp_path: Path,
) -> None:
    accounts = _accounts(tmp_path, FakeClock(), demo_cost=SIMULATED)
    accounts.sign_up("bestaat.al", "een lang wachtwoord", "een lang wachtwoord")
    persons = [
        DemoAccount(gebruikersnaam=f"Persoon.{n}", wachtwoord="medmij-demo", naam=f"Persoon {n}")
        for n in range(1200)  # more names than one query asks about
    ]
    demo = (*persons, DemoAccount(gebruikersnaam="bestaat.al", wachtwoord="medmij-demo", naam="Al"))
    assert accounts.ensure_demo(demo) == 1200
    assert accounts.ensure_demo(demo) == 0
    found = accounts.log_in("persoon.1199", "medmij-demo").account
    assert found is not None
    assert found.naam == "Persoon 1199"
    assert found.password_hash.startswith("scrypt$10$")
    # The existing account kept its own password and cost.
    kept = accounts.log_in("bestaat.al", "een lang wachtwoord").account
    assert kept is not None
    assert kept.password_hash.startswith("scrypt$14$")


def test_only_a_development_world_has_simulated_accounts(tmp_path: Path) -> None:
    assert settings(tmp_path, simulated_accounts=True).simulated_accounts
    with pytest.raises(ValueError, match="simulated_accounts needs development"):
        settings(tmp_path, simulated_accounts=True, development=False)


async def test_the_session_cookie_is_host_only_secure_httponly_and_lax(pw: PgoWorld) -> None:
    person = pw.person()
    page = await person.client.get("/inloggen")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-pgo_sessie=")
    lowered = cookie.lower()
    assert "secure" in lowered
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "path=/" in lowered
    assert "domain=" not in lowered
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    await person.client.aclose()


async def test_logging_in_gives_a_new_session_and_the_old_cookie_is_worth_nothing(
    pw: PgoWorld,
) -> None:
    person = pw.person()
    await person.sign_up("anna")
    await person.client.post("/uitloggen", data={"csrf_token": person.csrf})
    page = await person.client.get("/inloggen")
    before = person.client.cookies["__Host-pgo_sessie"]
    fields = dict(form_with(page, "wachtwoord"))
    fields.update(gebruikersnaam="anna", wachtwoord="een-lang-wachtwoord")
    answer = await person.client.post("/inloggen", data=fields)
    assert answer.status_code == 303
    after = person.client.cookies["__Host-pgo_sessie"]
    assert after != before
    planted = pw.person()
    planted.client.cookies.set("__Host-pgo_sessie", before)
    assert (await planted.client.get("/geschiedenis")).headers["location"] == "/inloggen"
    await person.client.aclose()
    await planted.client.aclose()


async def test_a_post_without_the_csrf_token_does_nothing(pw: PgoWorld, person: Person) -> None:
    for fields in ({}, {"csrf_token": "geraden"}):
        answer = await person.client.post(
            "/ophalen", data={**fields, "zorgaanbieder": "ggdtest@medmij", "gegevensdienst": "63"}
        )
        assert answer.status_code == 400
        assert "Dit formulier is verlopen" in text(answer)
    assert pw.dva.codes == {}
    with pw.pgo.db.read() as session:
        assert pw.pgo.attempts.of_account(session.scalars(select(Account.id)).one()) == []


async def test_a_login_without_the_csrf_token_is_refused(pw: PgoWorld) -> None:
    person = pw.person()
    await person.sign_up("anna")
    stranger = pw.person()
    answer = await stranger.client.post(
        "/inloggen", data={"gebruikersnaam": "anna", "wachtwoord": "een-lang-wachtwoord"}
    )
    assert answer.status_code == 400
    assert "__Host-pgo_sessie" not in answer.headers.get("set-cookie", "")
    await person.client.aclose()
    await stranger.client.aclose()


async def test_a_wrong_password_says_so_and_the_lock_out_says_how_long(pw: PgoWorld) -> None:
    person = pw.person()
    await person.sign_up("anna")
    await person.client.post("/uitloggen", data={"csrf_token": person.csrf})
    statuses = []
    for _ in range(pw.pgo.settings.login_failures_before_lock):
        answer = await person.log_in("anna", "verkeerd-wachtwoord")
        statuses.append(answer.status_code)
    assert statuses[:-1] == [400] * (len(statuses) - 1)
    assert statuses[-1] == 429
    assert "Probeer het over 1 minuut opnieuw" in text(answer)
    await person.client.aclose()


async def test_logging_out_ends_the_session(pw: PgoWorld, person: Person) -> None:
    answer = await person.client.post("/uitloggen", data={"csrf_token": person.csrf})
    assert answer.status_code == 303
    with pw.pgo.db.read() as session:
        assert (
            session.scalars(select(WebSession).where(WebSession.account_id.is_not(None))).all()
            == []
        )
    assert (await person.client.get("/zorgaanbieders")).headers["location"] == "/inloggen"


async def test_an_idle_session_ends(pw: PgoWorld, person: Person) -> None:
    assert (await person.client.get("/geschiedenis")).status_code == 200
    pw.clock.advance(seconds=pw.pgo.settings.session_idle_seconds + 1)
    assert (await person.client.get("/geschiedenis")).status_code == 303


async def test_an_oversized_form_is_refused(pw: PgoWorld, person: Person) -> None:
    answer = await person.client.post("/ophalen", content=b"a=" + b"x" * 70_000)
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "path", ["/zorgaanbieders", "/geschiedenis", "/toestemmingen", "/gegevens/vaccinaties"]
)
async def test_pages_need_an_account(pw: PgoWorld, path: str) -> None:
    anonymous = pw.person()
    answer = await anonymous.client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/inloggen"
    await anonymous.client.aclose()


async def test_unknown_pages_are_a_dutch_404(pw: PgoWorld, person: Person) -> None:
    for path in ("/bestaat-niet", "/gegevens/onzin", "/ophalen/onbekend"):
        answer = await person.client.get(path)
        assert answer.status_code == 404
        assert "Niet gevonden" in text(answer)


def test_an_unknown_name_costs_the_hashing_of_a_made_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timing must not tell which names exist: the password of an unknown name is checked
    # against a hash of the cost that signed-up accounts get, not the cheaper demo cost.
    # Sign-ups cheap for the test; the point is that their cost differs from demo_cost.
    accounts = _accounts(tmp_path, FakeClock(), cost=SIMULATED, demo_cost=DEMO)
    accounts.ensure_demo(
        (DemoAccount(gebruikersnaam="demo", wachtwoord="demo-wachtwoord", naam="Demo"),)
    )
    accounts.sign_up("anna", "een lang wachtwoord", "een lang wachtwoord")
    checked: list[str] = []
    real_verify = passwords.verify_password

    def verify(password: str, stored: str) -> bool:
        checked.append(stored.split("$")[1])
        return real_verify(password, stored)

    monkeypatch.setattr(passwords, "verify_password", verify)
    accounts.log_in("anna", "fout")
    accounts.log_in("niemand", "fout")
    accounts.log_in("demo", "fout")
    assert checked == [str(SIMULATED.log2_n), str(SIMULATED.log2_n), str(DEMO.log2_n)]
