"""Reading list documents into models: what a node gets out of a published list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from medmij_stack.protocol.lists import (
    RELEASE2_AANBIEDERTYPE,
    RELEASE2_INTERFACEVERSIE,
    Abonneren,
    GegevensdienstNaam,
    ListKind,
    ListValidationError,
    OAuthclient,
    Whitelist,
    parse_gnl,
    parse_list,
    parse_ocl,
    parse_whitelist,
    parse_zal,
)
from medmij_stack.protocol.lists.reader import parse_datetime
from tests.protocol.lists.mutate import apply, set_text, split_text_with_comment
from tests.protocol.lists.test_against_official import OLD_SHAPE_WHITELIST

PLUS_ONE = timezone(timedelta(hours=1))


def test_zal_release3_example(examples: dict[str, bytes]) -> None:
    zal = parse_zal(examples["zal3"])
    assert zal.volgnummer == 9
    assert zal.tijdstempel == datetime(2021, 5, 4, 18, 13, 51, tzinfo=PLUS_ONE)
    assert [za.naam for za in zal.zorgaanbieders] == [
        "umcharderwijk@medmij",
        "radiologencentraalflevoland@medmij",
    ]
    umc = zal.get("umcharderwijk@medmij")
    assert umc is not None
    assert umc.aanbiedertype == "ZA"
    assert [versie.id for versie in umc.interfaceversies] == ["1.4.0"]
    assert umc.gegevensdienst_ids == frozenset({"4", "6"})
    dienst = umc.gegevensdienst("6")
    assert dienst is not None
    assert dienst.authorization_endpoint == "https://78834.umcharderwijk.nl/oauth/authorize"
    assert dienst.token_endpoint == "https://78834.umcharderwijk.nl/oauth/token"
    assert dienst.abonneren == Abonneren(30, "https://78834.umcharderwijk.nl/subscription")
    assert [rol.code for rol in dienst.systeemrollen] == ["MM-1.2-PLB-FHIR", "MM-1.2-PDB-FHIR"]
    assert dienst.systeemrol("MM-1.2-PDB-FHIR") is not None
    assert dienst.systeemrollen[0].resource_endpoint == "https://78834.umcharderwijk.nl/pdfa"


def test_zal_release2_becomes_the_release3_model(examples: dict[str, bytes]) -> None:
    zal = parse_zal(examples["zal2"])
    assert zal.volgnummer == 6
    assert zal.tijdstempel == datetime(2018, 4, 16, 12, 56, 33, tzinfo=UTC)
    for za in zal.zorgaanbieders:
        assert za.aanbiedertype == RELEASE2_AANBIEDERTYPE == "ZA"
        assert [versie.id for versie in za.interfaceversies] == [RELEASE2_INTERFACEVERSIE]
        for dienst in za.interfaceversies[0].gegevensdiensten:
            assert dienst.abonneren is None
            assert dienst.authorization_endpoint is not None
    umc = zal.get("umcharderwijk")
    assert umc is not None
    met_poort = umc.gegevensdienst("6")
    assert met_poort is not None
    assert met_poort.token_endpoint == "https://78834.umcharderwijk.nl:8099/oauth/token"


def test_ocl_example(examples: dict[str, bytes]) -> None:
    ocl = parse_ocl(examples["ocl"])
    assert ocl.volgnummer == 522
    assert ocl.clients == (
        OAuthclient("medmij.deenigeechtepgo.nl", "De Enige Echte PGO"),
        OAuthclient("pgocluster68.personalhealthprovider.net", "Unstealth Health Midden-Nederland"),
    )


def test_gnl_example(examples: dict[str, bytes]) -> None:
    gnl = parse_gnl(examples["gnl"])
    assert gnl.volgnummer == 28800
    assert len(gnl.gegevensdiensten) == 7
    assert gnl.gegevensdiensten[0] == GegevensdienstNaam("1", "Basisgegevens Zorg")
    assert gnl.weergavenaam("7") == "Afspraken"


def test_whitelist_example(examples: dict[str, bytes]) -> None:
    whitelist = parse_whitelist(examples["whitelist"])
    assert whitelist.volgnummer == 28654
    assert "rcf-rso.nl" in whitelist
    assert len(whitelist.hostnames) == 7


def test_both_whitelist_shapes_give_the_same_model() -> None:
    current = OLD_SHAPE_WHITELIST.replace(b"<MedMijNode>", b"<MedMijNode><Hostname>").replace(
        b"</MedMijNode>", b"</Hostname></MedMijNode>"
    )
    old = parse_whitelist(OLD_SHAPE_WHITELIST)
    assert old == parse_whitelist(current)
    assert old == Whitelist(
        datetime(2018, 4, 16, 11, 41, 59, tzinfo=UTC),
        3,
        ("specimen-stelselnode.medmij.nl", "medmij.deenigeechtepgo.nl"),
    )


@pytest.mark.parametrize(
    ("nodes", "problem"),
    [
        pytest.param(
            b"<MedMijNode>Specimen.medmij.nl</MedMijNode>", "not a lowercase", id="uppercase"
        ),
        pytest.param(
            b"<MedMijNode> specimen.medmij.nl </MedMijNode>", "not a lowercase", id="spaces"
        ),
        pytest.param(b"<MedMijNode/>", "not a lowercase", id="empty"),
        pytest.param(
            b"<MedMijNode>a.medmij.nl</MedMijNode><MedMijNode>a.medmij.nl</MedMijNode>",
            "listed twice",
            id="duplicate",
        ),
        pytest.param(
            b"<MedMijNode>a.medmij.nl</MedMijNode>"
            b"<MedMijNode><Hostname>b.medmij.nl</Hostname></MedMijNode>",
            "mixes",
            id="both shapes in one list",
        ),
    ],
)
def test_old_whitelist_shape_rules(nodes: bytes, problem: str) -> None:
    document = OLD_SHAPE_WHITELIST.replace(
        OLD_SHAPE_WHITELIST[
            OLD_SHAPE_WHITELIST.index(b"<MedMijNode>") : OLD_SHAPE_WHITELIST.rindex(
                b"</MedMijNode>"
            )
            + len(b"</MedMijNode>")
        ],
        nodes,
    )
    with pytest.raises(ListValidationError, match=problem) as caught:
        parse_whitelist(document)
    assert caught.value.kind is ListKind.WHITELIST
    assert caught.value.line == 6


DEV_AUTHORIZE = "https://inlog.dva.localhost:8444/oauth/authorize"


def test_development_variant_allows_a_port_in_the_authorization_endpoint(
    examples: dict[str, bytes],
) -> None:
    for key in ("zal3", "zal2"):
        document = apply(examples[key], set_text("AuthorizationEndpointuri", DEV_AUTHORIZE))
        with pytest.raises(ListValidationError, match="AuthorizationEndpointuri"):
            parse_zal(document)
        zal = parse_zal(document, development=True)
        assert parse_list(ListKind.ZAL, document, development=True) == zal
        assert DEV_AUTHORIZE in {
            dienst.authorization_endpoint
            for za in zal.zorgaanbieders
            for versie in za.interfaceversies
            for dienst in versie.gegevensdiensten
        }


@pytest.mark.parametrize(
    "uri",
    [
        "https://inlog.dva.localhost:123456/oauth/authorize",
        "https://inlog.dva.localhost:/oauth/authorize",
        "https://inlog.dva.localhost:8444/oauth/authorize?x=1",
        "https://inlog.dva.localhost:8444/",
    ],
)
def test_development_variant_keeps_the_other_rules(examples: dict[str, bytes], uri: str) -> None:
    document = apply(examples["zal3"], set_text("AuthorizationEndpointuri", uri))
    with pytest.raises(ListValidationError):
        parse_zal(document, development=True)


def test_development_flag_changes_nothing_for_other_lists(examples: dict[str, bytes]) -> None:
    assert parse_list(ListKind.OCL, examples["ocl"], development=True) == parse_ocl(examples["ocl"])


def test_schema_error_names_the_list_and_the_line(examples: dict[str, bytes]) -> None:
    document = apply(examples["gnl"], set_text("Weergavenaam", "AB", 2))
    with pytest.raises(ListValidationError) as caught:
        parse_gnl(document)
    error = caught.value
    line = document.splitlines().index(b"            <Weergavenaam>AB</Weergavenaam>") + 1
    assert error.kind is ListKind.GNL
    assert error.line == line
    assert str(error).startswith(f"Gegevensdienstnamenlijst (line {line}): does not match the XML")
    assert "Weergavenaam" in str(error)
    assert isinstance(error, ValueError)


def test_many_schema_errors_are_summarised(examples: dict[str, bytes]) -> None:
    document = examples["gnl"]
    for index in range(7):
        document = apply(document, set_text("Weergavenaam", "X", index))
    with pytest.raises(ListValidationError, match="and 4 more"):
        parse_gnl(document)


def test_wrong_list_kind_is_named(examples: dict[str, bytes]) -> None:
    with pytest.raises(ListValidationError, match=r"root element is <OAuthclientlist>") as caught:
        parse_list(ListKind.WHITELIST, examples["ocl"])
    assert caught.value.kind is ListKind.WHITELIST


def test_values_split_by_comments_are_read_whole(examples: dict[str, bytes]) -> None:
    document = apply(examples["zal3"], split_text_with_comment("Zorgaanbiedernaam"))
    assert parse_zal(document).zorgaanbieders[0].naam == "umcharderwijk@medmij"


@pytest.mark.parametrize(
    ("text", "volgnummer"), [(" 7 ", 7), ("+7", 7), ("0007", 7), ("9" * 30, int("9" * 30))]
)
def test_volgnummer_lexical_forms(examples: dict[str, bytes], text: str, volgnummer: int) -> None:
    assert parse_ocl(apply(examples["ocl"], set_text("Volgnummer", text))).volgnummer == volgnummer


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2018-04-16T12:56:33Z", datetime(2018, 4, 16, 12, 56, 33, tzinfo=UTC)),
        ("2018-04-16T12:56:33.5", datetime(2018, 4, 16, 12, 56, 33, 500000, tzinfo=UTC)),
        (
            "2018-04-16T12:56:33.123456789-03:30",
            datetime(
                2018, 4, 16, 12, 56, 33, 123456, tzinfo=timezone(-timedelta(hours=3, minutes=30))
            ),
        ),
        ("2018-12-31T24:00:00+01:00", datetime(2019, 1, 1, 0, 0, 0, tzinfo=PLUS_ONE)),
        (" 2021-05-04T18:13:51.0+01:00\n", datetime(2021, 5, 4, 18, 13, 51, tzinfo=PLUS_ONE)),
    ],
)
def test_tijdstempel_forms(text: str, moment: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == moment
    assert parsed.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize("text", ["10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "yesterday"])
def test_tijdstempel_out_of_range(text: str) -> None:
    with pytest.raises(ValueError, match=r"range|xs:dateTime"):
        parse_datetime(text)


def test_tijdstempel_the_model_cannot_hold_is_a_validation_error(
    examples: dict[str, bytes],
) -> None:
    document = apply(examples["ocl"], set_text("Tijdstempel", "12018-04-16T12:56:33Z"))
    with pytest.raises(ListValidationError, match="Tijdstempel") as caught:
        parse_ocl(document)
    assert (
        caught.value.line
        == document.splitlines().index(b"    <Tijdstempel>12018-04-16T12:56:33Z</Tijdstempel>") + 1
    )
