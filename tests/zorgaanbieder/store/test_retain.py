"""Retain: the data of endpoints a world no longer serves leaves the store, whole and at
once, and nothing of it answers afterwards (tokens, BSNs, searches, availability)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, text

from medmij_stack.zorgaanbieder.dataset import EndpointKey, QualificationToken
from medmij_stack.zorgaanbieder.store import Repository

from .data import (
    BGZ,
    BSN_A,
    BSN_R,
    TOKEN_A,
    TOKEN_R,
    VACCINATIES,
    bgz_dataset,
    vaccinatie_dataset,
)
from .helpers import match_ids, search

# Every table of the store and how its rows belong to an endpoint.
_ORPHANS = {
    "resource": "SELECT count(*) FROM resource WHERE endpoint_id NOT IN (SELECT id FROM endpoint)",
    "search_token": "SELECT count(*) FROM search_token WHERE resource_pk NOT IN "
    "(SELECT pk FROM resource)",
    "shared_access": "SELECT count(*) FROM shared_access WHERE endpoint_id NOT IN "
    "(SELECT id FROM endpoint) OR resource_pk NOT IN (SELECT pk FROM resource)",
    "patient": "SELECT count(*) FROM patient WHERE endpoint_id NOT IN (SELECT id FROM endpoint)",
    "qualification_token": "SELECT count(*) FROM qualification_token WHERE endpoint_id "
    "NOT IN (SELECT id FROM endpoint)",
}
_ROWS = ("endpoint", *_ORPHANS)


@pytest.fixture
def database(store_url: str) -> Iterator[Connection]:
    """A second, plain connection to the store's database, to count rows."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def rows(database: Connection) -> dict[str, int]:
    database.rollback()  # a fresh snapshot on every call
    return {
        table: database.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        for table in _ROWS
    }


def orphans(database: Connection) -> dict[str, int]:
    database.rollback()
    return {table: database.execute(text(sql)).scalar_one() for table, sql in _ORPHANS.items()}


@pytest.fixture
def both(repository: Repository) -> Repository:
    repository.load(bgz_dataset())
    repository.load(vaccinatie_dataset())
    return repository


def test_an_endpoint_not_listed_loses_all_its_data(both: Repository, database: Connection) -> None:
    before = rows(database)
    assert both.retain([BGZ]) == (VACCINATIES,)
    assert both.endpoints() == (BGZ,)
    # Nothing of the Vaccinaties endpoint answers: not its token, its BSN, its records.
    assert both.token_patient(TOKEN_R) is None
    assert both.patient_for_bsn(VACCINATIES, BSN_R) is None
    assert both.available("ggd@medmij", BSN_R, ("63",)) == ()
    assert search(both, "Immunization", "pat-r", VACCINATIES).matches == ()
    assert both.read(VACCINATIES, "pat-r", "Patient", "pat-r") is None
    # And nothing of it is left in the database, in any table.
    after = rows(database)
    assert after["endpoint"] == 1
    assert all(after[table] < before[table] for table in _ROWS)
    assert orphans(database) == dict.fromkeys(_ORPHANS, 0)


def test_the_endpoints_listed_keep_everything(both: Repository, database: Connection) -> None:
    before = rows(database)
    conditions = match_ids(both, "Condition")
    assert both.retain([BGZ, VACCINATIES, EndpointKey("nergens@medmij", "48")]) == ()
    assert rows(database) == before
    assert both.retain([BGZ]) == (VACCINATIES,)
    assert match_ids(both, "Condition") == conditions
    assert both.token_patient(TOKEN_A) == (BGZ, "pat-a")
    assert both.patient_for_bsn(BGZ, BSN_A) == "pat-a"
    assert both.available("ziekenhuis@medmij", BSN_A, ("48",)) == ("48",)


def test_retaining_nothing_empties_the_store(both: Repository, database: Connection) -> None:
    assert both.retain(()) == tuple(sorted((BGZ, VACCINATIES)))
    assert both.endpoints() == ()
    assert rows(database) == dict.fromkeys(_ROWS, 0)
    assert both.retain(()) == ()


def test_a_removed_endpoint_loads_again_and_its_tokens_are_free(both: Repository) -> None:
    both.retain([BGZ])
    # The record of the loaded version went too: the same version is loaded anew.
    assert both.load(vaccinatie_dataset()) is True
    assert both.token_patient(TOKEN_R) == (VACCINATIES, "pat-r")
    both.retain([BGZ])
    # A token of the removed endpoint may now be bound elsewhere (as when the Nictiz
    # material moves to a zorgaanbieder of another name).
    moved = dataclasses.replace(bgz_dataset("v2"), tokens=(QualificationToken(TOKEN_R, "pat-a"),))
    assert both.load(moved) is True
    assert both.token_patient(TOKEN_R) == (BGZ, "pat-a")


def test_removal_is_one_transaction(
    both: Repository, database: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = rows(database)
    clear = Repository._clear
    calls = 0

    def failing_second(connection: Connection, endpoint_id: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        clear(connection, endpoint_id)

    monkeypatch.setattr(Repository, "_clear", staticmethod(failing_second))
    with pytest.raises(RuntimeError, match="went away"):
        both.retain(())
    monkeypatch.undo()
    assert calls == 2
    # The first endpoint's removal was rolled back with the second's.
    assert rows(database) == before
    assert both.endpoints() == tuple(sorted((BGZ, VACCINATIES)))
    assert both.token_patient(TOKEN_A) == (BGZ, "pat-a")
    assert both.token_patient(TOKEN_R) == (VACCINATIES, "pat-r")


def test_searches_during_removals_see_the_endpoint_whole_or_not_at_all(
    repository: Repository,
) -> None:
    repository.load(bgz_dataset())
    seen: set[tuple[int, int]] = set()
    problems: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            for _ in range(2000):  # bounded; stops early when the removals are done
                if stop.is_set():
                    return
                statement = search(
                    repository, "MedicationStatement?_include=MedicationStatement:medication"
                )
                seen.add((len(statement.matches), len(statement.includes)))
        except BaseException as error:  # reported to the main thread
            problems.append(error)

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for round_ in range(6):
            assert repository.retain(()) == (BGZ,)
            assert repository.load(bgz_dataset(f"v{round_}")) is True
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not problems
    # The statement with its Medication, or nothing: never a statement without it.
    assert seen <= {(1, 1), (0, 0)}
    assert (1, 1) in seen
