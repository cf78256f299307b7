"""A search read once (`store.plan_search`): what it refuses, with the FHIR issue type and a
message that says which parameter and why (the HTTP layer answers it with a 400
OperationOutcome), what a plan holds, and what lenient handling leaves out."""

from __future__ import annotations

import dataclasses

import pytest

from medmij_stack.protocol.fhir import FhirFormat, FhirVersion
from medmij_stack.zorgaanbieder.store import SearchError, plan_search
from medmij_stack.zorgaanbieder.store.search import TokenAlternative, TokenFilter

from .helpers import plan, query

REFUSED = [
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
]


@pytest.mark.parametrize(("path", "code", "mentions"), REFUSED)
def test_refused(path: str, code: str, mentions: list[str]) -> None:
    with pytest.raises(SearchError) as caught:
        plan(path)
    assert caught.value.code == code
    for text in mentions:
        assert text in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_r4_has_no_related_target() -> None:
    with pytest.raises(SearchError, match="Observation:related-target") as caught:
        plan("Observation?_include=Observation:related-target", FhirVersion.R4)
    assert caught.value.code == "not-supported"


def test_a_plan_holds_everything_the_answer_depends_on() -> None:
    lab = plan(
        "Observation/$lastn?category=http://snomed.info/sct|275711006"
        "&_include=Observation:related-target&_include=Observation:specimen&max=3"
    )
    assert (lab.fhir_version, lab.resource_type, lab.path) == (
        FhirVersion.STU3,
        "Observation",
        "Observation/$lastn",
    )
    assert lab.lastn_max == 3
    assert lab.filters == (
        TokenFilter("category", (TokenAlternative("http://snomed.info/sct", "275711006"),)),
    )
    assert [(i.spec.name, i.target_type) for i in lab.includes] == [
        ("Observation:related-target", None),
        ("Observation:specimen", None),
    ]
    assert (lab.fmt, lab.ignored) == (FhirFormat.JSON, ())
    plain = plan("Condition")
    assert (plain.path, plain.lastn_max, plain.filters, plain.includes) == (
        "Condition",
        None,
        (),
        (),
    )
    assert plan("Observation/$lastn").lastn_max == 1  # $lastn without max: the latest one


def test_token_syntax_is_read_into_alternatives() -> None:
    [code, status] = plan(r"Observation?code=a|1,|2,b|,3,x\,y&status=final").filters
    assert code == TokenFilter(
        "code",
        (
            TokenAlternative("a", "1"),
            TokenAlternative("", "2"),  # |code: no system
            TokenAlternative("b", None),  # system|: any code
            TokenAlternative(None, "3"),  # code: any system
            TokenAlternative(None, "x,y"),  # an escaped comma is part of the code
        ),
    )
    assert status == TokenFilter("status", (TokenAlternative(None, "final"),))
    # A repeated parameter is AND: two filters.
    assert len(plan("Observation?code=a&code=b").filters) == 2
    typed = plan("Coverage?_include=Coverage:payor:Patient").includes
    assert [(i.spec.name, i.target_type) for i in typed] == [("Coverage:payor", "Patient")]


@pytest.mark.parametrize(
    ("path", "left_out"),
    [
        ("Observation?_count=10&code=http://loinc.org|29463-7&_summary=count", 2),
        ("Observation?date=2020&code:text=gewicht&_revinclude=Provenance:target", 3),
        ("Observation?max=2", 1),
        ("Patient?_include=Patient:organization&_include=Patient:general-practitioner", 1),
        ("Immunization?_include=Immunization:performer&status=completed", 1),
        ("Observation?_include=*", 1),
    ],
)
def test_lenient_handling_leaves_out_exactly_what_strict_refuses_as_unsupported(
    path: str, left_out: int
) -> None:
    with pytest.raises(SearchError) as caught:
        plan(path)
    assert caught.value.code == "not-supported"
    lenient = plan(path, lenient=True)
    assert len(lenient.ignored) == left_out
    # What is left is the strict plan of the query without those parameters.
    resource, _, query_string = path.partition("?")
    kept = "&".join(f"{n}={v}" for n, v in query(query_string) if (n, v) not in lenient.ignored)
    assert dataclasses.replace(lenient, ignored=()) == plan(f"{resource}?{kept}")


@pytest.mark.parametrize(
    "path",
    [
        "Observation?patient=pat-b",
        "Observation?subject:Patient=pat-b&code=x",
        "Observation?code=",
        "Observation/$lastn?max=0",
        "Observation?_include=Patient:general-practitioner",
        "Coverage?_include=Coverage:payor:Practitioner",
        "Bogus",
    ],
)
def test_lenient_handling_still_refuses_patient_parameters_and_invalid_values(path: str) -> None:
    with pytest.raises(SearchError):
        plan(path, lenient=True)


def test_the_plan_is_checked_against_its_own_fhir_version() -> None:
    # ProcedureRequest is STU3, ServiceRequest R4: each version knows only its own.
    assert plan("ProcedureRequest?status=active").resource_type == "ProcedureRequest"
    with pytest.raises(SearchError, match="'ProcedureRequest' is not served"):
        plan_search(
            FhirVersion.R4,
            "ProcedureRequest",
            (("status", "active"),),
            lastn=False,
            fmt=FhirFormat.XML,
            lenient=False,
        )
    r4 = plan("ServiceRequest?status=active", FhirVersion.R4)
    assert (r4.fhir_version, r4.filters[0].param) == (FhirVersion.R4, "status")
