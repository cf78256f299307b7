"""The Stelselnode app: the four lists with ETags, the schemas, the index page and health.

In-process over httpx's ASGI transport: what is tested here is the app, not TLS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree, html

from medmij_stack.protocol.lists import ListKind, MedMijList, parse_list, schema_documents
from medmij_stack.stelselnode.app import create_app
from medmij_stack.stelselnode.settings import StelselnodeSettings
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.world import Pgo, World, load_world


def desired(world: World) -> dict[ListKind, MedMijList]:
    lists = publication(world)
    return {
        ListKind.ZAL: lists.zal,
        ListKind.OCL: lists.ocl,
        ListKind.GNL: lists.gnl,
        ListKind.WHITELIST: lists.whitelist,
    }


def settings(data_dir: Path) -> StelselnodeSettings:
    return StelselnodeSettings(
        hostname="stelselnode.localhost", development=True, data_dir=data_dir
    )


@pytest.fixture(scope="module")
def world() -> World:
    return load_world()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://stelselnode.localhost"
    )


@pytest.fixture
async def client(world: World, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(settings(tmp_path), desired(world))) as http:
        yield http


def index_rows(page: str) -> dict[str, tuple[str, str]]:
    """Filename → (Volgnummer, schema) from the table on the index page."""
    tree = html.fromstring(page)
    rows = {}
    for row in tree.findall(".//tbody/tr"):
        cells = ["".join(str(t) for t in cell.itertext()).strip() for cell in row.findall("td")]
        rows[cells[0]] = (cells[1], cells[3])
    return rows


@pytest.mark.parametrize("kind", list(ListKind), ids=lambda k: k.name)
async def test_each_list_is_served_as_xml_with_an_etag(
    client: httpx.AsyncClient, kind: ListKind
) -> None:
    response = await client.get(f"/{kind.filename}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "no-cache"
    parsed = parse_list(kind, response.content, development=True)
    assert parsed.volgnummer == 1


@pytest.mark.parametrize("kind", list(ListKind), ids=lambda k: k.name)
async def test_a_matching_if_none_match_gets_304_without_a_body(
    client: httpx.AsyncClient, kind: ListKind
) -> None:
    etag = (await client.get(f"/{kind.filename}")).headers["etag"]
    response = await client.get(f"/{kind.filename}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    stale = await client.get(f"/{kind.filename}", headers={"If-None-Match": '"anders-1"'})
    assert stale.status_code == 200
    assert stale.content


async def test_each_list_has_its_own_etag(client: httpx.AsyncClient) -> None:
    etags = {(await client.get(f"/{kind.filename}")).headers["etag"] for kind in ListKind}
    assert len(etags) == len(ListKind)


async def test_an_unknown_list_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/MedMij_Onbekendelijst.xml")
    assert response.status_code == 404
    assert "MedMij_Onbekendelijst.xml" in response.json()["detail"]


async def test_a_restart_with_a_changed_world_serves_the_next_volgnummer(
    world: World, tmp_path: Path
) -> None:
    async with client_for(create_app(settings(tmp_path), desired(world))) as first:
        old_etag = (await first.get(f"/{ListKind.OCL.filename}")).headers["etag"]
        old_zal = await first.get(f"/{ListKind.ZAL.filename}")
    extra = Pgo(hostname="nieuw.pgo.localhost", naam="Nieuwe PGO", whitelisted=False, external=True)
    changed = world.model_copy(update={"pgo": (*world.pgo, extra)})
    async with client_for(create_app(settings(tmp_path), desired(changed))) as second:
        ocl = await second.get(f"/{ListKind.OCL.filename}", headers={"If-None-Match": old_etag})
        zal = await second.get(
            f"/{ListKind.ZAL.filename}", headers={"If-None-Match": old_zal.headers["etag"]}
        )
        page = (await second.get("/")).text
    assert ocl.status_code == 200
    assert parse_list(ListKind.OCL, ocl.content).volgnummer == 2
    assert zal.status_code == 304  # unchanged: a node that has it need not fetch it again
    assert index_rows(page)[ListKind.OCL.filename][0] == "2"
    assert index_rows(page)[ListKind.ZAL.filename][0] == "1"


async def test_every_schema_is_served_and_is_an_xsd(client: httpx.AsyncClient) -> None:
    for name in schema_documents(development=True):
        response = await client.get(f"/xsd/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("application/xml")
        etree.XMLSchema(etree.fromstring(response.content))


async def test_an_unknown_schema_is_404_naming_the_known_ones(client: httpx.AsyncClient) -> None:
    response = await client.get("/xsd/MedMij_Bestaatniet.xsd")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "MedMij_Bestaatniet.xsd" in detail
    assert "MedMij_Whitelist.release2.xsd" in detail


async def test_the_index_page_lists_the_four_lists_with_their_volgnummers_in_dutch(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'lang="nl"' in page
    assert "Deze node publiceert de vier MedMij-lijsten" in page
    assert "Volgnummer" in page
    rows = index_rows(page)
    assert set(rows) == {kind.filename for kind in ListKind}
    assert {volgnummer for volgnummer, _ in rows.values()} == {"1"}
    # A development world says which schema accepts the ports in its ZAL.
    assert "Ontwikkelwereld" in page


async def test_the_schema_the_index_names_validates_the_list_it_names(
    client: httpx.AsyncClient,
) -> None:
    rows = index_rows((await client.get("/")).text)
    assert rows[ListKind.ZAL.filename][1].endswith(".development.xsd")
    for filename, (_, schema_name) in rows.items():
        schema = etree.XMLSchema(
            etree.fromstring((await client.get(f"/xsd/{schema_name}")).content)
        )
        document = etree.fromstring((await client.get(f"/{filename}")).content)
        assert schema.validate(document), (filename, str(schema.error_log))


async def test_health_reports_ok_and_the_volgnummers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "stelselnode",
        "node": "stelselnode.localhost",
        "lists": {"zal": 1, "ocl": 1, "gnl": 1, "whitelist": 1},
    }
