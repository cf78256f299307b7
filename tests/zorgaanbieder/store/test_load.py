"""Loading: atomic replacement per endpoint, the no-op for a loaded version, what a bad
dataset gets, tokens kept as hashes only, and who-is-who (BSN, tokens, availability)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading

import pytest
from sqlalchemy import create_engine, text

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.dataset import (
    Dataset,
    EndpointKey,
    PatientRecord,
    QualificationToken,
)
from medmij_stack.zorgaanbieder.store import DatasetError, Repository

from .data import (
    BGZ,
    BSN_A,
    BSN_B,
    BSN_R,
    TOKEN_A,
    TOKEN_R,
    VACCINATIES,
    bgz_dataset,
    bgz_resources,
    observation,
    resource,
    vaccinatie_dataset,
)
from .helpers import match_ids, search


def test_the_same_version_is_loaded_once(repository: Repository) -> None:
    assert repository.load(bgz_dataset("v1")) is True
    assert repository.load(bgz_dataset("v1")) is False
    assert repository.endpoints() == (BGZ,)


def test_a_new_version_replaces_the_endpoints_data_and_leaves_others_alone(
    repository: Repository,
) -> None:
    repository.load(bgz_dataset("v1"))
    repository.load(vaccinatie_dataset())
    smaller = [r for r in bgz_resources() if r["id"] not in ("cond-a2", "weight-new")]
    smaller.append(observation("weight-2030", "pat-a", ("http://loinc.org", "29463-7")))
    assert repository.load(bgz_dataset("v2", smaller)) is True
    assert match_ids(repository, "Condition") == ["Condition/cond-a1"]
    assert repository.read(BGZ, "pat-a", "Observation", "weight-new") is None
    assert repository.read(BGZ, "pat-a", "Observation", "weight-2030") is not None
    vaccinations = search(repository, "Immunization", "pat-r", VACCINATIES)
    assert len(vaccinations.matches) == 2
    assert repository.endpoints() == tuple(sorted((VACCINATIES, BGZ)))


def test_a_reload_that_fails_keeps_the_old_data(repository: Repository) -> None:
    repository.load(vaccinatie_dataset())
    repository.load(bgz_dataset("v1"))
    # v2 reuses the Vaccinaties token: refused inside the write, so nothing changes.
    clash = dataclasses.replace(
        bgz_dataset("v2", [r for r in bgz_resources() if r["id"] != "cond-a2"]),
        tokens=(QualificationToken(TOKEN_R, "pat-a"),),
    )
    with pytest.raises(DatasetError, match="ggd@medmij"):
        repository.load(clash)
    assert match_ids(repository, "Condition") == ["Condition/cond-a1", "Condition/cond-a2"]
    assert repository.token_patient(TOKEN_A) == (BGZ, "pat-a")
    assert repository.load(bgz_dataset("v1")) is False  # v1 is still what is loaded


def test_searches_during_reloads_see_one_dataset_whole(repository: Repository) -> None:
    full = bgz_dataset("full")
    # `few` lacks a Condition, the MedicationStatement and its Medication.
    dropped = ("cond-a2", "ms-a", "med-a", "mr-a", "mr-a2")
    few = bgz_dataset("few", [r for r in bgz_resources() if r["id"] not in dropped])
    repository.load(full)
    seen: set[tuple[int, int]] = set()
    problems: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            for _ in range(2000):  # bounded; stops early when the loads are done
                if stop.is_set():
                    return
                conditions = len(search(repository, "Condition").matches)
                statement = search(
                    repository, "MedicationStatement?_include=MedicationStatement:medication"
                )
                seen.add((conditions, len(statement.matches) + len(statement.includes)))
        except BaseException as error:  # reported to the main thread
            problems.append(error)

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for round_ in range(6):
            repository.load(dataclasses.replace(few, version=f"few-{round_}"))
            repository.load(dataclasses.replace(full, version=f"full-{round_}"))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not problems
    # Never a half-loaded endpoint (no Conditions), and within one search never the
    # match of one dataset with the includes of the other (a statement without its
    # Medication). Two separate searches may of course straddle a load.
    assert {conditions for conditions, _ in seen} <= {1, 2}
    assert {statement for _, statement in seen} <= {0, 2}
    assert (2, 2) in seen


def test_tokens_are_stored_as_sha256_only(repository: Repository, store_url: str) -> None:
    repository.load(bgz_dataset())
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT token_sha256, patient_id FROM qualification_token")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in stored] == [
        (hashlib.sha256(TOKEN_A.encode()).hexdigest(), "pat-a")
    ]


def test_token_patient(repository: Repository) -> None:
    repository.load(bgz_dataset())
    repository.load(vaccinatie_dataset())
    assert repository.token_patient(TOKEN_A) == (BGZ, "pat-a")
    assert repository.token_patient(TOKEN_R) == (VACCINATIES, "pat-r")
    assert repository.token_patient("no-such-token") is None
    assert repository.token_patient(TOKEN_A.upper()) is None


def test_patient_for_bsn(repository: Repository) -> None:
    repository.load(bgz_dataset())
    assert repository.patient_for_bsn(BGZ, BSN_A) == "pat-a"
    assert repository.patient_for_bsn(BGZ, BSN_B) == "pat-b"
    assert repository.patient_for_bsn(BGZ, BSN_R) is None
    assert repository.patient_for_bsn(EndpointKey("ziekenhuis@medmij", "63"), BSN_A) is None


def test_available_names_the_gegevensdiensten_with_more_than_a_patient(
    repository: Repository,
) -> None:
    repository.load(bgz_dataset())
    only_patient = Dataset(
        endpoint=EndpointKey("ziekenhuis@medmij", "63"),
        fhir_version=FhirVersion.R4,
        resources=(resource("Patient", "pat-a"),),
        patients=(PatientRecord("pat-a", BSN_A),),
        source="test",
        version="1",
    )
    repository.load(only_patient)
    assert repository.available("ziekenhuis@medmij", BSN_A, ["63", "48", "48", "99"]) == ("48",)
    assert repository.available("ziekenhuis@medmij", BSN_B, ["48"]) == ("48",)
    assert repository.available("ggd@medmij", BSN_A, ["48"]) == ()
    assert repository.available("ziekenhuis@medmij", "999999999", ["48"]) == ()
    assert repository.available("ziekenhuis@medmij", BSN_A, []) == ()


def _broken(**changes: object) -> Dataset:
    return dataclasses.replace(bgz_dataset(), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        (
            _broken(resources=(*bgz_resources(), resource("Flag", "flag-a"))),
            "Flag/flag-a occurs twice",
        ),
        (_broken(resources=({"id": "x"},)), "no valid resourceType"),
        (_broken(resources=({"resourceType": "Flag", "id": "a b"},)), "no valid id"),
        (_broken(resources=({"resourceType": "Flag", "id": "x" * 65},)), "no valid id"),
        (
            _broken(resources=({"resourceType": "Flag", "id": "x", "value": float("nan")},)),
            "not JSON",
        ),
        (_broken(patients=(PatientRecord("pat-zz", BSN_A),)), "no Patient resource"),
        (_broken(patients=(PatientRecord("pat-a", "12345"),)), "not 9 digits"),
        (
            _broken(patients=(PatientRecord("pat-a", BSN_A), PatientRecord("pat-b", BSN_A))),
            "share the BSN",
        ),
        (_broken(tokens=(QualificationToken("t", "pat-zz"),)), "names no Patient"),
        (_broken(tokens=(QualificationToken("", "pat-a"),)), "empty qualification token"),
        (
            _broken(tokens=(QualificationToken("t", "pat-a"), QualificationToken("t", "pat-b"))),
            "two patients",
        ),
    ],
)
def test_a_dataset_that_cannot_be_served_safely_is_refused(
    repository: Repository, dataset: Dataset, message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        repository.load(dataset)
    assert repository.endpoints() == ()


def test_create_again_on_a_migrated_database(store_url: str) -> None:
    first = Repository.create(store_url)
    first.load(bgz_dataset())
    first.close()
    again = Repository.create(store_url)
    try:
        assert again.endpoints() == (BGZ,)
        assert again.load(bgz_dataset()) is False
        engine = create_engine(store_url)
        try:
            with engine.connect() as connection:
                head = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        finally:
            engine.dispose()
        assert [tuple(row) for row in head] == [("0002",)]
    finally:
        again.close()


def test_an_in_memory_sqlite_store() -> None:
    repository = Repository.create("sqlite://")
    try:
        assert repository.load(bgz_dataset())
        assert match_ids(repository, "Condition") == ["Condition/cond-a1", "Condition/cond-a2"]
    finally:
        repository.close()


def test_several_processes_may_create_the_store_at_once(store_url: str) -> None:
    problems: list[BaseException] = []

    def start() -> None:
        try:
            Repository.create(store_url).close()
        except BaseException as error:  # reported to the main thread
            problems.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not problems
    repository = Repository.create(store_url)
    try:
        assert repository.load(bgz_dataset())
    finally:
        repository.close()
