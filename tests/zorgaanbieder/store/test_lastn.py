"""Observation/$lastn: the filters first, then per Observation code the latest by
effective time (docs/qualification.md#bgz-searches, tests 05, 07, 19-22)."""

from __future__ import annotations

import pytest

from medmij_stack.zorgaanbieder.store import Repository

from .data import LOINC, SNOMED, bgz_dataset, bgz_resources, observation
from .helpers import match_ids


@pytest.fixture
def bgz(repository: Repository) -> Repository:
    assert repository.load(bgz_dataset())
    return repository


def test_only_the_latest_of_one_code(bgz: Repository) -> None:
    # 2020-06-01T10:00+02:00 beats the period starting 2020-03 and the date 2019-01-01.
    assert match_ids(bgz, f"Observation/$lastn?code={LOINC}|29463-7") == ["Observation/weight-new"]


def test_max_gives_the_latest_n_per_code_in_dataset_order(bgz: Repository) -> None:
    assert match_ids(bgz, f"Observation/$lastn?code={LOINC}|29463-7&max=2") == [
        "Observation/weight-new",
        "Observation/weight-mid",
    ]
    assert match_ids(bgz, f"Observation/$lastn?code={LOINC}|29463-7&max=10") == [
        "Observation/weight-old",
        "Observation/weight-new",
        "Observation/weight-mid",
    ]


def test_one_per_code_when_the_filter_finds_several_codes(bgz: Repository) -> None:
    assert match_ids(bgz, f"Observation/$lastn?category={SNOMED}|275711006") == [
        "Observation/lab-chloride",
        "Observation/lab-part",
    ]


def test_the_code_is_the_set_of_codings(bgz: Repository) -> None:
    # `height` has two LOINC codings: asking for either, or both, finds it once.
    assert match_ids(
        bgz, f"Observation/$lastn?code={LOINC}|8302-2,{LOINC}|8306-3,{LOINC}|8308-9"
    ) == ["Observation/height"]


def test_without_filters_one_per_code_of_all_the_patients_observations(bgz: Repository) -> None:
    assert match_ids(bgz, "Observation/$lastn") == [
        "Observation/weight-new",
        "Observation/height",
        "Observation/lab-chloride",
        "Observation/lab-part",
        "Observation/living",
        "Observation/free-text",
        "Observation/no-system",
    ]


def test_another_patients_later_observation_never_wins(bgz: Repository) -> None:
    # pat-b weighed in 2024, later than any of pat-a's.
    assert match_ids(bgz, f"Observation/$lastn?code={LOINC}|29463-7") == ["Observation/weight-new"]
    assert match_ids(bgz, f"Observation/$lastn?code={LOINC}|29463-7", patient="pat-b") == [
        "Observation/b-weight"
    ]


def test_time_zones_count_and_undated_loses_and_ties_go_to_the_first(
    repository: Repository,
) -> None:
    code = (LOINC, "85354-9")
    resources = [
        *(r for r in bgz_resources() if r["resourceType"] != "Observation"),
        observation("undated", "pat-a", code),
        # 01:00+02:00 is 23:00 UTC the day before: earlier than 23:30Z.
        observation("early-by-zone", "pat-a", code, effectiveDateTime="2020-06-01T01:00:00+02:00"),
        observation("late-utc", "pat-a", code, effectiveDateTime="2020-05-31T23:30:00Z"),
        observation("tie-first", "pat-a", code, issued="2021-01-01T00:00:00Z"),
        observation("tie-second", "pat-a", code, effectiveDateTime="2021-01-01T01:00:00+01:00"),
    ]
    assert repository.load(bgz_dataset(resources=resources))
    assert match_ids(repository, "Observation/$lastn?code=85354-9") == ["Observation/tie-first"]
    assert match_ids(repository, "Observation/$lastn?code=85354-9&max=3") == [
        "Observation/late-utc",
        "Observation/tie-first",
        "Observation/tie-second",
    ]
    assert match_ids(repository, "Observation/$lastn?code=85354-9&max=5") == [
        "Observation/undated",
        "Observation/early-by-zone",
        "Observation/late-utc",
        "Observation/tie-first",
        "Observation/tie-second",
    ]


def test_lastn_includes_what_the_winners_reference(bgz: Repository) -> None:
    from .helpers import ids, search

    result = search(
        bgz,
        f"Observation/$lastn?category={SNOMED}|275711006"
        "&_include=Observation:related-target&_include=Observation:specimen",
    )
    assert ids(result.matches) == ["Observation/lab-chloride", "Observation/lab-part"]
    # lab-part is related-target of lab-chloride but already a match: not repeated.
    assert ids(result.includes) == ["Specimen/spec-a"]
