"""Every page the person meets, read as assistive technology reads it (WCAG 2.1 AA basics).

A structural check without a browser: Dutch as the page language, a title, one ``h1``
and no skipped heading level, a label for every field a person fills in, a name for
every button and link, landmarks, and nothing that needs JavaScript. (The full axe-core
WCAG 2.1 AA rule set was run over these pages in Chromium as well, without findings.)
"""

from __future__ import annotations

import itertools

import httpx
import pytest
from lxml import html

from medmij_stack.protocol.funnel import FailureReason

from .harness import GGD, ZIEKENHUIS, Failing, Person, PgoWorld

_FILLED = {"text", "password", "search", "email", "number", "checkbox", "radio", ""}


def _check(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    document = html.fromstring(response.text)
    assert document.get("lang") == "nl"
    assert (document.findtext(".//title") or "").strip()
    assert not document.xpath("//script"), "pages work without JavaScript"
    assert len(document.xpath("//main")) == 1
    assert len(document.xpath("//h1")) == 1
    levels = [int(h.tag[1]) for h in document.xpath("//h1|//h2|//h3|//h4|//h5|//h6")]
    assert levels[0] == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"heading level skipped: {levels}"
    labelled = {label.get("for") for label in document.xpath("//label")}
    for field in document.xpath("//input|//select|//textarea"):
        kind = (field.get("type") or "").lower()
        if field.tag == "input" and kind not in _FILLED:
            continue
        assert field.get("id") in labelled, f"no label for {html.tostring(field)!r}"
    for button in document.xpath("//button"):
        assert button.text_content().strip(), "a button without a name"
    for link in document.xpath("//a"):
        assert link.text_content().strip(), "a link without a name"
    ids = document.xpath("//@id")
    assert len(ids) == len(set(ids)), "duplicate ids"
    for described in document.xpath("//@aria-describedby"):
        for target in described.split():
            assert target in ids, f"aria-describedby points at no element: {target}"


async def test_the_pages_of_a_person_without_an_account(pw: PgoWorld) -> None:
    anonymous = pw.person()
    for path in ("/", "/inloggen", "/aanmelden", "/bestaat-niet", "/medmij/terug?code=x&state=y"):
        _check(await anonymous.client.get(path))
    problems = await anonymous.sign_up("a", "kort")  # the page with every problem on it
    assert problems.status_code == 400
    _check(problems)
    _check(await anonymous.client.post("/aanmelden", data={"csrf_token": "x"}))  # expired
    await anonymous.client.aclose()


@pytest.mark.parametrize("failing", [False, True])
async def test_the_pages_of_a_person_with_records(
    pw: PgoWorld, person: Person, failing: bool
) -> None:
    if failing:
        pw.retrieval.failing[("48", "Problem")] = Failing(FailureReason.RESOURCE_ERROR, 503, "x")
    flow_id, outcome = await person.fetch(ZIEKENHUIS, langdurig=True)
    _check(outcome)
    await person.fetch(GGD)
    paths = [
        "/", "/zorgaanbieders", "/zorgaanbieders?zoek=ziekenhuis&gegevensdienst=48",
        "/geschiedenis", "/toestemmingen", f"/ophalen/{flow_id}",
    ]  # fmt: skip
    paths += [
        f"/gegevens/{slug}"
        for slug in (
            "vaccinaties",
            "problemen",
            "medicatie",
            "metingen",
            "persoonsgegevens",
            "zorgverleners",
        )
    ]
    for path in paths:
        response = await person.client.get(path)
        assert response.status_code == 200, path
        _check(response)
    refused = await person.post("/ophalen", zorgaanbieder="onbekend@medmij", gegevensdienst="48")
    _check(refused)
