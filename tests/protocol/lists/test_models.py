"""The list models: look-ups nodes use, and values that could never be written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime

import pytest

from medmij_stack.protocol.lists import (
    Gegevensdienst,
    Gegevensdienstnamenlijst,
    Interfaceversie,
    ListKind,
    OAuthclient,
    OAuthclientlist,
    Systeemrol,
    Whitelist,
    Zorgaanbieder,
    Zorgaanbiederslijst,
)
from tests.protocol.lists import samples


def test_list_kinds() -> None:
    assert [kind.filename for kind in ListKind] == [
        "MedMij_Zorgaanbiederslijst.xml",
        "MedMij_OAuthclientlist.xml",
        "MedMij_Gegevensdienstnamenlijst.xml",
        "MedMij_Whitelist.xml",
    ]
    assert ListKind.ZAL.namespace.endswith("/zorgaanbiederslijst/release3/")
    assert ListKind.OCL.namespace.endswith("/oauthclientlist/release2/")
    assert ListKind.GNL.namespace.endswith("/gegevensdienstnamenlijst/release1/")
    assert ListKind.WHITELIST.namespace.endswith("/whitelist/release2/")
    assert [kind.root for kind in ListKind] == [
        "Zorgaanbiederslijst",
        "OAuthclientlist",
        "Gegevensdienstnamenlijst",
        "Whitelist",
    ]


def test_zorgaanbieder_by_name_with_or_without_suffix() -> None:
    zal = samples.zal()
    za = zal.get("umcharderwijk@medmij")
    assert za is not None
    assert zal.get("umcharderwijk") is za
    assert zal.get("UMCharderwijk") is za
    assert zal.get("onbekend") is None
    assert zal.get("umcharderwijk@elders") is None


def test_gegevensdienst_comes_from_the_newest_interfaceversie() -> None:
    za = samples.zal().get("umcharderwijk")
    assert za is not None
    dienst = za.gegevensdienst("4")
    assert dienst is not None
    assert dienst.authorization_endpoint == "https://inlog.umcharderwijk.nl/2.0.0/authorize"
    only_old = za.interfaceversie("1.4.0")
    assert only_old is not None
    assert only_old.gegevensdienst("4") is not None
    assert za.gegevensdienst("5") is None
    assert za.gegevensdienst_ids == frozenset({"4", "900000401"})


def test_newest_compares_versions_numerically_not_by_order() -> None:
    def versie(version: str) -> Interfaceversie:
        return Interfaceversie(version, (Gegevensdienst("1", f"https://x.nl/{version}", None, ()),))

    za = Zorgaanbieder("x@medmij", "ZA", (versie("1.10.0"), versie("1.9.0"), versie("1.2")))
    found = za.gegevensdienst("1")
    assert found is not None
    assert found.authorization_endpoint == "https://x.nl/1.10.0"
    za = Zorgaanbieder("x@medmij", "ZA", (versie("2.0.0-beta"), versie("2.0.0")))
    found = za.gegevensdienst("1")
    assert found is not None
    assert found.authorization_endpoint == "https://x.nl/2.0.0-beta"


def test_systeemrol_lookup() -> None:
    dienst = Gegevensdienst("1", None, None, (Systeemrol("A", "https://a.nl"),))
    assert dienst.systeemrol("A") == Systeemrol("A", "https://a.nl")
    assert dienst.systeemrol("B") is None
    assert dienst.abonneren is None


def test_oauthclient_lookup_ignores_case() -> None:
    ocl = samples.ocl()
    client = ocl.get("MedMij.DeEnigeEchtePGO.nl")
    assert client is not None
    assert client.organisatienaam == "De Enige Echte PGO"
    assert ocl.get("medmij.deenigeechtepgo.nl.") is client
    assert ocl.get("pgo.elders.nl") is None


def test_oauthclient_qualification() -> None:
    assert OAuthclient("a.nl", "A B").is_qualified_for("4")  # list does not say
    limited = OAuthclient("a.nl", "A B", frozenset({"1"}))
    assert limited.is_qualified_for("1")
    assert not limited.is_qualified_for("4")
    assert not OAuthclient("a.nl", "A B", frozenset()).is_qualified_for("1")


def test_weergavenaam() -> None:
    gnl = samples.gnl()
    assert gnl.weergavenaam("1") == "Basisgegevens Zorg"
    assert gnl.weergavenaam("2") is None


def test_whitelist_membership_ignores_case() -> None:
    whitelist = samples.whitelist()
    assert "rcf-rso.nl" in whitelist
    assert "RCF-RSO.NL" in whitelist
    assert "rcf-rso.nl." in whitelist
    assert "specimen-stelselnode.medmij.nl" not in whitelist
    assert 42 not in whitelist


@pytest.mark.parametrize(
    "build",
    [
        lambda moment, number: Zorgaanbiederslijst(moment, number, ()),
        lambda moment, number: OAuthclientlist(moment, number, ()),
        lambda moment, number: Gegevensdienstnamenlijst(moment, number, ()),
        lambda moment, number: Whitelist(moment, number, ()),
    ],
    ids=["ZAL", "OCL", "GNL", "Whitelist"],
)
def test_header_must_be_writable(build: Callable[[datetime, int], object]) -> None:
    build(datetime(2026, 1, 1, tzinfo=UTC), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        build(datetime(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="positive"):
        build(datetime(2026, 1, 1, tzinfo=UTC), 0)


def test_models_are_immutable_hashable_values() -> None:
    zal = samples.zal()
    with pytest.raises(FrozenInstanceError):
        zal.volgnummer = 8  # type: ignore[misc]
    assert zal == samples.zal()
    assert hash(zal) == hash(samples.zal())
    assert len({samples.ocl(), samples.ocl(), samples.gnl(), samples.whitelist()}) == 3
    assert replace(zal, volgnummer=8).get("umcharderwijk") is not None
    assert "_index" not in repr(zal)
