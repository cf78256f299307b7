"""The rules behind the HTTP answers, one by one: negotiation, refusals, the statement."""

from __future__ import annotations

from datetime import date

import pytest

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirFormat, FhirVersion
from medmij_stack.protocol.persons import elfproef
from medmij_stack.zorgaanbieder.capability import capabilities_for, capability_statement
from medmij_stack.zorgaanbieder.errors import (
    InvalidToken,
    NotAcceptable,
    UnsupportedVersion,
    redact_bsn,
    www_authenticate,
)
from medmij_stack.zorgaanbieder.negotiation import content_type, negotiate
from medmij_stack.zorgaanbieder.store.searchparams import INCLUDES, TOKEN_PARAMS


@pytest.mark.parametrize(
    ("accept", "version", "expected"),
    [
        (None, FhirVersion.STU3, FhirFormat.JSON),
        ("", FhirVersion.STU3, FhirFormat.JSON),
        ("*/*", FhirVersion.R4, FhirFormat.JSON),
        (
            "application/fhir+xml;q=0.5, application/fhir+json;q=0.9",
            FhirVersion.STU3,
            FhirFormat.JSON,
        ),
        ("application/fhir+json;q=0, application/fhir+xml", FhirVersion.STU3, FhirFormat.XML),
        ("text/xml", FhirVersion.STU3, FhirFormat.XML),
        ("application/fhir+xml; fhirVersion=3.0.2", FhirVersion.STU3, FhirFormat.XML),
        ('application/fhir+json; fhirVersion="4.0"', FhirVersion.R4, FhirFormat.JSON),
        ("text/html,application/xhtml+xml", FhirVersion.STU3, FhirFormat.JSON),
        (
            "application/fhir+json; q=zeer",
            FhirVersion.STU3,
            FhirFormat.JSON,
        ),  # unreadable q: skipped, default
        ("APPLICATION/FHIR+XML", FhirVersion.R4, FhirFormat.XML),
    ],
)
def test_accept_chooses_the_format(
    accept: str | None, version: FhirVersion, expected: FhirFormat
) -> None:
    assert negotiate(accept, None, version) is expected


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        ("application/fhir+json; fhirVersion=4.0", FhirVersion.STU3),
        ("application/fhir+json; fhirVersion=3.0", FhirVersion.R4),
        ("application/fhir+json; fhirVersion=3", FhirVersion.STU3),
        ("application/fhir+json; fhirVersion=4.01", FhirVersion.R4),
        ("*/*; fhirVersion=1.0", FhirVersion.STU3),
    ],
)
def test_only_other_fhir_versions_is_unsupported(accept: str, version: FhirVersion) -> None:
    with pytest.raises(UnsupportedVersion, match="Requested FHIR version not supported"):
        negotiate(accept, None, version)


def test_format_parameter_wins_and_is_strict() -> None:
    assert negotiate("application/fhir+xml", "json", FhirVersion.STU3) is FhirFormat.JSON
    assert negotiate(None, "application/fhir+xml", FhirVersion.R4) is FhirFormat.XML
    assert (
        negotiate(None, "application/fhir+json; fhirVersion=4.0", FhirVersion.R4) is FhirFormat.JSON
    )
    with pytest.raises(UnsupportedVersion):
        negotiate(None, "application/fhir+json; fhirVersion=4.0", FhirVersion.STU3)
    with pytest.raises(NotAcceptable):
        negotiate(None, "ttl", FhirVersion.STU3)
    with pytest.raises(NotAcceptable):
        negotiate(None, "", FhirVersion.STU3)


def test_content_type_names_the_version() -> None:
    assert content_type(FhirFormat.XML, FhirVersion.R4) == "application/fhir+xml; fhirVersion=4.0"


def test_www_authenticate_is_rfc_6750() -> None:
    assert www_authenticate(None) == "Bearer"
    assert www_authenticate("invalid_token", 'bad "token" \\ ë') == (
        'Bearer error="invalid_token", error_description="bad ?token? ? ?"'
    )
    assert InvalidToken("weg").headers() == {
        "WWW-Authenticate": 'Bearer error="invalid_token", error_description="weg"'
    }


def test_anything_that_could_be_a_bsn_is_masked_in_diagnostics() -> None:
    bsn = "999911120"
    assert elfproef(bsn)
    not_a_bsn = "118228005"  # a SNOMED code of the BgZ queries
    assert not elfproef(not_a_bsn)
    text = f"identifier {bsn} code {not_a_bsn} long 1{bsn} id abc{bsn}"
    assert redact_bsn(text) == (
        f"identifier ********* code {not_a_bsn} long 1{bsn} id abc*********"
    )
    assert bsn not in InvalidToken(f"token for {bsn}").diagnostics


@pytest.mark.parametrize("gegevensdienst", ["48", "63"])
def test_the_capability_statement_lists_every_query_the_gegevensdienst_makes(
    gegevensdienst: str,
) -> None:
    dienst = catalogue.get(gegevensdienst)
    capabilities = capabilities_for(dienst)
    statement = capability_statement(
        capabilities,
        dienst=dienst,
        zorgaanbieder="ziekenhuis@medmij",
        base="https://fhir.za.localhost/ziekenhuis/48/fhir",
        published=date(2026, 11, 23),
    )
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for query in dienst.queries:
        listed = resources[query.resource_type]
        params = {p["name"] for p in listed.get("searchParam", [])}
        includes = set(listed.get("searchInclude", []))
        for name, value in query.params:
            assert (value in includes) if name == "_include" else (name in params), query.path
        for included in query.includes:
            assert {"code": "read"} in resources[included]["interaction"]
    for resource_type in dienst.reads:
        assert {"code": "read"} in resources[resource_type]["interaction"]
    # What the store can do on these types is stated too, and nothing it cannot.
    version = capabilities.fhir_version
    for resource_type, listed in resources.items():
        for param in listed.get("searchParam", []):
            assert param["name"] in TOKEN_PARAMS[version][resource_type]
            assert param["type"] == "token"
        for include in listed.get("searchInclude", []):
            source, name, *_ = include.split(":")
            assert f"{source}:{name}" in INCLUDES[version]


def test_lastn_is_stated_where_each_release_puts_operations() -> None:
    bgz = capability_statement(
        capabilities_for(catalogue.get("48")),
        dienst=catalogue.get("48"),
        zorgaanbieder="ziekenhuis@medmij",
        base="https://x/ziekenhuis/48/fhir",
        published=date(2026, 11, 23),
    )
    assert bgz["fhirVersion"] == "3.0.2"
    assert [o["name"] for o in bgz["rest"][0]["operation"]] == ["lastn"]
    assert capabilities_for(catalogue.get("48")).lastn == {"Observation"}
    assert capabilities_for(catalogue.get("63")).lastn == frozenset()


def test_a_gegevensdienst_without_a_fhir_version_cannot_be_served() -> None:
    with pytest.raises(ValueError, match="FHIR version"):
        capabilities_for(catalogue.get("55"))
