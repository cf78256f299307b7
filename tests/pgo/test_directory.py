"""Zorgaanbieder zoeken: by the name people know and by gegevensdienst, from the node's lists."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medmij_stack.pgo.directory import Directory
from medmij_stack.protocol.lists import ListRefused, OAuthclient
from medmij_stack.wiring.publication import publication

from .harness import GGD, HUISARTS, ZIEKENHUIS, Person, PgoWorld, text, world


def _directory(**changes: object) -> Directory:
    lists = publication(world())
    values: dict[str, object] = {
        "zal": lists.zal,
        "gnl": lists.gnl,
        "ocl": lists.ocl,
        "client_id": "pgo.localhost",
        "weergavenamen": {
            ZIEKENHUIS: "Ziekenhuis Teststad",
            GGD: "GGD Testregio",
            HUISARTS: "Huisartsenpraktijk De Tést",
        },
    }
    values.update(changes)
    return Directory(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("zoek", "found"),
    [
        ("", [GGD, HUISARTS, ZIEKENHUIS]),
        ("ziekenhuis", [ZIEKENHUIS]),
        ("TESTSTAD zieken", [ZIEKENHUIS]),
        ("de test", [HUISARTS]),  # without the accent
        ("huisartstest", [HUISARTS]),  # the ZAL name works too
        ("apotheek", []),
    ],
)
def test_search_by_name(zoek: str, found: list[str]) -> None:
    assert [p.naam for p in _directory().search(zoek).providers] == found


def test_search_by_gegevensdienst_and_its_gnl_name() -> None:
    directory = _directory()
    assert [p.naam for p in directory.search("", "48").providers] == [HUISARTS, ZIEKENHUIS]
    assert ("63", "Vaccinaties (1.0)") in directory.offered_services()
    ziekenhuis = directory.provider(ZIEKENHUIS)
    assert ziekenhuis is not None
    assert [(s.id, s.naam) for s in ziekenhuis.services] == [
        ("48", "Basisgegevens zorg (BgZ 3.0)"),
        ("63", "Vaccinaties (1.0)"),
    ]
    service = ziekenhuis.service("63")
    assert service is not None
    assert service.resource_endpoint == "https://fhir.dva.localhost:8446/ziekenhuistest/63/fhir"
    assert service.token_endpoint == "https://api.dva.localhost:8445/oauth/token"
    assert service.interfaceversie == "2.0.0"


def test_only_services_the_ocl_allows_this_pgo_are_offered() -> None:
    lists = publication(world())
    ocl = replace(
        lists.ocl,
        clients=(OAuthclient("pgo.localhost", "Test PGO", frozenset({"63"})),),
    )
    ziekenhuis = _directory(ocl=ocl).provider(ZIEKENHUIS)
    assert ziekenhuis is not None
    assert [s.id for s in ziekenhuis.services] == ["63"]
    assert ziekenhuis.not_offered == ("Basisgegevens zorg (BgZ 3.0)",)


def test_without_lists_nothing_is_found_and_that_is_said() -> None:
    result = _directory(zal=None).search("ziekenhuis")
    assert not result.lists_ready
    assert _directory(zal=None).provider(ZIEKENHUIS) is None


def test_a_name_is_looked_up_exactly() -> None:
    directory = _directory()
    assert directory.provider("ziekenhuistest") is None
    assert directory.provider("onbekend@medmij") is None


async def test_the_search_page_finds_and_offers_a_form_per_zorgaanbieder(
    pw: PgoWorld, person: Person
) -> None:
    page = await person.client.get("/zorgaanbieders", params={"zoek": "ggd"})
    assert page.status_code == 200
    assert "GGD Testregio" in text(page)
    assert "Ziekenhuis Teststad" not in text(page)
    assert 'name="gegevensdienst" value="63" checked' in page.text
    by_service = await person.client.get("/zorgaanbieders", params={"gegevensdienst": "48"})
    assert "GGD Testregio" not in text(by_service)
    assert "Ziekenhuis Teststad" in text(by_service)


async def test_a_choice_that_is_not_in_the_zal_is_refused_in_dutch(
    pw: PgoWorld, person: Person
) -> None:
    await person.client.get("/zorgaanbieders")
    for fields in (
        {"zorgaanbieder": "onbekend@medmij", "gegevensdienst": "48"},
        {"zorgaanbieder": GGD, "gegevensdienst": "48"},
        {"zorgaanbieder": GGD},
    ):
        answer = await person.post("/ophalen", **fields)
        assert answer.status_code == 400
        assert 'role="alert"' in answer.text
    assert pw.dva.codes == {}


async def test_a_list_that_fails_to_validate_leaves_the_last_good_one(
    pw: PgoWorld, person: Person
) -> None:
    holder = pw.pgo.lists.lists.zal
    with pytest.raises(ListRefused):
        holder.offer(b"<Zorgaanbiederslijst>kapot</Zorgaanbiederslijst>")
    pw.network.lists["/MedMij_Zorgaanbiederslijst.xml"] = b"<kapot/>"
    await pw.pgo.lists.refresh(pw.network.client())
    page = await person.client.get("/zorgaanbieders", params={"zoek": "ziekenhuis"})
    assert "Ziekenhuis Teststad" in text(page)
    assert pw.pgo.lists.last_problems
