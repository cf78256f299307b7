"""A person walks the DVA's screens in a real browser: Debian's headless Chromium.

The browser speaks real TLS to `medmij up`. It does not know the dev CA, so it is told to
accept exactly the public keys of the stack's own nodes (``--ignore-certificate-errors-
spki-list``), and to resolve ``*.localhost`` to loopback as desktop browsers do. The PGO's
redirect URI is caught in the browser, so that the test, playing the PGO server, exchanges
the code over mutual TLS with the PGO's certificate.

Skips without Chromium (set MEDMIJ_CHROMIUM to use another binary); CI installs it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Browser, Page, sync_playwright

from medmij_stack.runtime.devpki import load_certificate

from .conftest import RunningStack
from .flow import Endpoints, Pgo, authorize_url, exchange_code, stack_client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("MEDMIJ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _spki_pins(certs_dir: Path) -> list[str]:
    """base64(SHA-256(SubjectPublicKeyInfo)) of every node certificate of the stack."""
    pins = []
    for cert_file in sorted((certs_dir / "nodes").glob("*/cert.pem")):
        spki = (
            load_certificate(cert_file)
            .public_key()
            .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        )
        pins.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
    return pins


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


@pytest.fixture
def page(chromium: Browser, pgo: Pgo) -> Iterator[Page]:
    """A fresh browser context; the PGO's redirect URI answers in the browser itself."""
    context = chromium.new_context(locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.route(
        pgo.redirect_uri + "?*",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<h1>Terug in de PGO</h1>"
        ),
    )
    try:
        yield page
    finally:
        context.close()


def _back_at_pgo(page: Page, pgo: Pgo) -> dict[str, str]:
    page.wait_for_url(pgo.redirect_uri + "?*")
    query = parse_qs(urlsplit(page.url).query)
    return {name: values[0] for name, values in query.items()}


def test_a_person_gives_consent_in_the_browser_and_the_pgo_gets_a_token(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, page: Page
) -> None:
    page.goto(authorize_url(endpoints, pgo, state="browser-1"))
    assert page.title().startswith("Gegevens ophalen")
    body = page.text_content("main") or ""
    assert "Demo PGO" in body  # the OCL name
    assert "Ziekenhuis Demostad" in body

    page.get_by_role("button", name="Inloggen met DigiD").click()
    page.get_by_label("Burgerservicenummer (BSN) van een testpersoon").fill(bsn)
    page.get_by_role("button", name="Inloggen", exact=True).click()

    page.wait_for_selector("h1:has-text('Toestemming geven')")
    checkbox = page.get_by_label("Ik geef toestemming voor onbepaalde tijd")
    assert not checkbox.is_checked()  # never ticked for the person
    gegevensdiensten = page.locator("ul.gegevensdiensten li").all_text_contents()
    assert gegevensdiensten == ["Basisgegevens zorg (BgZ 3.0)", "Vaccinaties (1.0)"]
    page.get_by_role("button", name="Toestemming geven", exact=True).click()

    params = _back_at_pgo(page, pgo)
    assert params["state"] == "browser-1"
    with stack_client(stack, pgo.leaf) as client:
        response = exchange_code(client, endpoints, pgo, params["code"])
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()  # consent for this once only


def test_cancelling_on_the_landing_page_shows_the_annuleringspagina_then_goes_back(
    endpoints: Endpoints, pgo: Pgo, page: Page
) -> None:
    page.goto(authorize_url(endpoints, pgo, state="browser-2"))
    page.get_by_role("button", name="Annuleren").click()
    page.wait_for_selector("h1:has-text('Je hebt het ophalen van gegevens gestopt')")
    assert "Er zijn geen gegevens gedeeld met Demo PGO." in (page.text_content("main") or "")
    page.get_by_role("button", name="Terug naar Demo PGO").click()
    params = _back_at_pgo(page, pgo)
    assert params["error"] == "access_denied"
    assert params["error_description"] == "Authorization cancelled."
    assert params["state"] == "browser-2"
    assert "code" not in params


def test_a_failing_digid_login_goes_back_without_a_code(
    endpoints: Endpoints, pgo: Pgo, page: Page
) -> None:
    page.goto(authorize_url(endpoints, pgo, state="browser-3"))
    page.get_by_role("button", name="Inloggen met DigiD").click()
    page.get_by_role("button", name="Inloggen laten mislukken").click()
    params = _back_at_pgo(page, pgo)
    assert params["error"] == "unauthorized_client"
    assert params["error_description"] == "Authentication failed."
    assert params["state"] == "browser-3"
    assert "code" not in params
