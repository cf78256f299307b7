"""A patient uses the PGO in a real browser (Debian's headless Chromium) against `medmij up`.

From the PGO's welcome page through login, the zorgaanbieder search, the DVA's landing
page, DigiD and the toestemming back to the PGO, to the vaccinations and every BgZ page
with the records and their source; and the two ways a person stops on the way — cancelling
on the DVA's landing page, refusing the toestemming — each ending in the PGO's Dutch
message. Every page is photographed (a test artefact: the folder named by
``MEDMIJ_TEST_ARTIFACTS``, else pytest's temporary folder; the path is printed) and
checked with axe-core (https://github.com/dequelabs/axe-core, shipped inside the
``axe-playwright-python`` wheel) against WCAG 2.1 A and AA: any violation on a PGO page
fails the test with its rule, impact, element and help. The DVA's screens are checked the
same way and fail the test too.

The browser trusts exactly the stack's node keys and resolves ``*.localhost`` to loopback,
as in tests/e2e/test_browser.py. Skips without Chromium (set MEDMIJ_CHROMIUM to use
another binary); CI installs it, and under CI=true a skip fails the run.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from medmij_stack.pgo.categories import CATEGORIES

from .conftest import STARTUP_LIMIT_SECONDS, RunningStack, start_stack
from .test_browser import CHROMIUM, _spki_pins

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# WCAG 2.0 and 2.1, levels A and AA: what the Dutch government requires of its sites
# (EN 301 549), and what a PGO is held to.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD_OF_DEMO_ACCOUNTS = "medmij-demo"
ZIEKENHUIS, GGD = "Ziekenhuis Demostad", "GGD Demoregio"
BUSY_LIMIT_SECONDS = 60
# Zorgverleners and persoonsgegevens also show what came with the vaccinations.
HOSPITAL_SOURCE = re.compile(
    rf"Bron: {ZIEKENHUIS}, (Basisgegevens zorg \(BgZ 3\.0\)|Vaccinaties \(1\.0\))\. Opgehaald op "
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # All but the test's own limit for the nodes to be healthy: a busy machine may need it.
    timeout = str(STARTUP_LIMIT_SECONDS - 5)
    running = start_stack(tmp_path_factory.mktemp("pgo-browser-stack"), "--timeout", timeout)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium(stack: RunningStack) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--host-resolver-rules=MAP *.localhost 127.0.0.1",
                "--ignore-certificate-errors-spki-list=" + ",".join(_spki_pins(stack.certs_dir)),
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def artefacts(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Path]:
    given = os.environ.get("MEDMIJ_TEST_ARTIFACTS")
    folder = Path(given) / "pgo-browser" if given else tmp_path_factory.mktemp("pgo-browser")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    # Printed past pytest's capture, also with -q and when everything passed.
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    line = f"\nPGO browser screenshots and axe reports: {folder}"
    if capture is None:
        print(line)
    else:
        with capture.global_and_fixture_disabled():
            print(line)


@dataclass
class Violation:
    page: str
    rule: str
    impact: str
    targets: list[str]
    help: str
    url: str

    def __str__(self) -> str:
        return (
            f"{self.page}: {self.rule} ({self.impact}) at {', '.join(self.targets)}"
            f" — {self.help} [{self.url}]"
        )


@dataclass
class Visit:
    """One person's browser tab: photographs and audits every page it is asked to look at."""

    page: Page
    folder: Path
    prefix: str
    axe: Axe
    violations: list[Violation] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def look(self, name: str) -> None:
        """Screenshot the page as it is now, and run axe-core's WCAG 2.1 A/AA rules on it."""
        self.page.wait_for_load_state("load")
        shot = self.folder / f"{self.prefix}-{len(self.shots) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        self.shots.append(shot)
        results: Any = self.axe.run(
            self.page,
            options={
                "runOnly": {"type": "tag", "values": WCAG_TAGS},
                "resultTypes": ["violations", "incomplete"],
            },
        )
        found = [
            Violation(
                page=f"{name} ({self.page.url})",
                rule=violation["id"],
                impact=str(violation.get("impact")),
                targets=[" ".join(map(str, node["target"])) for node in violation["nodes"]],
                help=violation["help"],
                url=violation["helpUrl"],
            )
            for violation in results.response["violations"]
        ]
        if found:
            report = self.folder / f"{shot.stem}.axe.txt"
            report.write_text("\n".join(map(str, found)) + "\n", "utf-8")
        self.violations.extend(found)
        # What axe could not decide by itself (e.g. contrast over a background it cannot
        # read) is for a person to review: kept beside the screenshot, never a failure.
        review = [
            f"{item['id']} at {', '.join(' '.join(map(str, n['target'])) for n in item['nodes'])}"
            f" — {item['help']}"
            for item in results.response.get("incomplete", [])
        ]
        if review:
            (self.folder / f"{shot.stem}.axe-review.txt").write_text(
                "\n".join(review) + "\n", "utf-8"
            )

    def assert_accessible(self) -> None:
        assert not self.violations, "WCAG 2.1 A/AA violations (axe-core):\n" + "\n".join(
            f"- {v}" for v in self.violations
        )

    def heading(self) -> str:
        return " ".join((self.page.locator("h1").first.text_content() or "").split())

    def main_text(self) -> str:
        return " ".join((self.page.text_content("main") or "").split())


@pytest.fixture
def visit(chromium: Browser, artefacts: Path, request: pytest.FixtureRequest) -> Iterator[Visit]:
    context = chromium.new_context(locale="nl-NL", viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield Visit(page, artefacts, request.node.name.removeprefix("test_")[:12], Axe())
    finally:
        context.close()


def _account(stack: RunningStack) -> dict[str, str]:
    """The demo account of the first DigiD test person, who has data at the hospital and GGD."""
    account = dict(stack.info["pgo_accounts"][0])
    assert account["wachtwoord"] == PASSWORD_OF_DEMO_ACCOUNTS
    return account


def _log_in(visit: Visit, stack: RunningStack, *, look: bool = False) -> dict[str, str]:
    account = _account(stack)
    page = visit.page
    page.goto(stack.info["pgo"] + "/inloggen")
    if look:
        visit.look("inloggen")
        page.get_by_label("Gebruikersnaam").fill(account["gebruikersnaam"])
        page.get_by_label("Wachtwoord").fill("niet-het-wachtwoord")
        page.get_by_role("button", name="Inloggen").click()
        expect(page.get_by_role("alert")).to_be_visible()
        visit.look("inloggen-fout")
    page.get_by_label("Gebruikersnaam").fill(account["gebruikersnaam"])
    page.get_by_label("Wachtwoord").fill(account["wachtwoord"])
    page.get_by_role("button", name="Inloggen").click()
    expect(page.locator("h1")).to_have_text("Je gezondheidsgegevens")
    return account


def _to_the_dva(visit: Visit, zorgaanbieder: str, *, look: bool = False) -> None:
    """Gegevens ophalen → search by name → the button at that zorgaanbieder → the DVA."""
    page = visit.page
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
        "link", name="Gegevens ophalen"
    ).click()
    page.get_by_label("Naam van de zorgaanbieder").fill(zorgaanbieder.split()[0])
    page.get_by_role("button", name="Zoeken").click()
    expect(page.get_by_role("heading", name="Gevonden")).to_be_visible()
    expect(page.get_by_role("heading", name=zorgaanbieder, exact=True)).to_be_visible()
    if look:
        visit.look("zorgaanbieders-gevonden")
    page.get_by_role("button", name=f"Gegevens ophalen bij {zorgaanbieder}").click()
    expect(page.get_by_role("button", name="Inloggen met DigiD")).to_be_visible()
    assert page.title().startswith("Gegevens ophalen")


def _outcome(visit: Visit, stack: RunningStack) -> str:
    """The PGO's outcome page of the attempt, once the retrieval has finished: its heading."""
    page = visit.page
    page.wait_for_url(re.compile(re.escape(stack.info["pgo"]) + r"/ophalen/[^/?]+$"))
    deadline = time.monotonic() + BUSY_LIMIT_SECONDS
    while visit.heading() == "Je gegevens worden opgehaald" and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    return visit.heading()


def test_a_patient_fetches_in_the_browser_and_reads_the_records_with_their_source(
    stack: RunningStack, visit: Visit
) -> None:
    visit.prefix = "gelukt"
    page = visit.page
    page.goto(stack.info["pgo"] + "/")
    assert visit.heading() == "Welkom bij Demo PGO"
    visit.look("welkom")

    page.get_by_role("link", name="Maak een account aan").click()
    expect(page.locator("h1")).to_have_text("Account maken")
    visit.look("aanmelden")
    page.get_by_label("Gebruikersnaam").fill("x")
    page.get_by_label("Wachtwoord", exact=True).fill("kort")
    page.get_by_label("Wachtwoord nog een keer").fill("anders")
    page.get_by_role("button", name="Account maken").click()
    expect(page.get_by_role("alert")).to_contain_text("Je account is nog niet gemaakt")
    visit.look("aanmelden-fout")

    account = _log_in(visit, stack, look=True)
    visit.look("overzicht-leeg")

    _to_the_dva(visit, ZIEKENHUIS, look=True)
    assert "Demo PGO" in visit.main_text()
    visit.look("dva-landing")
    page.get_by_role("button", name="Inloggen met DigiD").click()
    page.get_by_label("Burgerservicenummer (BSN) van een testpersoon").fill(account["bsn"])
    visit.look("dva-digid")
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page.locator("h1")).to_have_text("Toestemming geven")
    # A langdurige toestemming, so that the PGO's Toestemmingen page has one to show.
    page.get_by_label("Ik geef toestemming voor onbepaalde tijd").check()
    visit.look("dva-toestemming")
    page.get_by_role("button", name="Toestemming geven", exact=True).click()

    assert _outcome(visit, stack) == "Je gegevens zijn opgehaald"
    assert ZIEKENHUIS in visit.main_text()
    visit.look("uitkomst-gelukt")

    page.get_by_role("link", name="Naar je overzicht").click()
    expect(page.locator("h1")).to_have_text("Je gezondheidsgegevens")
    assert "Niet opgehaald" not in visit.main_text()
    visit.look("overzicht")

    page.goto(stack.info["pgo"] + "/gegevens/vaccinaties")
    rows = page.locator("table.vaccinations tbody tr")
    assert rows.count() >= 1
    for row in rows.all_text_contents():
        assert f"{ZIEKENHUIS}, Vaccinaties (1.0)" in " ".join(row.split()) or (
            f"{ZIEKENHUIS}, Basisgegevens zorg (BgZ 3.0)" in " ".join(row.split())
        )
    visit.look("vaccinaties")

    with_records = []
    for category in CATEGORIES:
        if category.slug == "vaccinaties":
            continue  # its own page, above
        page.goto(f"{stack.info['pgo']}/gegevens/{category.slug}")
        assert visit.heading() == category.title
        records = page.locator("ul.records > li")
        for source in records.locator("p.source").all_text_contents():
            assert HOSPITAL_SOURCE.match(" ".join(source.split())), source
        if records.count():
            with_records.append(category.slug)
        visit.look(f"bgz-{category.slug}")
    # The hospital's synthetic patient has at least these (tests/pgo/test_e2e.py).
    assert "problemen" in with_records, with_records

    page.get_by_role("link", name="Geschiedenis").click()
    expect(page.locator("table.history tbody tr")).to_have_count(1)
    assert "Gelukt" in visit.main_text()
    visit.look("geschiedenis")

    page.get_by_role("link", name="Toestemmingen").click()
    expect(page.get_by_role("heading", name=ZIEKENHUIS)).to_be_visible()
    expect(page.get_by_role("button", name="Toestemming intrekken")).to_be_visible()
    visit.look("toestemmingen")

    visit.assert_accessible()


def test_cancelling_at_the_dva_landing_page_ends_in_the_pgos_dutch_message(
    stack: RunningStack, visit: Visit
) -> None:
    visit.prefix = "geannuleerd"
    page = visit.page
    _log_in(visit, stack)
    _to_the_dva(visit, GGD)

    # Meanwhile, in another tab of the PGO: the attempt waits at the zorgaanbieder.
    visit.page = page.context.new_page()
    visit.page.goto(stack.info["pgo"] + "/geschiedenis")
    latest = visit.page.locator("table.history tbody tr").first
    expect(latest).to_contain_text("Bij de zorgaanbieder")
    latest.get_by_role("link").click()
    assert visit.heading() == "Je bent nog niet klaar bij de zorgaanbieder"
    visit.look("uitkomst-bij-dva")
    visit.page.close()
    visit.page = page

    page.get_by_role("button", name="Annuleren").click()
    expect(page.locator("h1")).to_have_text("Je hebt het ophalen van gegevens gestopt")
    visit.look("dva-annulering")
    page.get_by_role("button", name="Terug naar Demo PGO").click()

    assert _outcome(visit, stack) == "Je bent gestopt met inloggen"
    assert "Er zijn geen gegevens opgehaald." in visit.main_text()
    assert GGD in visit.main_text()
    expect(page.get_by_role("button", name="Probeer opnieuw")).to_be_visible()
    visit.look("uitkomst-geannuleerd")

    visit.assert_accessible()


def test_refusing_the_toestemming_ends_in_the_pgos_dutch_message(
    stack: RunningStack, visit: Visit
) -> None:
    visit.prefix = "geweigerd"
    page = visit.page
    account = _log_in(visit, stack)
    _to_the_dva(visit, GGD)
    page.get_by_role("button", name="Inloggen met DigiD").click()
    page.get_by_label("Burgerservicenummer (BSN) van een testpersoon").fill(account["bsn"])
    page.get_by_role("button", name="Inloggen", exact=True).click()
    page.get_by_role("button", name="Geen toestemming geven").click()

    # The DVA answers a refusal exactly as it answers "no data" (Autoriseren, uitzonderingen
    # 1 and 2), so the PGO cannot tell them apart and says that either may have happened.
    title = _outcome(visit, stack)
    assert title == "Er zijn geen gegevens gedeeld"
    assert f"{GGD} heeft geen gegevens met je PGO gedeeld" in visit.main_text()
    assert "als je geen toestemming gaf" in visit.main_text()
    expect(page.get_by_role("button", name="Probeer opnieuw")).to_be_visible()
    visit.look("uitkomst-geweigerd")

    page.get_by_role("link", name="Geschiedenis").click()
    assert f"Niet gelukt: {title}" in visit.main_text()
    visit.look("geschiedenis-met-mislukte")

    # A return link that belongs to no attempt of this person: the PGO's own refusal page.
    page.goto(stack.info["pgo"] + "/medmij/terug?code=onbekend&state=onbekend")
    assert visit.heading() == "Deze link kennen we niet"
    visit.look("terugkeer-onbekend")

    page.goto(stack.info["pgo"] + "/gegevens/bestaat-niet")
    assert visit.heading() == "Niet gevonden"
    visit.look("niet-gevonden")

    visit.assert_accessible()


def test_the_check_finds_what_it_looks_for(visit: Visit) -> None:
    """A page with an unlabelled field and an image without text fails the check."""
    visit.prefix = "zelfcontrole"
    visit.page.set_content(
        '<!doctype html><html lang="nl"><head><title>Proef</title></head><body><main>'
        '<h1>Proef</h1><input type="text" name="zoek"><img src="data:,"></main></body></html>'
    )
    visit.look("fout-met-opzet")
    assert {v.rule for v in visit.violations} >= {"label", "image-alt"}
    with pytest.raises(AssertionError, match=r"label \((critical|serious)\) at input"):
        visit.assert_accessible()
