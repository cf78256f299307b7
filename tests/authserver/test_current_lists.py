"""The server always judges by the lists it holds now, never by a copy taken at start."""

from __future__ import annotations

from dataclasses import replace

from medmij_stack.protocol.lists import OAuthclientlist, write_ocl

from .conftest import PGO, TestWorld
from .flows import authorize_url, exchange, obtain_code


def _offer(tw: TestWorld, ocl: OAuthclientlist) -> None:
    tw.app_state().lists.lists.ocl.offer(write_ocl(ocl))


def test_a_client_dropped_from_the_ocl_is_refused_at_once(tw: TestWorld) -> None:
    holder = tw.app_state().lists.lists.ocl
    original = holder.current
    assert original is not None
    issued = obtain_code(tw)
    without_pgo = replace(
        original,
        volgnummer=original.volgnummer + 1000,
        clients=tuple(c for c in original.clients if c.hostname != PGO),
    )
    try:
        _offer(tw, without_pgo)
        with tw.client() as browser:
            page = browser.get(authorize_url(tw.front_url()))
        assert page.status_code == 400
        assert "kennen wij niet" in page.text
        with tw.client(PGO) as pgo:
            response = exchange(pgo, tw, issued.code)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client"
    finally:
        _offer(tw, replace(original, volgnummer=original.volgnummer + 1001))
    with tw.client() as browser:
        assert browser.get(authorize_url(tw.front_url())).status_code == 200


def test_a_new_pgo_name_on_the_ocl_shows_on_the_landing_page(tw: TestWorld) -> None:
    holder = tw.app_state().lists.lists.ocl
    original = holder.current
    assert original is not None
    renamed = replace(
        original,
        volgnummer=original.volgnummer + 2000,
        clients=tuple(
            replace(c, organisatienaam="Hernoemde PGO") if c.hostname == PGO else c
            for c in original.clients
        ),
    )
    try:
        _offer(tw, renamed)
        with tw.client() as browser:
            page = browser.get(authorize_url(tw.front_url()))
        assert "Hernoemde PGO" in page.text
    finally:
        _offer(tw, replace(original, volgnummer=original.volgnummer + 2001))
