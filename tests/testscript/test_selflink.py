"""The self-link rule, ported from Nictiz's assert_response_queryParamsInSelfLink.groovy."""

from __future__ import annotations

from typing import Any

from medmij_stack.testscript.selflink import check_query_params_in_self_link


def bundle(self_link: str | None) -> dict[str, Any]:
    links = [] if self_link is None else [{"relation": "self", "url": self_link}]
    return {"resourceType": "Bundle", "type": "searchset", "link": links}


def test_every_parameter_echoed_passes_whether_encoded_or_not() -> None:
    request = (
        "https://xis/fhir/Observation/$lastn?code=http://loinc.org%7C8302-2%2Chttp://loinc.org"
        "%7C8306-3&_include=Observation:specimen"
    )
    echoed = (
        "https://xis/fhir/Observation/$lastn?_include=Observation:specimen&code=http://loinc.org"
        "|8302-2,http://loinc.org|8306-3"
    )
    assert check_query_params_in_self_link(request, bundle(echoed)).ok


def test_a_dropped_parameter_fails_with_the_groovy_message() -> None:
    request = "https://xis/fhir/Immunization?_include=Immunization:patient&status=completed"
    verdict = check_query_params_in_self_link(
        request, bundle("https://xis/fhir/Immunization?status=completed")
    )
    assert not verdict.ok
    assert verdict.message == (
        "The requested parameter _include=Immunization:patient was absent from the self link"
    )
    both = check_query_params_in_self_link(request, bundle("https://xis/fhir/Immunization"))
    assert both.missing == ("_include=Immunization:patient", "status=completed")


def test_references_may_gain_or_lose_their_type() -> None:
    with_type = check_query_params_in_self_link(
        "https://xis/fhir/Condition?subject=123",
        bundle("https://xis/fhir/Condition?subject=Patient/123"),
    )
    without_type = check_query_params_in_self_link(
        "https://xis/fhir/Condition?subject=Patient/123",
        bundle("https://xis/fhir/Condition?subject=123"),
    )
    other_id = check_query_params_in_self_link(
        "https://xis/fhir/Condition?subject=123",
        bundle("https://xis/fhir/Condition?subject=Patient/456"),
    )
    assert with_type.ok
    assert without_type.ok
    assert not other_id.ok


def test_no_query_passes_and_no_self_link_fails() -> None:
    assert check_query_params_in_self_link("https://xis/fhir/Condition", bundle(None)).ok
    verdict = check_query_params_in_self_link("https://xis/fhir/Condition?x=1", bundle(None))
    assert not verdict.ok
    assert "no Bundle self link" in verdict.message
    not_a_bundle = check_query_params_in_self_link(
        "https://xis/fhir/Condition?x=1", {"resourceType": "OperationOutcome"}
    )
    assert not not_a_bundle.ok
