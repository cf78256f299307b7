"""Mutations of the published example lists, with the verdict a schema must give.

The verdicts are those of MedMij's published schemas (checked in
test_against_official.py); our schemas must give the same ones. The ZAL cases use
only elements that release2 and release3 share, so they apply to both examples.
"""

from __future__ import annotations

import pytest

from tests.protocol.lists.mutate import (
    add_after,
    compose,
    copy_text,
    duplicate,
    empty,
    namespace,
    remove,
    remove_all,
    set_attribute,
    set_text,
    split_text_with_comment,
    swap_with_next,
    unchanged,
)

WRONG_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/lijst/release9/"

HEADER = [
    pytest.param(unchanged(), True, id="unchanged"),
    pytest.param(remove("Volgnummer"), False, id="Volgnummer missing"),
    pytest.param(set_text("Volgnummer", "0"), False, id="Volgnummer 0"),
    pytest.param(set_text("Volgnummer", "-3"), False, id="Volgnummer negative"),
    pytest.param(set_text("Volgnummer", "zes"), False, id="Volgnummer not a number"),
    pytest.param(set_text("Volgnummer", "7.0"), False, id="Volgnummer decimal"),
    pytest.param(set_text("Volgnummer", " 7 "), True, id="Volgnummer with spaces"),
    pytest.param(set_text("Volgnummer", "+7"), True, id="Volgnummer with plus sign"),
    pytest.param(set_text("Volgnummer", "0007"), True, id="Volgnummer with leading zeros"),
    pytest.param(set_text("Volgnummer", "9" * 30), True, id="Volgnummer of 30 digits"),
    pytest.param(duplicate("Volgnummer"), False, id="Volgnummer twice"),
    pytest.param(set_attribute("Volgnummer", "bron", "x"), False, id="unknown attribute"),
    pytest.param(remove("Tijdstempel"), False, id="Tijdstempel missing"),
    pytest.param(set_text("Tijdstempel", "2018-04-16T12:56:33"), False, id="Tijdstempel no zone"),
    pytest.param(
        set_text("Tijdstempel", "2018-04-16T12:56:33.5"),
        True,
        id="Tijdstempel no zone but 21 characters",
    ),
    pytest.param(set_text("Tijdstempel", "2018-04-16T12:56Z"), False, id="Tijdstempel no seconds"),
    pytest.param(set_text("Tijdstempel", "2018-04-16"), False, id="Tijdstempel date only"),
    pytest.param(set_text("Tijdstempel", "2018-04-16 12:56:33Z"), False, id="Tijdstempel no T"),
    pytest.param(set_text("Tijdstempel", "2018-02-30T12:00:00Z"), False, id="Tijdstempel 30 Feb"),
    pytest.param(
        set_text("Tijdstempel", "2018-04-16T12:56:33-03:30"), True, id="Tijdstempel -03:30"
    ),
    pytest.param(
        set_text("Tijdstempel", "2018-04-16T12:56:33.123456789Z"),
        True,
        id="Tijdstempel nanoseconds",
    ),
    pytest.param(
        set_text("Tijdstempel", " 2018-04-16T12:56:33Z\n"), True, id="Tijdstempel with spaces"
    ),
    pytest.param(swap_with_next("Tijdstempel"), False, id="header out of order"),
    pytest.param(add_after("Volgnummer", "Uitgever", "MedMij"), False, id="unknown element"),
    pytest.param(namespace(WRONG_NAMESPACE), False, id="wrong namespace"),
    pytest.param(namespace(None), False, id="no namespace"),
]

ZAL_COMMON = [
    *HEADER,
    pytest.param(copy_text("Zorgaanbiedernaam", 0, 1), False, id="duplicate Zorgaanbiedernaam"),
    pytest.param(
        set_text("Zorgaanbiedernaam", "umc2harderwijk@medmij"), False, id="naam with digits"
    ),
    pytest.param(set_text("Zorgaanbiedernaam", "UMCharderwijk@medmij"), False, id="naam uppercase"),
    pytest.param(set_text("Zorgaanbiedernaam", "umc-harderwijk@medmij"), False, id="naam hyphen"),
    pytest.param(set_text("Zorgaanbiedernaam", "umcharderwijk"), False, id="naam without @medmij"),
    pytest.param(set_text("Zorgaanbiedernaam", "umc@medmij.nl"), False, id="naam other domain"),
    pytest.param(
        set_text("Zorgaanbiedernaam", " umcharderwijk@medmij"), False, id="naam leading space"
    ),
    pytest.param(set_text("Zorgaanbiedernaam", "ab@medmij"), False, id="naam of 9 characters"),
    pytest.param(set_text("Zorgaanbiedernaam", "abc@medmij"), True, id="naam of 10 characters"),
    pytest.param(
        set_text("Zorgaanbiedernaam", "a" * 50 + "@medmij"), True, id="naam of 57 characters"
    ),
    pytest.param(
        set_text("Zorgaanbiedernaam", "a" * 51 + "@medmij"), False, id="naam of 58 characters"
    ),
    pytest.param(split_text_with_comment("Zorgaanbiedernaam"), True, id="comment inside naam"),
    pytest.param(remove_all("Zorgaanbieder"), True, id="no Zorgaanbieders"),
    pytest.param(remove("Zorgaanbieders"), False, id="Zorgaanbieders missing"),
    pytest.param(
        copy_text("GegevensdienstId", 0, 1), False, id="duplicate GegevensdienstId in one list"
    ),
    pytest.param(
        set_text("GegevensdienstId", "4", 2), True, id="same GegevensdienstId at two providers"
    ),
    pytest.param(set_text("GegevensdienstId", ""), False, id="GegevensdienstId empty"),
    pytest.param(set_text("GegevensdienstId", "9" * 30), True, id="GegevensdienstId of 30"),
    pytest.param(set_text("GegevensdienstId", "9" * 31), False, id="GegevensdienstId of 31"),
    pytest.param(empty("Gegevensdiensten"), False, id="no Gegevensdiensten"),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://MedMij.za982.xisbridge.net/oauth/authorize"),
        False,
        id="authorize uppercase host",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.za982.xisbridge.net/authorize?a=b"),
        False,
        id="authorize with query",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.za982.xisbridge.net/authorize#top"),
        False,
        id="authorize with fragment",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.za982.xisbridge.net/authorize/"),
        False,
        id="authorize with trailing slash",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.za982.xisbridge.net/"),
        False,
        id="authorize root slash",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.za982.xisbridge.net"),
        True,
        id="authorize host only",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.za982.xisbridge.net:443/authorize"),
        False,
        id="authorize with port",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "http://medmij.za982.xisbridge.net/authorize"),
        False,
        id="authorize over http",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://localhost/authorize"),
        False,
        id="authorize single-label host",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://127.0.0.1/authorize"),
        True,
        id="authorize IPv4 host",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://a.b/authorize"),
        True,
        id="authorize one-letter top label",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij-.nl/authorize"),
        True,
        id="authorize label ending in hyphen",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://user@medmij.nl/authorize"),
        False,
        id="authorize with userinfo",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.nl/o auth/Authorize"),
        True,
        id="authorize path with space and capitals",
    ),
    pytest.param(
        set_text("AuthorizationEndpointuri", "https://medmij.nl//authorize"),
        False,
        id="authorize empty path segment",
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://medmij.xisbridge.net:8099/oauth/token"),
        True,
        id="token with port",
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://medmij.xisbridge.net:123456/oauth/token"),
        False,
        id="token with six-digit port",
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://medmij.xisbridge.net:/oauth/token"),
        False,
        id="token with empty port",
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://medmij.xisbridge.net/oauth/token?x=1"),
        False,
        id="token with query",
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://a.b/token"), False, id="token one-letter top label"
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://127.0.0.1/token"), False, id="token 127.0.0.1"
    ),
    pytest.param(
        set_text("TokenEndpointuri", "https://10.0.0.10/token"), True, id="token 10.0.0.10"
    ),
    pytest.param(set_text("TokenEndpointuri", ""), False, id="token empty"),
    pytest.param(
        set_text("ResourceEndpointuri", "https://fhir.umcharderwijk.nl:9100/fhir"),
        True,
        id="resource with port",
    ),
    pytest.param(
        set_text("ResourceEndpointuri", "https://fhir.umcharderwijk.nl/fhir?_format=json"),
        False,
        id="resource with query",
    ),
    pytest.param(
        set_text("ResourceEndpointuri", "https://fhir.umcharderwijk.nl/fhir/"),
        False,
        id="resource with trailing slash",
    ),
    pytest.param(remove("ResourceEndpoint"), False, id="ResourceEndpoint missing"),
    pytest.param(copy_text("Systeemrolcode", 1, 2), False, id="duplicate Systeemrolcode"),
    pytest.param(duplicate("Systeemrol"), False, id="Systeemrol twice"),
    pytest.param(set_text("Systeemrolcode", "X" * 30), True, id="Systeemrolcode of 30"),
    pytest.param(set_text("Systeemrolcode", "X" * 31), False, id="Systeemrolcode of 31"),
    pytest.param(set_text("Systeemrolcode", ""), False, id="Systeemrolcode empty"),
    pytest.param(empty("Systeemrollen"), False, id="no Systeemrollen"),
]

ZAL_RELEASE2_ONLY = [
    pytest.param(remove("AuthorizationEndpoint"), False, id="AuthorizationEndpoint missing"),
    pytest.param(remove("TokenEndpoint"), False, id="TokenEndpoint missing"),
    pytest.param(
        add_after("Zorgaanbiedernaam", "Aanbiedertype", "ZA"), False, id="release3 element"
    ),
]

OCL = [
    *HEADER,
    pytest.param(set_text("Hostname", "Medmij.deenigeechtepgo.nl"), False, id="uppercase"),
    pytest.param(copy_text("Hostname", 0, 1), False, id="duplicate hostname"),
    pytest.param(set_text("Hostname", "medmij.deenigeechtepgo.nl."), False, id="trailing dot"),
    pytest.param(set_text("Hostname", "localhost"), False, id="single label"),
    pytest.param(set_text("Hostname", "pgo_1.example.nl"), False, id="underscore"),
    pytest.param(set_text("Hostname", "pgo.example.nl:443"), False, id="with port"),
    pytest.param(set_text("Hostname", "-pgo.example.nl"), False, id="leading hyphen"),
    pytest.param(set_text("Hostname", " pgo.example.nl"), False, id="leading space"),
    pytest.param(set_text("Hostname", "https://pgo.example.nl"), False, id="URL not host"),
    pytest.param(set_text("Hostname", "xn--bcher-kva.example.nl"), True, id="punycode"),
    pytest.param(set_text("Hostname", "a.bc"), True, id="shortest host"),
    pytest.param(set_text("Hostname", "a.b"), False, id="one-letter top label"),
    pytest.param(set_text("OAuthclientOrganisatienaam", "AB"), False, id="naam of 2"),
    pytest.param(set_text("OAuthclientOrganisatienaam", "ABC"), True, id="naam of 3"),
    pytest.param(set_text("OAuthclientOrganisatienaam", "   "), True, id="naam of 3 spaces"),
    pytest.param(set_text("OAuthclientOrganisatienaam", "É" * 50), True, id="naam of 50"),
    pytest.param(set_text("OAuthclientOrganisatienaam", "É" * 51), False, id="naam of 51"),
    pytest.param(remove("OAuthclientOrganisatienaam"), False, id="naam missing"),
    pytest.param(swap_with_next("Hostname"), False, id="client out of order"),
    pytest.param(remove_all("OAuthclient"), True, id="no clients"),
    pytest.param(remove("OAuthclients"), False, id="OAuthclients missing"),
]

GNL = [
    *HEADER,
    pytest.param(set_text("Weergavenaam", "AB"), False, id="Weergavenaam of 2"),
    pytest.param(set_text("Weergavenaam", "ABC"), True, id="Weergavenaam of 3"),
    pytest.param(set_text("Weergavenaam", "é" * 50), True, id="Weergavenaam of 50"),
    pytest.param(set_text("Weergavenaam", "é" * 51), False, id="Weergavenaam of 51"),
    pytest.param(remove("Weergavenaam"), False, id="Weergavenaam missing"),
    pytest.param(set_text("GegevensdienstId", ""), False, id="GegevensdienstId empty"),
    pytest.param(set_text("GegevensdienstId", "9" * 30), True, id="GegevensdienstId of 30"),
    pytest.param(set_text("GegevensdienstId", "9" * 31), False, id="GegevensdienstId of 31"),
    pytest.param(copy_text("GegevensdienstId", 0, 1), False, id="duplicate GegevensdienstId"),
    pytest.param(swap_with_next("GegevensdienstId"), False, id="dienst out of order"),
    pytest.param(remove_all("Gegevensdienst"), True, id="no Gegevensdiensten"),
    pytest.param(remove("Gegevensdiensten"), False, id="Gegevensdiensten missing"),
]

WHITELIST = [
    *HEADER,
    pytest.param(set_text("Hostname", "Medmij.deenigeechtepgo.nl"), False, id="uppercase"),
    pytest.param(copy_text("Hostname", 0, 1), False, id="duplicate hostname"),
    pytest.param(set_text("Hostname", "rcf-rso.nl."), False, id="trailing dot"),
    pytest.param(set_text("Hostname", "rcf-rso.nl "), False, id="trailing space"),
    pytest.param(set_text("Hostname", "localhost"), False, id="single label"),
    pytest.param(set_text("Hostname", "a.bc"), True, id="shortest host"),
    pytest.param(empty("MedMijNode"), False, id="empty MedMijNode"),
    pytest.param(set_text("MedMijNode", "\n  "), True, id="whitespace beside Hostname"),
    pytest.param(
        compose(empty("MedMijNode"), set_text("MedMijNode", " ")), False, id="blank MedMijNode"
    ),
    pytest.param(set_text("MedMijNode", "extra"), False, id="text beside Hostname"),
    pytest.param(duplicate("Hostname"), False, id="two Hostnames in one node"),
    pytest.param(add_after("Hostname", "Poort", "443"), False, id="unknown element in node"),
    pytest.param(split_text_with_comment("Hostname"), True, id="comment inside Hostname"),
    pytest.param(remove_all("MedMijNode"), True, id="no nodes"),
    pytest.param(remove("MedMijNodes"), False, id="MedMijNodes missing"),
]
