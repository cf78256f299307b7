"""Writing lists: the file rules, validity against our and MedMij's schemas, round trips."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from medmij_stack.protocol.lists import (
    Abonneren,
    Gegevensdienstnamenlijst,
    ListKind,
    ListValidationError,
    MedMijList,
    OAuthclient,
    OAuthclientlist,
    Whitelist,
    Zorgaanbiederslijst,
    format_tijdstempel,
    load_schema,
    parse_list,
    parse_whitelist,
    parse_zal,
    write_gnl,
    write_list,
    write_ocl,
    write_whitelist,
    write_zal,
)
from tests.protocol.lists import samples
from tests.protocol.lists.conftest import Official

KIND = {
    Zorgaanbiederslijst: ListKind.ZAL,
    OAuthclientlist: ListKind.OCL,
    Gegevensdienstnamenlijst: ListKind.GNL,
    Whitelist: ListKind.WHITELIST,
}


def kind_of(lst: MedMijList) -> ListKind:
    return KIND[type(lst)]


@pytest.mark.parametrize("lst", samples.every_sample(), ids=lambda lst: type(lst).__name__)
def test_file_rules(lst: MedMijList) -> None:
    document = write_list(lst)
    lines = document.decode("utf-8").splitlines()
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>'
    root = etree.fromstring(document)
    assert root.prefix is None
    assert root.nsmap == {None: kind_of(lst).namespace}
    assert b"ns0:" not in document
    # Pretty-printed: one element per line, indented by depth.
    assert lines[1].startswith("<")
    assert lines[2].startswith("    <Tijdstempel>")
    assert lines[-1] == f"</{kind_of(lst).root}>"
    assert document.endswith(b">\n")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "2026-03-01T09:30:00Z"),
        (
            datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
            "2026-03-01T09:30:00+01:00",
        ),
        (datetime(2026, 3, 1, 9, 30, 5, 120, tzinfo=UTC), "2026-03-01T09:30:05.000120Z"),
        (
            datetime(2026, 3, 1, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            "2026-03-01T00:00:00-03:30",
        ),
    ],
)
def test_tijdstempel_has_seconds_and_a_zone(moment: datetime, text: str) -> None:
    assert format_tijdstempel(moment) == text
    assert len(text) >= 20


def test_tijdstempel_needs_whole_minute_offsets() -> None:
    with pytest.raises(ValueError, match="whole number of minutes"):
        format_tijdstempel(datetime(2026, 3, 1, tzinfo=timezone(timedelta(seconds=30))))


def test_zal_is_written_as_release3() -> None:
    document = write_zal(samples.zal())
    assert etree.fromstring(document).nsmap[None] == ListKind.ZAL.namespace
    assert load_schema(ListKind.ZAL).validate(etree.fromstring(document))


def test_whitelist_shapes() -> None:
    whitelist = samples.whitelist()
    current = write_whitelist(whitelist)
    old = write_whitelist(whitelist, "old")
    assert b"<MedMijNode>\n            <Hostname>rcf-rso.nl</Hostname>" in current
    assert b"<MedMijNode>rcf-rso.nl</MedMijNode>" in old
    assert write_whitelist(whitelist, shape="current") == current == write_list(whitelist)
    assert parse_whitelist(old) == parse_whitelist(current) == whitelist
    with pytest.raises(ValueError, match="shape"):
        write_whitelist(whitelist, "newest")  # type: ignore[arg-type]


# Against MedMij's published schemas ------------------------------------------------


def official_cases() -> list[object]:
    rng = random.Random(20260301)
    cases: list[object] = [
        pytest.param(
            "zal2",
            lambda: write_zal(samples.zal_release2_compatible(), release=2),
            id="ZAL release2",
        ),
        pytest.param("ocl", lambda: write_ocl(samples.ocl()), id="OCL"),
        pytest.param("gnl", lambda: write_gnl(samples.gnl()), id="GNL"),
        pytest.param("whitelist", lambda: write_whitelist(samples.whitelist()), id="Whitelist"),
    ]
    for index in range(25):
        ocl = samples.random_ocl(rng)
        ocl = replace(ocl, clients=tuple(replace(c, gegevensdiensten=None) for c in ocl.clients))
        gnl = samples.random_gnl(rng)
        whitelist = samples.random_whitelist(rng)
        cases += [
            pytest.param("ocl", lambda ocl=ocl: write_ocl(ocl), id=f"random OCL {index}"),
            pytest.param("gnl", lambda gnl=gnl: write_gnl(gnl), id=f"random GNL {index}"),
            pytest.param(
                "whitelist",
                lambda whitelist=whitelist: write_whitelist(whitelist),
                id=f"random Whitelist {index}",
            ),
        ]
    return cases


@pytest.mark.parametrize(("key", "write"), official_cases())
def test_written_lists_validate_against_the_published_schema(
    official: Official, key: str, write: Callable[[], bytes]
) -> None:
    assert official.accepts(key, write()), official.errors(key)


def test_published_examples_survive_our_round_trip(
    official: Official, examples: dict[str, bytes]
) -> None:
    for key, kind in [
        ("ocl", ListKind.OCL),
        ("gnl", ListKind.GNL),
        ("whitelist", ListKind.WHITELIST),
    ]:
        lst = parse_list(kind, examples[key])
        rewritten = write_list(lst)
        assert official.accepts(key, rewritten)
        assert parse_list(kind, rewritten) == lst
    zal2 = parse_zal(examples["zal2"])
    assert official.accepts("zal2", write_zal(zal2, release=2))
    assert parse_zal(write_zal(zal2, release=2)) == zal2 == parse_zal(write_zal(zal2))
    zal3 = parse_zal(examples["zal3"])
    assert parse_zal(write_zal(zal3)) == zal3


def test_ocl_extension_is_rejected_by_the_published_schema(official: Official) -> None:
    document = write_ocl(samples.ocl(with_gegevensdiensten=True))
    assert not official.accepts("ocl", document)
    assert b"<GegevensdienstId>1</GegevensdienstId>" in document
    assert b"<Gegevensdiensten/>" in document  # qualified for nothing, not "unknown"


# Round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("lst", samples.every_sample(), ids=lambda lst: type(lst).__name__)
def test_round_trip_of_samples(lst: MedMijList) -> None:
    assert parse_list(kind_of(lst), write_list(lst)) == lst


RANDOM: list[tuple[str, Callable[[random.Random], MedMijList]]] = [
    ("ZAL", samples.random_zal),
    ("OCL", samples.random_ocl),
    ("GNL", samples.random_gnl),
    ("Whitelist", samples.random_whitelist),
]


@pytest.mark.parametrize(("name", "make"), RANDOM, ids=[name for name, _ in RANDOM])
def test_round_trip_of_random_lists(name: str, make: Callable[[random.Random], MedMijList]) -> None:
    rng = random.Random(f"round trip {name}")
    for _ in range(150):
        lst = make(rng)
        document = write_list(lst)
        parsed = parse_list(kind_of(lst), document)
        assert parsed == lst, document.decode()
        # Equal instants with different zones compare equal; the zone survives too.
        assert parsed.tijdstempel.utcoffset() == lst.tijdstempel.utcoffset()
        if isinstance(lst, Whitelist):
            assert parse_list(kind_of(lst), write_whitelist(lst, "old")) == lst


def test_release2_writer_refuses_what_release2_cannot_hold() -> None:
    zal = samples.zal()
    with pytest.raises(ListValidationError, match="release2 holds only"):
        write_zal(zal, release=2)
    compatible = samples.zal_release2_compatible()
    za = compatible.zorgaanbieders[0]
    dienst = za.interfaceversies[0].gegevensdiensten[0]
    for changed in (
        replace(dienst, abonneren=Abonneren(30, "https://a.example.nl/s")),
        replace(dienst, authorization_endpoint=None),
        replace(dienst, token_endpoint=None),
    ):
        versie = replace(za.interfaceversies[0], gegevensdiensten=(changed,))
        lst = replace(compatible, zorgaanbieders=(replace(za, interfaceversies=(versie,)),))
        with pytest.raises(ListValidationError, match="release2 has no Abonneren"):
            write_zal(lst, release=2)
        assert parse_zal(write_zal(lst)) == lst


@pytest.mark.parametrize(
    ("lst", "problem"),
    [
        pytest.param(
            replace(samples.whitelist(), hostnames=("Upper.example.nl",)),
            "Hostname",
            id="uppercase host name",
        ),
        pytest.param(
            replace(samples.whitelist(), hostnames=("a.example.nl", "a.example.nl")),
            r"Duplicate|twice",
            id="duplicate host name",
        ),
        pytest.param(
            replace(samples.ocl(), clients=(OAuthclient("pgo.example.nl", "PG"),)),
            "OAuthclientOrganisatienaam",
            id="short organisatienaam",
        ),
        pytest.param(
            replace(samples.gnl(), gegevensdiensten=()),
            None,
            id="empty GNL is fine",
        ),
        pytest.param(
            replace(samples.ocl(), clients=(OAuthclient("pgo.example.nl", "bell\x07"),)),
            "cannot be written in XML",
            id="control character",
        ),
    ],
)
def test_writer_refuses_models_receivers_would_refuse(lst: MedMijList, problem: str | None) -> None:
    if problem is None:
        assert parse_list(kind_of(lst), write_list(lst)) == lst
        return
    with pytest.raises(ListValidationError, match=problem):
        write_list(lst)


def test_old_shape_duplicates_are_refused_too() -> None:
    lst = replace(samples.whitelist(), hostnames=("a.example.nl", "a.example.nl"))
    with pytest.raises(ListValidationError, match="twice"):
        write_whitelist(lst, "old")


def test_writer_check_accepts_development_ports_but_strict_readers_do_not() -> None:
    zal = samples.zal()
    za = zal.zorgaanbieders[1]
    versie = za.interfaceversies[0]
    dienst = replace(
        versie.gegevensdiensten[0],
        authorization_endpoint="https://inlog.dva.localhost:8444/oauth/authorize",
    )
    lst = replace(
        zal,
        zorgaanbieders=(
            zal.zorgaanbieders[0],
            replace(za, interfaceversies=(replace(versie, gegevensdiensten=(dienst,)),)),
        ),
    )
    document = write_zal(lst)
    assert parse_zal(document, development=True) == lst
    with pytest.raises(ListValidationError, match="AuthorizationEndpointuri"):
        parse_zal(document)


def test_check_can_be_skipped_for_negative_tests() -> None:
    lst = replace(samples.whitelist(), hostnames=("Upper.example.nl",))
    document = write_whitelist(lst, check=False)
    assert b"<Hostname>Upper.example.nl</Hostname>" in document
