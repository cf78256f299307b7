"""Synthetic test persons: valid test BSNs, the same persons for the same seed, and who is where."""

from __future__ import annotations

from datetime import date

import pytest

from medmij_stack.protocol.persons import MAX_PERSONS, assign_zorgaanbieders, elfproef, test_persons

ZORGAANBIEDERS = ("ziekenhuis@medmij", "ggd@medmij", "huisarts@medmij")


@pytest.mark.parametrize("bsn", ["999911120", "123456782", "111222333", "999990020"])
def test_elfproef_accepts_valid_bsns(bsn: str) -> None:
    assert elfproef(bsn)


@pytest.mark.parametrize(
    "bsn",
    [
        "999911121",  # last digit off by one
        "123456789",
        "99991112",  # eight digits
        "9999111200",  # ten digits
        "99991112a",
        " 99991112",
        "",
        "٩٩٩٩١١١٢٠",  # 999911120 in Arabic-Indic digits: not a BSN
    ],
)
def test_elfproef_refuses_invalid_bsns(bsn: str) -> None:
    assert not elfproef(bsn)


def test_max_persons_is_the_number_of_valid_test_bsns() -> None:
    assert sum(1 for n in range(100_000) if elfproef(f"9999{n:05d}")) == MAX_PERSONS


def test_the_same_seed_gives_the_same_persons() -> None:
    assert test_persons(42, 25) == test_persons(42, 25)
    assert test_persons(42, 25) != test_persons(43, 25)


def test_more_persons_keep_the_ones_there_were() -> None:
    # Raising persons.count in a world must not change who could already log in.
    assert test_persons(7, 30)[:10] == test_persons(7, 10)


@pytest.mark.parametrize("seed", [1, 20261123, 2**40])
def test_persons_have_distinct_valid_test_bsns(seed: int) -> None:
    persons = test_persons(seed, 500)
    bsns = [p.bsn for p in persons]
    assert len(bsns) == len(set(bsns)) == 500
    for bsn in bsns:
        assert bsn.startswith("9999")
        assert elfproef(bsn)


def test_persons_look_like_people() -> None:
    for person in test_persons(3, 100):
        assert person.gender in ("female", "male")
        assert person.given_name
        assert person.family_name
        assert person.name == f"{person.given_name} {person.family_name}"
        assert date(1935, 1, 1) <= person.birth_date < date(2008, 1, 1)


def test_a_count_of_zero_gives_nobody_and_a_bad_count_is_refused() -> None:
    assert test_persons(1, 0) == ()
    with pytest.raises(ValueError, match="negative"):
        test_persons(1, -1)
    with pytest.raises(ValueError, match=f"at most {MAX_PERSONS}"):
        test_persons(1, MAX_PERSONS + 1)


def test_assignment_is_deterministic_per_seed() -> None:
    persons = test_persons(5, 40)
    first = assign_zorgaanbieders(5, persons, ZORGAANBIEDERS)
    assert first == assign_zorgaanbieders(5, persons, ZORGAANBIEDERS)
    assert first != assign_zorgaanbieders(6, persons, ZORGAANBIEDERS)


def test_the_first_person_is_everywhere_and_everyone_somewhere() -> None:
    persons = test_persons(5, 200)
    where = assign_zorgaanbieders(5, persons, ZORGAANBIEDERS)
    assert list(where) == [p.bsn for p in persons]
    assert where[persons[0].bsn] == ZORGAANBIEDERS
    for names in where.values():
        assert names
        assert set(names) <= set(ZORGAANBIEDERS)
        # In the order given, without repeats.
        assert list(names) == [z for z in ZORGAANBIEDERS if z in names]
    # Not a world where everyone is everywhere: a PGO must meet "no data here" too.
    assert any(len(names) < len(ZORGAANBIEDERS) for names in where.values())
    assert all(any(z in names for names in list(where.values())[1:]) for z in ZORGAANBIEDERS)


def test_with_one_zorgaanbieder_everyone_is_there() -> None:
    persons = test_persons(9, 30)
    assert set(assign_zorgaanbieders(9, persons, ["enige@medmij"]).values()) == {("enige@medmij",)}


def test_without_zorgaanbieders_nobody_is_anywhere() -> None:
    persons = test_persons(9, 5)
    assert assign_zorgaanbieders(9, persons, []) == {p.bsn: () for p in persons}
