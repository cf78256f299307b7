"""What the Stelselnode of the default world publishes: four valid lists that match the world."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.lists import (
    ListKind,
    ListValidationError,
    MedMijList,
    parse_list,
    write_gnl,
    write_ocl,
    write_whitelist,
    write_zal,
)
from medmij_stack.wiring.publication import Publication, publication
from medmij_stack.wiring.world import World, load_world


@pytest.fixture(scope="module")
def world() -> World:
    return load_world()


@pytest.fixture(scope="module")
def lists(world: World) -> Publication:
    return publication(world)


def documents(lists: Publication) -> dict[ListKind, tuple[MedMijList, bytes]]:
    return {
        ListKind.ZAL: (lists.zal, write_zal(lists.zal)),
        ListKind.OCL: (lists.ocl, write_ocl(lists.ocl)),
        ListKind.GNL: (lists.gnl, write_gnl(lists.gnl)),
        ListKind.WHITELIST: (lists.whitelist, write_whitelist(lists.whitelist)),
    }


@pytest.mark.parametrize("kind", list(ListKind), ids=lambda k: k.name)
def test_each_list_is_valid_and_reads_back_unchanged(lists: Publication, kind: ListKind) -> None:
    model, document = documents(lists)[kind]
    assert parse_list(kind, document, development=True) == model


def test_the_development_zal_needs_the_development_schema(lists: Publication) -> None:
    # Front-channel URIs carry a port in the default world, which the official pattern forbids.
    with pytest.raises(ListValidationError, match="AuthorizationEndpointuri"):
        parse_list(ListKind.ZAL, write_zal(lists.zal), development=False)


def test_the_zal_lists_every_zorgaanbieder_of_the_world(world: World, lists: Publication) -> None:
    assert sorted(za.naam for za in lists.zal.zorgaanbieders) == sorted(
        za.naam for dva in world.dva for za in dva.zorgaanbieder
    )


def test_zal_endpoints_are_where_the_world_serves_them(world: World, lists: Publication) -> None:
    checked = 0
    for dva in world.dva:
        for za in dva.zorgaanbieder:
            listed = lists.zal.get(za.naam)
            assert listed is not None
            (versie,) = listed.interfaceversies
            assert versie.id == dva.interfaceversie
            assert [d.id for d in versie.gegevensdiensten] == list(za.gegevensdiensten)
            for dienst in versie.gegevensdiensten:
                assert dienst.authorization_endpoint == dva.authorization_url
                assert dienst.token_endpoint == dva.token_url
                expected_codes = catalogue.get(dienst.id).systeemrollen
                assert tuple(r.code for r in dienst.systeemrollen) == expected_codes
                for rol in dienst.systeemrollen:
                    assert rol.resource_endpoint == dva.resource_url(za, dienst.id)
                checked += 1
    assert checked >= 5


def test_zal_urls_name_the_dva_nodes_and_the_paths_they_serve(lists: Publication) -> None:
    ziekenhuis = lists.zal.get("ziekenhuisdemo@medmij")
    assert ziekenhuis is not None
    diensten = {d.id: d for d in ziekenhuis.interfaceversies[0].gegevensdiensten}
    bgz = diensten["48"]
    assert bgz.authorization_endpoint == "https://inlog.dva.localhost:8444/oauth/authorize"
    assert bgz.token_endpoint == "https://api.dva.localhost:8445/oauth/token"
    assert [(r.code, r.resource_endpoint) for r in bgz.systeemrollen] == [
        ("MM-3.0-BZB-FHIR", "https://fhir.dva.localhost:8446/ziekenhuisdemo/48/fhir")
    ]
    assert [(r.code, r.resource_endpoint) for r in diensten["63"].systeemrollen] == [
        ("MM-1.0-VAB-FHIR", "https://fhir.dva.localhost:8446/ziekenhuisdemo/63/fhir")
    ]


def test_the_ocl_has_both_pgos_with_their_names(world: World, lists: Publication) -> None:
    assert {(c.hostname, c.organisatienaam) for c in lists.ocl.clients} == {
        ("pgo.localhost", "Demo PGO"),
        ("niet-vertrouwd.pgo.localhost", "Niet-vertrouwde PGO"),
    }
    assert len(lists.ocl.clients) == len(world.pgo)


def test_the_gnl_names_every_gegevensdienst_that_has_not_ended(lists: Publication) -> None:
    current = {g.id: g.naam for g in catalogue.CATALOGUE.values() if g.ended is None}
    assert {g.id: g.weergavenaam for g in lists.gnl.gegevensdiensten} == current
    assert {"48", "63"} <= set(current)
    ended = {g.id for g in catalogue.CATALOGUE.values() if g.ended is not None}
    assert ended, "the catalogue has ended gegevensdiensten to leave out"
    assert not ended & {g.id for g in lists.gnl.gegevensdiensten}


def test_the_whitelist_is_the_worlds(world: World, lists: Publication) -> None:
    assert lists.whitelist.hostnames == world.whitelist()
    assert "niet-vertrouwd.pgo.localhost" not in lists.whitelist.hostnames


OFFICIAL = {
    ListKind.OCL: "MedMij_OAuthclientlist.release2.xsd",
    ListKind.GNL: "MedMij_Gegevensdienstnamenlijst.release1.xsd",
    ListKind.WHITELIST: "MedMij_Whitelist.release2.v13.xsd",
}


@pytest.mark.parametrize("kind", list(OFFICIAL), ids=lambda k: k.name)
def test_written_lists_validate_against_medmijs_official_schemas(
    medmij_data: Path, lists: Publication, kind: ListKind
) -> None:
    schema = etree.XMLSchema(etree.parse(str(medmij_data / "xsd" / OFFICIAL[kind])))
    _, document = documents(lists)[kind]
    root = etree.fromstring(document)
    assert schema.validate(root), str(schema.error_log)
