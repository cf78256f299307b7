"""The PGO as a patient uses it, against the wired stack (`medmij up`), over real HTTPS.

A demo account logs in, searches the ZAL, and fetches from every zorgaanbieder of the
default world through the real DVA (landing page, DigiD simulator, toestemming), the real
token endpoint over mutual TLS and the real resource server; then the ways it goes wrong
that a person meets: the huisarts that shares nothing, a cancelled DigiD login, a refused
consent, and a langdurige toestemming revoked (from the PGO, and at the DVA). Each ends
with the Dutch message the person reads and the failure reason the PGO recorded in its
own store. One stack for the module: starting one costs seconds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from lxml import html

from medmij_stack.runtime.net import make_client
from tests.authserver.browser import Browser, Landing
from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e

ZIEKENHUIS = "ziekenhuisdemo@medmij"
GGD = "ggddemo@medmij"
HUISARTS = "huisartsdemo@medmij"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # All the health wait start_stack allows: the resource server loads its data first.
    running = start_stack(tmp_path_factory.mktemp("pgo-stack"), "--timeout", "85")
    yield running
    running.stop()


def _text(response: httpx.Response) -> str:
    main = html.fromstring(response.text).xpath("//main")
    return " ".join((main[0].text_content() if main else response.text).split())


class Patient:
    """A browser without JavaScript, on the PGO and at the DVA."""

    def __init__(self, stack: RunningStack, account: dict[str, str]) -> None:
        self.stack = stack
        self.account = account
        self.pgo = stack.info["pgo"]
        self.client = make_client(trust=[stack.ca], hosts=stack.hosts, timeout=60)

    def close(self) -> None:
        self.client.close()

    def page(self, path: str) -> httpx.Response:
        return self.client.get(urljoin(self.pgo, path))

    def form(
        self,
        response: httpx.Response,
        name: str,
        value: str | None = None,
        *,
        action: str | None = None,
    ) -> dict[str, list[str]]:
        """The fields of the first form with ``name`` (= ``value``), posting to ``action``."""
        for form in html.fromstring(response.text).forms:
            if action is not None and form.get("action") != action:
                continue
            values = list(form.form_values())
            if (value is None and name in form.inputs.keys()) or (name, value) in values:  # noqa: SIM118
                data: dict[str, list[str]] = {}
                for field, given in values:
                    data.setdefault(field, []).append(given)
                return data
        raise AssertionError(f"no form with {name}={value} on {response.url}")

    def log_in(self) -> None:
        page = self.page("/inloggen")
        fields = self.form(page, "wachtwoord")
        fields.update(
            gebruikersnaam=[self.account["gebruikersnaam"]], wachtwoord=[self.account["wachtwoord"]]
        )
        answer = self.client.post(urljoin(self.pgo, "/inloggen"), data=fields)
        assert answer.status_code == 303, answer.text

    def csrf(self) -> str:
        found = html.fromstring(self.page("/").text).xpath("//input[@name='csrf_token']/@value")
        return str(found[0])

    def choose(self, zorgaanbieder: str) -> str:
        """ "Gegevens ophalen" at ``zorgaanbieder``: where the PGO sends the browser."""
        search = self.page("/zorgaanbieders")
        answer = self.client.post(
            urljoin(self.pgo, "/ophalen"), data=self.form(search, "zorgaanbieder", zorgaanbieder)
        )
        assert answer.status_code == 303, answer.text
        return urljoin(self.pgo, answer.headers["location"])

    def dva(self, url: str) -> Browser:
        parts = urlsplit(url)
        return Browser(self.client, f"{parts.scheme}://{parts.netloc}")

    def back_at_pgo(self, landing: Landing) -> tuple[str, httpx.Response]:
        """The callback on the PGO, then the outcome page it sends the browser to."""
        assert landing.url.startswith(self.pgo + "/medmij/terug?"), (
            landing.url,
            landing.response.text,
        )
        callback = self.client.get(landing.url)
        assert callback.status_code == 303, callback.text
        location = urljoin(self.pgo, callback.headers["location"])
        return location.rsplit("/", 1)[1], self.client.get(location)

    def fetch(
        self, zorgaanbieder: str, *, decision: str = "allow", langdurig: bool = False
    ) -> tuple[str, httpx.Response]:
        url = self.choose(zorgaanbieder)
        end = self.dva(url).journey(
            url, bsn=self.account["bsn"], decision=decision, langdurig=langdurig
        )
        return self.back_at_pgo(end)

    def view(self, flow_id: str) -> dict[str, Any]:
        answer = self.client.get(
            urljoin(self.pgo, f"/ophalen/{flow_id}"), headers={"Accept": "application/json"}
        )
        assert answer.status_code == 200
        data = answer.json()
        assert isinstance(data, dict)
        return data


def _funnel_end(stack: RunningStack, flow_id: str) -> dict[str, Any]:
    """The flow-end the PGO recorded in its own store."""
    with sqlite3.connect(stack.data_dir / "pgo" / "pgo.sqlite3") as db:
        rows = db.execute(
            "SELECT event FROM funnel_events WHERE flow_id = ? AND name = 'verzamelen.flow-end'",
            (flow_id,),
        ).fetchall()
    assert len(rows) == 1, rows
    event = json.loads(rows[0][0])
    assert isinstance(event, dict)
    return event


@pytest.fixture
def patient(stack: RunningStack) -> Iterator[Patient]:
    """The demo account of the first test person, who has data at every sharing zorgaanbieder."""
    account = stack.info["pgo_accounts"][0]
    first = stack.info["digid_test_persons"][0]
    assert account["bsn"] == first["bsn"]
    assert {ZIEKENHUIS, GGD} <= set(first["zorgaanbieders"])
    someone = Patient(stack, account)
    someone.log_in()
    yield someone
    someone.close()


def test_a_demo_account_fetches_from_every_zorgaanbieder_and_sees_the_records(
    stack: RunningStack, patient: Patient
) -> None:
    search = patient.page("/zorgaanbieders")
    listed = {
        value
        for values in (
            patient.form(search, "zorgaanbieder", z) for z in (ZIEKENHUIS, GGD, HUISARTS)
        )
        for value in values["zorgaanbieder"]
    }
    assert listed == {ZIEKENHUIS, GGD, HUISARTS}

    flow_id, page = patient.fetch(ZIEKENHUIS)
    assert "Je gegevens zijn opgehaald" in _text(page), _text(page)
    view = patient.view(flow_id)
    assert view["outcome"] == "succes"
    services = {s["id"]: s for s in view["gegevensdiensten"]}
    assert services["63"]["resources"].get("Immunization", 0) >= 1
    assert services["48"]["resources"].get("Patient") == 1
    assert _funnel_end(stack, flow_id)["outcome"] == "succes"

    flow_id, page = patient.fetch(GGD)
    assert "Je gegevens zijn opgehaald" in _text(page)

    # An AS 2.x DVA answers "nothing here" as it answers a refusal, so the PGO says both.
    flow_id, page = patient.fetch(HUISARTS)
    assert "Er zijn geen gegevens gedeeld" in _text(page)
    assert "of als Huisartsenpraktijk De Demo geen gegevens van jou heeft" in _text(page)
    end = _funnel_end(stack, flow_id)
    assert (end["reason"], end["step"]) == ("toestemming-geweigerd", "digid")

    vaccinations = patient.page("/gegevens/vaccinaties")
    shown = _text(vaccinations)
    assert "Ziekenhuis Demostad, Vaccinaties (1.0)" in shown
    assert "GGD Demoregio, Vaccinaties (1.0)" in shown
    assert (
        len(html.fromstring(vaccinations.text).xpath("//table[@class='vaccinations']/tbody/tr"))
        >= 2
    )
    problems = patient.page("/gegevens/problemen")
    assert "Bron: Ziekenhuis Demostad, Basisgegevens zorg (BgZ 3.0)" in _text(problems)
    overview = _text(patient.page("/"))
    assert "Niet opgehaald" not in overview
    history = _text(patient.page("/geschiedenis"))
    assert history.count("Gelukt") >= 2
    assert "Er zijn geen gegevens gedeeld" in history


def test_a_cancelled_digid_login_and_a_refused_consent_are_said_and_counted(
    stack: RunningStack, patient: Patient
) -> None:
    url = patient.choose(GGD)
    browser = patient.dva(url)
    digid = browser.choose(browser.open(url), "action", "login")
    cancelled = browser.choose(digid, "action", "cancel")
    back = browser.submit(cancelled, Browser.forms(cancelled.response)[0])
    flow_id, page = patient.back_at_pgo(back)
    assert "Je bent gestopt met inloggen" in _text(page)
    assert _funnel_end(stack, flow_id)["reason"] == "digid-geannuleerd"

    url = patient.choose(GGD)
    browser = patient.dva(url)
    digid = browser.choose(browser.open(url), "action", "login")
    failed = browser.choose(digid, "action", "fail")
    flow_id, page = patient.back_at_pgo(failed)
    assert "Inloggen met DigiD is niet gelukt" in _text(page)
    assert _funnel_end(stack, flow_id)["reason"] == "digid-mislukt"

    flow_id, page = patient.fetch(ZIEKENHUIS, decision="deny")
    assert "Er zijn geen gegevens gedeeld" in _text(page)
    assert "Dat gebeurt als je geen toestemming gaf" in _text(page)
    end = _funnel_end(stack, flow_id)
    assert (end["reason"], end["step"]) == ("toestemming-geweigerd", "digid")


def _grants(stack: RunningStack) -> list[tuple[str, str | None]]:
    database = stack.data_dir / "authserver-demo-dva" / "authserver.sqlite3"
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT id, revoked_at FROM grants WHERE langdurig = 1 AND zorgaanbieder = ? "
            "ORDER BY granted_at",
            (ZIEKENHUIS,),
        ).fetchall()


def test_a_langdurige_toestemming_revoked_from_the_pgo_and_at_the_dva(
    stack: RunningStack, patient: Patient
) -> None:
    flow_id, page = patient.fetch(ZIEKENHUIS, langdurig=True)
    assert "Je gegevens zijn opgehaald" in _text(page)
    consents = patient.page("/toestemmingen")
    assert "Ziekenhuis Demostad" in _text(consents)
    # Fetching again needs no login: the refresh token does it.
    now = patient.form(consents, "zorgaanbieder", ZIEKENHUIS, action="/ophalen")
    again = patient.client.post(urljoin(patient.pgo, "/ophalen"), data=now)
    assert again.headers["location"].startswith("/ophalen/")
    assert patient.view(again.headers["location"].rsplit("/", 1)[1])["outcome"] == "succes"

    consents = patient.page("/toestemmingen")
    revoke = patient.form(consents, "zorgaanbieder", ZIEKENHUIS, action="/toestemmingen/intrekken")
    answer = patient.client.post(urljoin(patient.pgo, "/toestemmingen/intrekken"), data=revoke)
    assert answer.status_code == 303
    assert "Je toestemming is ingetrokken" in _text(patient.page(answer.headers["location"]))
    grant_id, revoked_at = _grants(stack)[-1]
    assert revoked_at is not None  # the DVA heard it (RFC 7009)

    # A new one, then revoked at the DVA itself (say, at the zorgaanbieder's own portal).
    patient.fetch(ZIEKENHUIS, langdurig=True)
    grant_id, _ = _grants(stack)[-1]
    with sqlite3.connect(stack.data_dir / "authserver-demo-dva" / "authserver.sqlite3") as db:
        db.execute("UPDATE grants SET revoked_at = '2026-01-01 00:00:00' WHERE id = ?", (grant_id,))
        db.execute(
            "UPDATE tokens SET refresh_revoked_at = '2026-01-01 00:00:00' WHERE grant_id = ?",
            (grant_id,),
        )
    url = patient.choose(ZIEKENHUIS)
    assert urlsplit(url).path.startswith("/ophalen/")  # the PGO tried its refresh token
    page = patient.client.get(url)
    assert "Geef opnieuw toestemming" in _text(page)
    assert "Opnieuw toestemming geven" in _text(page)
    flow_id = url.rsplit("/", 1)[1]
    end = _funnel_end(stack, flow_id)
    assert (end["reason"], end["step"]) == ("token-fout", "uitwisseling")
    assert "Deze toestemming geldt niet meer" in _text(patient.page("/toestemmingen"))
