"""Searches the store refuses, with the FHIR issue type and a message that says which
parameter and why (the HTTP layer turns them into a 400 OperationOutcome)."""

from __future__ import annotations

import pytest

from medmij_stack.zorgaanbieder.store import Repository, SearchError

from .data import BGZ, VACCINATIES, bgz_dataset, vaccinatie_dataset
from .helpers import search


@pytest.fixture
def loaded(repository: Repository) -> Repository:
    assert repository.load(bgz_dataset())
    assert repository.load(vaccinatie_dataset())
    return repository


@pytest.mark.parametrize(
    ("path", "code", "mentions"),
    [
        ("Observation?patient=pat-b", "not-supported", ["patient", "access token"]),
        ("Observation?subject=Patient/pat-b", "not-supported", ["subject", "access token"]),
        (
            "Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999911284",
            "not-supported",
            ["identifier"],
        ),
        ("Patient?_id=pat-b", "not-supported", ["_id"]),
        ("Observation?date=2020", "not-supported", ["'date'", "category, code, status"]),
        ("Observation?_count=10", "not-supported", ["_count"]),
        ("Observation?_revinclude=Provenance:target", "not-supported", ["_revinclude"]),
        ("Condition?class=IMP", "not-supported", ["'class'", "Condition"]),
        ("Observation?code:text=gewicht", "not-supported", ["code:text", "modifier"]),
        ("Observation?code=", "invalid", ["'code'", "no value"]),
        ("Observation?code=a,,b", "invalid", ["empty value"]),
        ("Observation?code=|", "invalid", ["system or a code"]),
        ("Observation?max=2", "not-supported", ["'max'"]),
        ("Observation/$lastn?max=0", "invalid", ["max", "1-"]),
        ("Observation/$lastn?max=two", "invalid", ["max"]),
        ("Observation/$lastn?max=1&max=2", "invalid", ["max", "once"]),
        ("Condition/$lastn", "not-supported", ["$lastn", "Observation"]),
        ("Bogus", "not-supported", ["'Bogus'"]),
        ("Observation?_include=Observation:bogus", "not-supported", ["Observation:bogus"]),
        ("Observation?_include=*", "not-supported", ["'*'"]),
        ("Observation?_include=Patient:general-practitioner", "invalid", ["searched type"]),
        ("Coverage?_include=Coverage:payor:Practitioner", "invalid", ["Practitioner"]),
        # Immunization:performer is R4; the STU3 parameter is Immunization:practitioner.
        ("Immunization?_include=Immunization:performer", "not-supported", ["performer"]),
    ],
)
def test_refused(loaded: Repository, path: str, code: str, mentions: list[str]) -> None:
    with pytest.raises(SearchError) as caught:
        search(loaded, path)
    assert caught.value.code == code
    for text in mentions:
        assert text in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_r4_has_no_related_target(loaded: Repository) -> None:
    with pytest.raises(SearchError, match="Observation:related-target") as caught:
        search(loaded, "Observation?_include=Observation:related-target", "pat-r", VACCINATIES)
    assert caught.value.code == "not-supported"


def test_a_refused_search_never_reaches_another_patient(loaded: Repository) -> None:
    # Even if a client tries: the refusal is the whole answer.
    with pytest.raises(SearchError):
        search(loaded, "Observation?patient=pat-b&code=29463-7")
    assert BGZ in loaded.endpoints()
