"""A requested scope against this DVA, the ZAL and the OCL; and the scope that is granted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medmij_stack.authserver.oauth.clients import OclClient
from medmij_stack.authserver.oauth.scopes import (
    RequestedScope,
    ScopeRefused,
    granted_scope,
    resolve_scope,
    scope_ids,
)
from medmij_stack.protocol.lists import Abonneren, OAuthclient, Zorgaanbiederslijst
from medmij_stack.protocol.scope import parse_scope
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.world import World

from .conftest import WORLD

SERVED = ("ziekenhuistest@medmij", "ggdtest@medmij", "huisartstest@medmij")


@pytest.fixture(scope="module")
def zal() -> Zorgaanbiederslijst:
    return publication(World.model_validate(WORLD)).zal


def _client(gegevensdiensten: frozenset[str] | None = None) -> OclClient:
    return OclClient(OAuthclient("pgo.localhost", "Test PGO", gegevensdiensten))


def _resolve(raw: str, zal: Zorgaanbiederslijst, client: OclClient | None = None) -> RequestedScope:
    return resolve_scope(raw, served=SERVED, zal=zal, client=client or _client())


def test_the_bare_name_means_every_verzamel_gegevensdienst(zal: Zorgaanbiederslijst) -> None:
    assert _resolve("ziekenhuistest", zal) == RequestedScope("ziekenhuistest@medmij", ("48", "63"))
    assert _resolve("ggdtest", zal).gegevensdiensten == ("63",)


def test_combinations_keep_the_requested_order(zal: Zorgaanbiederslijst) -> None:
    requested = _resolve("ziekenhuistest~63 ziekenhuistest~48", zal)
    assert requested.gegevensdiensten == ("63", "48")


def test_the_ocl_qualification_narrows_the_bare_name_and_refuses_a_combination(
    zal: Zorgaanbiederslijst,
) -> None:
    only_63 = _client(frozenset({"63"}))
    assert _resolve("ziekenhuistest", zal, only_63).gegevensdiensten == ("63",)
    with pytest.raises(ScopeRefused, match="not qualified for gegevensdienst 48"):
        _resolve("ziekenhuistest~48", zal, only_63)
    with pytest.raises(ScopeRefused, match="no verzamel-gegevensdienst"):
        _resolve("huisartstest", zal, only_63)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("48", "AS 1.0"),
        ("strikttest", "not served by this authorization server"),
        ("ggdtest~48", "does not offer gegevensdienst 48"),
        ("ziekenhuistest~48 ggdtest~63", "same zorgaanbieder"),
        ("subscribe~10/ziekenhuistest~48", "no subscription"),
    ],
)
def test_refusals_say_what_is_wrong(zal: Zorgaanbiederslijst, raw: str, message: str) -> None:
    with pytest.raises(ScopeRefused, match=message) as refused:
        _resolve(raw, zal)
    assert str(refused.value).startswith("Invalid scope: ")


def test_a_served_zorgaanbieder_missing_from_the_zal_is_refused(zal: Zorgaanbiederslijst) -> None:
    with pytest.raises(ScopeRefused, match="not on the Zorgaanbiederslijst"):
        resolve_scope(
            "nergenstest", served=(*SERVED, "nergenstest@medmij"), zal=zal, client=_client()
        )


def _offering(zal: Zorgaanbiederslijst, **changes: object) -> Zorgaanbiederslijst:
    """The ZAL with gegevensdienst 48 of every zorgaanbieder changed (abonneren, id)."""
    return replace(
        zal,
        zorgaanbieders=tuple(
            replace(
                za,
                interfaceversies=tuple(
                    replace(
                        versie,
                        gegevensdiensten=tuple(
                            replace(d, **changes) if d.id == "48" else d  # type: ignore[arg-type]
                            for d in versie.gegevensdiensten
                        ),
                    )
                    for versie in za.interfaceversies
                ),
            )
            for za in zal.zorgaanbieders
        ),
    )


@pytest.mark.parametrize(
    "raw", ["subscribe~365/ziekenhuistest~48", "subscribe~0/ziekenhuistest~48"]
)
def test_a_subscription_is_refused_until_its_screen_exists(
    zal: Zorgaanbiederslijst, raw: str
) -> None:
    # Even where the ZAL offers the subscription: the Verzamelen screen (with its
    # langdurige toestemming) is not the Toestemmingsverklaring Abonneren.
    offered = _offering(zal, abonneren=Abonneren(90, "https://fhir.dva.localhost/subscription"))
    with pytest.raises(ScopeRefused, match="does not offer Abonneren yet"):
        _resolve(raw, offered)


def test_a_delen_gegevensdienst_is_refused_until_the_bevestigingsverklaring_exists(
    zal: Zorgaanbiederslijst,
) -> None:
    # 53 (Meetwaarden vitale functies, Delen) offered in the ZAL in place of 48.
    offered = _offering(zal, id="53")
    with pytest.raises(ScopeRefused, match="gegevensdienst 53 is for Delen"):
        _resolve("ziekenhuistest~53", offered)
    with pytest.raises(ScopeRefused, match="Bevestigingsverklaring"):
        _resolve("ziekenhuistest~63 ziekenhuistest~53", offered)
    # The bare name (Verzamelen) leaves a Delen gegevensdienst out, as before.
    assert _resolve("ziekenhuistest", offered).gegevensdiensten == ("63",)


def test_a_granted_subscription_scope_would_carry_the_granted_duration() -> None:
    requested = RequestedScope("ziekenhuistest@medmij", ("48",), 90)
    assert granted_scope(requested, ("48",)) == "subscribe~90/ziekenhuistest~48"


def test_the_granted_scope_names_the_available_combinations(zal: Zorgaanbiederslijst) -> None:
    requested = _resolve("ziekenhuistest", zal)
    granted = granted_scope(requested, ("63",))
    assert granted == "ziekenhuistest~63"
    assert scope_ids(granted) == ("ziekenhuistest@medmij", "ziekenhuistest", ("63",))
    assert parse_scope(granted_scope(requested, ("48", "63"))).gegevensdienst_ids == ("48", "63")
    with pytest.raises(ValueError, match="nothing available"):
        granted_scope(requested, ())
