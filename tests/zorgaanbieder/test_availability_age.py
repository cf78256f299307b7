"""The age rule of the beschikbaarheidstoets (Verantwoordelijkheden, Zorg).

A zorgaanbieder may set a minimumleeftijd; a person younger than that is answered as a
person without data there (the authorisation server then sends the PGO the one refusal it
sends for "no data" and for a refused consent). The birth date is the DigiD test person's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from medmij_stack.protocol.persons import TestPerson, test_persons
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.wiring.roles import zorgaanbieder_settings
from medmij_stack.wiring.world import World
from medmij_stack.zorgaanbieder.availability import BirthDates, age_on, meets_age_rule
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.settings import ServedZorgaanbieder

from .authserver_fake import FakeAuthserver
from .conftest import WORLD, Running, Start
from .test_introspection_mtls import ZA, ask, question


def test_age_counts_whole_years_up_to_the_birthday() -> None:
    born = date(2010, 6, 15)
    assert age_on(born, date(2026, 6, 14)) == 15
    assert age_on(born, date(2026, 6, 15)) == 16
    # Born on 29 February: a year older on 1 March when the year has no 29 February.
    leap = date(2008, 2, 29)
    assert age_on(leap, date(2024, 2, 28)) == 15
    assert age_on(leap, date(2024, 3, 1)) == 16


def test_the_rule_applies_only_where_a_zorgaanbieder_has_one() -> None:
    free = ServedZorgaanbieder(naam="vrij@medmij", gegevensdiensten=("48",))
    ruled = ServedZorgaanbieder(naam="streng@medmij", gegevensdiensten=("48",), minimumleeftijd=16)
    today = date(2026, 12, 3)
    assert meets_age_rule(free, None, today)
    assert meets_age_rule(ruled, date(2010, 12, 3), today)
    assert not meets_age_rule(ruled, date(2010, 12, 4), today)
    # A person whose birth date is unknown cannot be shown to meet the rule.
    assert not meets_age_rule(ruled, None, today)


def test_birth_dates_are_the_digid_test_persons() -> None:
    persons = test_persons(11, 6)
    birth_dates = BirthDates(11, 6)
    assert all(birth_dates(p.bsn) == p.birth_date for p in persons)
    assert birth_dates("999999990") is None


def _age(person: TestPerson) -> int:
    return age_on(person.birth_date, datetime.now(ZoneInfo("Europe/Amsterdam")).date())


@pytest.fixture(scope="module")
def with_rule(
    start_resource_server: Start,
    tiny_datasets: list[Dataset],
    fake_authserver: FakeAuthserver,
    persons: tuple[TestPerson, ...],
) -> Iterator[tuple[Running, int]]:
    """The resource server with an age rule at ZA: just older than its first person."""
    minimum = _age(persons[0]) + 1
    with start_resource_server(
        datasets=tiny_datasets, introspection_url=fake_authserver.url
    ) as plain:
        zorgaanbieders = tuple(
            za.model_copy(update={"minimumleeftijd": minimum}) if za.naam == ZA else za
            for za in plain.settings.zorgaanbieders
        )
    with start_resource_server(
        datasets=tiny_datasets,
        introspection_url=fake_authserver.url,
        zorgaanbieders=zorgaanbieders,
    ) as running:
        yield running, minimum


def test_a_person_younger_than_the_minimum_is_answered_as_without_data(
    with_rule: tuple[Running, int], persons: tuple[TestPerson, ...]
) -> None:
    running, minimum = with_rule
    # The first person has data for both at ZA (test_introspection_mtls), but is one year
    # short of the rule: exactly the answer of a person without a record there.
    assert _age(persons[0]) == minimum - 1
    too_young = ask(running, question(persons[0].bsn))
    without_record = ask(running, question(persons[5].bsn))
    assert too_young.status_code == without_record.status_code == 200
    assert too_young.json() == without_record.json() == {"beschikbaar": []}


def test_a_person_of_the_minimum_age_or_older_is_answered_as_before(
    with_rule: tuple[Running, int], persons: tuple[TestPerson, ...]
) -> None:
    running, minimum = with_rule
    # The second person has data for 63 at ZA (test_introspection_mtls): the rule alone
    # decides whether it is available.
    expected = ["63"] if _age(persons[1]) >= minimum else []
    assert ask(running, question(persons[1].bsn, gegevensdiensten=["63"])).json() == {
        "beschikbaar": expected
    }
    # The rule is the zorgaanbieder's own: at the GGD, without one, the first person is
    # answered as without the rule.
    plain = ask(running, question(persons[0].bsn, "ggd@medmij", ["63"]))
    assert plain.status_code == 200


def test_the_world_gives_a_zorgaanbieder_its_age_rule(tmp_path: Path, pki: DevPKI) -> None:
    ziekenhuis = 'weergavenaam = "Testziekenhuis"\n'
    with_rule = WORLD.replace(ziekenhuis, ziekenhuis + "minimumleeftijd = 16\n")
    assert with_rule != WORLD
    world = World.model_validate(tomllib.loads(with_rule))
    (dva,) = world.ours()
    assert {za.naam: za.minimumleeftijd for za in dva.zorgaanbieder}["ziekenhuis@medmij"] == 16
    settings = zorgaanbieder_settings(world, pki, tmp_path / "data", dva=dva, resolve=False)
    rules = {za.naam: za.minimumleeftijd for za in settings.zorgaanbieders}
    assert rules["ziekenhuis@medmij"] == 16
    assert rules["ggd@medmij"] is None
    wrong = with_rule.replace("minimumleeftijd = 16", "minimumleeftijd = -1")
    with pytest.raises(ValueError, match="minimumleeftijd"):
        World.model_validate(tomllib.loads(wrong))
