"""The DVA screens as a person meets them: DigiD, toestemming, cancelling, and what goes wrong."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

import pytest
from lxml import html

from medmij_stack.authserver.digid import simulator
from medmij_stack.protocol.headers import new_id

from .browser import Browser, Landing, callback_params
from .conftest import TELEFOON, TestWorld
from .flows import REDIRECT_URI, STATE, authorize_url


def _text(landing: Landing) -> str:
    return str(html.fromstring(landing.response.text).text_content())


def _to_digid(browser: Browser, tw: TestWorld, scope: str = "ziekenhuistest") -> Landing:
    landing = browser.open(authorize_url(tw.front_url(), scope=scope))
    digid = browser.choose(landing, "action", "login")
    assert digid.response.status_code == 200
    return digid


def _back_at_pgo(landing: Landing) -> dict[str, str]:
    assert landing.url.startswith(REDIRECT_URI + "?"), (landing.url, landing.response.text)
    params = callback_params(landing.url)
    assert params["state"] == STATE
    return params


def test_the_digid_simulator_offers_the_test_persons(tw: TestWorld) -> None:
    with tw.browser() as browser:
        digid = _to_digid(browser, tw)
    page = html.fromstring(digid.response.text)
    offered = {option.get("value") for option in page.xpath("//datalist/option")}
    assert offered == {bsn for bsn, _ in tw.persons()}
    assert "simulator" in _text(digid)
    assert {f.fields["action"] for f in Browser.forms(digid.response)} == {
        "login",
        "fail",
        "cancel",
    }


def test_a_world_of_many_persons_lists_the_first_and_still_takes_any_of_them(
    tw: TestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A simulation world has a test person per simulated user: the screen lists a bounded
    # number (each login screen rendered thousands of rows before), the rest still log in.
    everyone = [bsn for bsn, _ in tw.persons()]
    at_hospital = [
        i for i, (_, where) in enumerate(tw.persons()) if "ziekenhuistest@medmij" in where
    ]
    listed_count = at_hospital[-1]  # the last person with data there is just not listed
    assert listed_count > 0
    monkeypatch.setattr(simulator, "LISTED_PERSONS", listed_count)
    with tw.browser() as browser:
        digid = _to_digid(browser, tw)
        page = html.fromstring(digid.response.text)
        offered = [option.get("value") for option in page.xpath("//datalist/option")]
        listed = [row.xpath("td")[1].text for row in page.xpath("//table/tbody/tr")]
        assert offered == listed == everyone[:listed_count]
        assert f"de eerste {listed_count} van de {len(everyone)} testpersonen" in _text(digid)
        consent = browser.choose(digid, "action", "login", bsn=everyone[listed_count])
    assert consent.response.status_code == 200
    assert "Toestemming geven" in _text(consent)


def test_consent_screen_names_pgo_zorgaanbieder_and_gegevensdiensten(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        consent = browser.choose(_to_digid(browser, tw), "action", "login", bsn=bsn)
    assert consent.response.status_code == 200
    text = _text(consent)
    assert "Toestemming geven" in text
    assert "Test PGO" in text
    assert "Ziekenhuis Teststad" in text
    # GNL names of the gegevensdiensten the beschikbaarheidstoets found.
    assert "Basisgegevens" in text
    assert "Vaccinaties" in text or "Vaccinatie" in text
    assert "toestemming voor onbepaalde tijd" in text
    page = html.fromstring(consent.response.text)
    (checkbox,) = page.xpath("//input[@name='langdurig']")
    assert checkbox.get("type") == "checkbox"
    assert checkbox.get("checked") is None  # never ticked unless the person ticks it
    decisions = {f.fields["decision"] for f in Browser.forms(consent.response)}
    assert decisions == {"allow", "deny"}


# "Toestemmingsverklaring, Core", AS 2.2.4
# (https://vzvz.atlassian.net/wiki/spaces/MMAfsprakenstelsel2/pages/1094975575): every
# sentence of its text, with <Naam Aanbieder> and <Naam PGO> as placeholders.
MANDATED_CONSENT_SENTENCES = (
    "Toestemming geven",
    "Wil je de gegevens die <Naam Aanbieder> over jou heeft in jouw PGO zetten?",
    "Dan heeft <Naam Aanbieder> jouw toestemming nodig om deze gegevens met <Naam PGO> te delen.",
    "<Naam Aanbieder> mag niet zonder jouw toestemming gegevens delen met een andere partij "
    "(lees ook de privacy verklaring van <Naam Aanbieder>).",
    "Toestemmingen zijn geldig voor onbepaalde tijd.",
    "Als je langer dan zes maanden geen gegevens in je PGO zet, is de langdurige toestemming "
    "niet meer geldig.",
    "De volgende keer dat je gegevens in jouw PGO wilt zetten, log je weer in met DigiD en "
    "geef je opnieuw toestemming.",
    "Toestemmingen die je voor onbepaalde tijd geeft, kun je altijd aanpassen.",
    "Dit doe je door in je PGO naar <Naam Aanbieder> te zoeken en te kiezen voor "
    "'Toestemmingen aanpassen'.",
    "Voor de verbinding met de computer van <Naam Aanbieder> heeft Stichting MedMij strenge "
    "regels gemaakt.",
    "<Naam PGO> volgt deze regels.",
    "Als je toestemming hebt gegeven, worden je gegevens in je PGO gezet via de veilige "
    "MedMij-verbinding.",
)


def _flat(landing: Landing) -> str:
    return " ".join(_text(landing).split())


def test_consent_screen_has_every_mandated_sentence_filled_in(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        consent = browser.choose(_to_digid(browser, tw), "action", "login", bsn=bsn)
    text = _flat(consent)
    # The names come from the world (zorgaanbieder) and the OCL (the PGO's organisation name).
    names = {"<Naam Aanbieder>": "Ziekenhuis Teststad", "<Naam PGO>": "Test PGO"}
    missing = []
    for sentence in MANDATED_CONSENT_SENTENCES:
        for placeholder, name in names.items():
            sentence = sentence.replace(placeholder, name)
        if sentence not in text:
            missing.append(sentence)
    assert missing == []
    assert "<Naam" not in text
    # The gegevensdiensten by their GNL names, not their ids.
    items = html.fromstring(consent.response.text).xpath("//ul[@class='gegevensdiensten']/li")
    assert [li.text_content() for li in items]
    assert all(not li.text_content().strip().isdigit() for li in items)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"client_id": "onbekend.pgo.localhost"}, "de client_id staat niet op de OAuth Client"),
        ({"redirect_uri": None}, "het verzoek heeft geen redirect_uri"),
        ({"redirect_uri": "https://evil.localhost/callback"}, "de redirect_uri is geen volledig"),
    ],
)
def test_the_error_page_gives_its_technical_reason_in_dutch(
    tw: TestWorld, overrides: dict[str, str | None], reason: str
) -> None:
    with tw.browser() as browser:
        page = browser.open(authorize_url(tw.front_url(), **overrides))  # type: ignore[arg-type]
    assert page.response.status_code == 400
    text = _flat(page)
    assert f"Technische reden: {reason}" in text
    # The English description is for the ketenlog, not for the person.
    assert "Invalid request" not in text
    assert "Invalid client" not in text


def test_refusing_consent_sends_access_denied_not_granted(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        end = browser.journey(authorize_url(tw.front_url()), bsn=bsn, decision="deny")
    params = _back_at_pgo(end)
    assert params == {
        "error": "access_denied",
        "error_description": "The request is not granted.",
        "state": STATE,
    }


def test_no_data_at_the_zorgaanbieder_sends_access_denied_not_granted(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        end = browser.journey(authorize_url(tw.front_url(), scope="huisartstest"), bsn=bsn)
    params = _back_at_pgo(end)
    assert params["error"] == "access_denied"
    assert params["error_description"] == "The request is not granted."
    (question, _, peer) = tw.resource.questions[-1]
    assert question.zorgaanbieder == "huisartstest@medmij"
    assert question.bsn == bsn
    assert peer == frozenset({"api.dva.localhost"})  # asked over mutual TLS, as the AS


# Headers that differ between any two responses, whatever they answer.
_PER_RESPONSE = frozenset({"date"})


def _on_the_wire(end: Landing) -> tuple[int, str, dict[str, str], bytes]:
    response = end.response
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _PER_RESPONSE}
    return response.status_code, end.url, headers, response.content


def test_no_data_and_a_refused_consent_are_the_same_redirect_on_the_wire(tw: TestWorld) -> None:
    # Autoriseren, uitzonderingen 1 and 2: the PGO may not tell them apart. Same status,
    # same Location (error, description, state), same headers and body.
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        refused = browser.journey(authorize_url(tw.front_url()), bsn=bsn, decision="deny")
    with tw.browser() as browser:
        no_data = browser.journey(authorize_url(tw.front_url(), scope="huisartstest"), bsn=bsn)
    assert _on_the_wire(refused) == _on_the_wire(no_data)
    assert refused.response.status_code == 303
    assert refused.response.headers.get("set-cookie") is None


def test_a_failed_digid_login_sends_unauthorized_client(tw: TestWorld) -> None:
    with tw.browser() as browser:
        end = browser.choose(_to_digid(browser, tw), "action", "fail")
    params = _back_at_pgo(end)
    assert params["error"] == "unauthorized_client"
    assert params["error_description"] == "Authentication failed."


def test_cancelling_at_digid_shows_the_annuleringspagina_then_returns(tw: TestWorld) -> None:
    with tw.browser() as browser:
        cancelled = browser.choose(_to_digid(browser, tw), "action", "cancel")
        assert cancelled.response.status_code == 200
        assert "gestopt" in _text(cancelled)
        assert "Test PGO" in _text(cancelled)
        back = browser.submit(cancelled, Browser.forms(cancelled.response)[0])
    params = _back_at_pgo(back)
    assert params["error"] == "access_denied"
    assert params["error_description"] == "Authorization cancelled."


def test_cancelling_on_the_landing_page_returns_the_same_way(tw: TestWorld) -> None:
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url()))
        cancelled = browser.choose(landing, "action", "cancel")
        assert "gestopt" in _text(cancelled)
        back = browser.submit(cancelled, Browser.forms(cancelled.response)[0])
    assert _back_at_pgo(back)["error_description"] == "Authorization cancelled."


def test_an_unknown_bsn_is_asked_again_without_leaving_digid(tw: TestWorld) -> None:
    with tw.browser() as browser:
        digid = _to_digid(browser, tw)
        wrong = browser.choose(digid, "action", "login", bsn="123456789")
        assert wrong.response.status_code == 400
        assert "geen geldig BSN" in _text(wrong)
        unknown = browser.choose(digid, "action", "login", bsn="999999990")
        assert "hoort niet bij een testpersoon" in _text(unknown)
        again = browser.choose(wrong, "action", "login", bsn=tw.bsn_at("ziekenhuistest@medmij"))
    assert again.response.status_code == 200
    assert "Toestemming geven" in _text(again)


def test_technische_storing_when_the_beschikbaarheidstoets_fails(tw: TestWorld) -> None:
    tw.resource.down = True
    trace_id = new_id()
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url(), correlation_id=trace_id))
        digid = browser.choose(landing, "action", "login")
        storing = browser.choose(digid, "action", "login", bsn=tw.bsn_at("ziekenhuistest@medmij"))
    assert storing.response.status_code == 503
    text = _text(storing)
    assert "Technische storing" in text
    assert "Het is op dit moment niet mogelijk om toestemming te geven of aan te passen" in text
    # Whom to call, and the ids to quote (Technische storing, Core).
    flat = " ".join(text.split())
    assert f"Test DVA, {TELEFOON}" in flat
    assert "Er wordt gewerkt aan een oplossing. Excuses voor het ongemak." in flat
    assert "Test DVA is de leverancier van het computersysteem van Ziekenhuis Teststad." in flat
    session_id = tw.app_state().dva.ketenlog.records(trace_id=trace_id)[0].event.session_id
    (ids,) = html.fromstring(storing.response.text).xpath("//dl[@class='ids']")
    shown = dict(zip(ids.xpath("dt/text()"), ids.xpath("dd/text()"), strict=True))
    assert shown == {"Trace ID": trace_id, "Session ID": session_id}
    (link,) = html.fromstring(storing.response.text).xpath("//a[@class='button']/@href")
    params = callback_params(link)
    assert link.startswith(REDIRECT_URI + "?")
    assert params["error_description"] == "Authorization failed."
    assert params["state"] == STATE


def test_only_available_gegevensdiensten_are_offered(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    tw.resource.partial[("ziekenhuistest@medmij", bsn)] = ("63",)
    with tw.browser() as browser:
        consent = browser.choose(_to_digid(browser, tw), "action", "login", bsn=bsn)
    text = _text(consent)
    assert "Vaccinaties" in text or "Vaccinatie" in text
    assert "Basisgegevens" not in text


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(tw: TestWorld) -> None:
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url()))
        refused = browser.choose(landing, "action", "login", csrf_token="wrong")
        assert refused.response.status_code == 400
        missing = browser.choose(landing, "action", "login", csrf_token=None)
        assert missing.response.status_code == 400
        # The real form still works: nothing moved on.
        digid = browser.choose(landing, "action", "login")
    assert digid.response.status_code == 200
    assert "DigiD" in _text(digid)


def test_another_browser_cannot_take_over_a_flow(tw: TestWorld) -> None:
    with tw.browser() as mine, tw.browser() as theirs:
        landing = mine.open(authorize_url(tw.front_url()))
        form = Browser.forms(landing.response)[0]
        stolen = theirs.submit(landing, form)
        assert stolen.response.status_code == 400
        assert "niet vinden" in _text(stolen)
        flow_page = theirs.open(landing.url.split("/oauth/authorize")[0] + form.action)
    assert flow_page.response.status_code == 400


def test_a_consent_form_posted_twice_issues_one_code(tw: TestWorld) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with tw.browser() as browser:
        consent = browser.choose(_to_digid(browser, tw), "action", "login", bsn=bsn)
        first = browser.choose(consent, "decision", "allow")
        second = browser.choose(consent, "decision", "allow")
    assert "code" in _back_at_pgo(first)
    assert second.response.status_code == 400
    assert "al afgerond" in _text(second)


def test_an_expired_flow_offers_the_way_back_with_authorization_failed(tw: TestWorld) -> None:
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url()))
        flow_id = urlsplit(Browser.forms(landing.response)[0].action).path.rsplit("/", 1)[-1]
        with sqlite3.connect(tw.database()) as db:
            db.execute(
                "UPDATE authorization_flows SET expires_at = '2000-01-01 00:00:00' WHERE id = ?",
                (flow_id,),
            )
        late = browser.choose(landing, "action", "login")
    assert late.response.status_code == 400
    assert "te lang gewacht" in _text(late)
    (link,) = html.fromstring(late.response.text).xpath("//a[@class='button']/@href")
    assert callback_params(link)["error_description"] == "Authorization failed."


def test_reloading_a_flow_page_shows_the_current_step(tw: TestWorld) -> None:
    with tw.browser() as browser:
        landing = browser.open(authorize_url(tw.front_url()))
        flow_url = (
            landing.url.split("/oauth/authorize")[0] + Browser.forms(landing.response)[0].action
        )
        browser.choose(landing, "action", "login")
        again = browser.open(flow_url)
    assert again.response.status_code == 200
    assert "Testpersonen" in _text(again)  # the DigiD step


def test_the_front_page_links_to_the_metadata(tw: TestWorld) -> None:
    with tw.client() as browser:
        page = browser.get(tw.front_url() + "/")
        css = browser.get(tw.front_url() + "/static/dva.css")
    assert page.status_code == 200
    links = html.fromstring(page.text).xpath("//a/@href")
    assert tw.back_url() + "/.well-known/oauth-authorization-server" in links
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_a_fault_of_our_own_shows_technische_storing_not_a_stack_trace(
    tw: TestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tw.app_state().dva.sessions, "start", broken)
    with tw.client() as browser:
        response = browser.get(authorize_url(tw.front_url()))
    assert response.status_code == 503
    text = html.fromstring(response.text).text_content()
    assert "Technische storing" in text
    assert "Trace ID" in text
    assert "database went away" not in text
    assert "Traceback" not in text
