"""The scripted patient: forms read as a browser reads them, and every way through the DVA.

The first tests read HTML without a stack. The rest drive a real `medmij up` (one per
session, tests/wiring/conftest.py) through the PGO's pages: each behaviour at the DVA
must end in the PGO's own Dutch message and the failure reason of the taxonomy
(``medmij_stack.pgo.situations``), and the attempt the PGO recorded must be the one the
patient made (its database, read directly).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from medmij_stack.pgo.situations import Situation
from medmij_stack.protocol.funnel import Device, FailureReason, Outcome
from medmij_stack.wiring.patient import (
    Abandon,
    AtConsent,
    AtDigid,
    AtLanding,
    AttemptResult,
    Behaviour,
    LoginFailed,
    PgoAccount,
    ScriptedPatient,
    StackError,
    StackInfo,
    Step,
)
from medmij_stack.wiring.patient.html_forms import read_page
from tests.e2e.conftest import RunningStack

HOSPITAL = "ziekenhuisdemo@medmij"

_SEARCH_PAGE = """<!doctype html><html lang="nl"><body><main>
<h1>Gegevens ophalen</h1>
<form method="get" action="/zorgaanbieders" role="search">
  <input type="search" name="zoek" value="">
  <select name="gegevensdienst"><option value="">Alle soorten</option>
    <option value="48" selected>BgZ</option></select>
  <button type="submit">Zoeken</button>
</form>
<ul><li><h3>Ziekenhuis Demostad</h3>
<form method="post" action="/ophalen">
  <input type="hidden" name="csrf_token" value="t0k3n">
  <input type="hidden" name="zorgaanbieder" value="ziekenhuisdemo@medmij">
  <input type="checkbox" id="d48" name="gegevensdienst" value="48" checked>
  <label for="d48">Basisgegevens zorg</label>
  <label><input type="checkbox" name="gegevensdienst" value="63" checked> Vaccinaties</label>
  <input type="checkbox" name="gegevensdienst" value="99" disabled>
  <button type="submit" name="knop" value="ophalen">Ophalen</button>
</form></li></ul>
<p role="status">Klaar</p><p role="alert">Let op</p>
</main></body></html>"""


# --- reading pages, without a stack ----------------------------------------------------------


def test_a_form_is_sent_as_a_browser_sends_it() -> None:
    page = read_page(_SEARCH_PAGE, "https://pgo.localhost:8443/zorgaanbieders?zoek=x", 200)
    assert page.title == "Gegevens ophalen"
    assert page.alerts == ("Let op",)
    assert page.notices == ("Klaar", "Let op")
    search, fetch = page.forms
    assert search.action == "https://pgo.localhost:8443/zorgaanbieders"
    assert search.submission({"zoek": "demo"}) == [("zoek", "demo"), ("gegevensdienst", "48")]
    assert fetch.heading == "Ziekenhuis Demostad"
    assert [(b.value, b.label, b.checked) for b in fetch.options("gegevensdienst")] == [
        ("48", "Basisgegevens zorg", True),
        ("63", "Vaccinaties", True),
    ]
    # Both boxes as the page has them, the CSRF token, and the button a person clicks.
    assert fetch.submission() == [
        ("csrf_token", "t0k3n"),
        ("zorgaanbieder", "ziekenhuisdemo@medmij"),
        ("gegevensdienst", "48"),
        ("gegevensdienst", "63"),
        ("knop", "ophalen"),
    ]
    # Ticking only one, and a field the page lacks (the app's device hint).
    assert fetch.submission({"apparaat": "app"}, check={"gegevensdienst": ["63"]}) == [
        ("csrf_token", "t0k3n"),
        ("zorgaanbieder", "ziekenhuisdemo@medmij"),
        ("gegevensdienst", "63"),
        ("apparaat", "app"),
        ("knop", "ophalen"),
    ]


def test_a_box_the_page_does_not_offer_cannot_be_ticked() -> None:
    fetch = read_page(_SEARCH_PAGE, "https://pgo.localhost/zorgaanbieders", 200).forms[1]
    with pytest.raises(ValueError, match="no gegevensdienst checkbox for 99"):
        fetch.submission(check={"gegevensdienst": ["48", "99"]})


def test_an_empty_answer_is_a_page_without_forms() -> None:
    page = read_page("", "https://pgo.localhost/", 502)
    assert (page.status, page.title, page.forms) == (502, "", ())


def test_stack_json_missing_or_unusable_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"no running stack at .*`medmij up --data-dir"):
        StackInfo.load(tmp_path)
    (tmp_path / "stack.json").write_text('{"pgo": "https://pgo.localhost"}', "utf-8")
    with pytest.raises(StackError, match="'ca' is missing"):
        StackInfo.load(tmp_path)
    (tmp_path / "stack.json").write_text("[1, 2", "utf-8")
    with pytest.raises(StackError, match="cannot be read"):
        StackInfo.load(tmp_path)


# --- against the running stack ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stack_info(running_stack: RunningStack) -> StackInfo:
    return StackInfo.load(running_stack.data_dir)


@pytest.fixture(scope="module")
def account(stack_info: StackInfo) -> PgoAccount:
    """The demo account of the first test person with data at the hospital."""
    for person in stack_info.persons:
        found = stack_info.account_for(person.bsn)
        if HOSPITAL in person.zorgaanbieders and found is not None:
            return found
    raise LookupError("no demo account of a person with data at the hospital")


def _attempt(running_stack: RunningStack, flow_id: str) -> sqlite3.Row:
    """The PGO's own record of an attempt (its SQLite database in the data dir)."""
    path = running_stack.data_dir / "pgo" / "pgo.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM attempts WHERE flow_id = ?", (flow_id,)).fetchone()
    assert row is not None, flow_id
    return row


def _fetch(
    stack_info: StackInfo,
    account: PgoAccount,
    behaviour: Behaviour,
    *,
    device: Device = Device.PC,
) -> AttemptResult:
    async def run() -> AttemptResult:
        async with ScriptedPatient.for_account(stack_info, account, device=device) as patient:
            await patient.log_in()
            return await patient.fetch(HOSPITAL, behaviour)

    return asyncio.run(run())


def _told(result: AttemptResult, situation: Situation) -> None:
    """The person saw the PGO's message for ``situation``, with the zorgaanbieder's name."""
    assert result.message is not None
    message = situation.message
    assert result.message.title == message.title
    assert message.what.format(zorgaanbieder="Ziekenhuis Demostad", helpdesk="") in (
        result.message.text
    )
    assert result.outcome is Outcome.FAILURE
    assert result.reason is situation.reason
    assert (result.source, result.situation) == ("json", situation.value)


@pytest.mark.e2e
def test_cancelling_at_the_landing_page(
    running_stack: RunningStack, stack_info: StackInfo, account: PgoAccount
) -> None:
    result = _fetch(stack_info, account, Behaviour(landing=AtLanding.CANCEL))
    _told(result, Situation.GEANNULEERD)
    assert result.reason is FailureReason.DIGID_CANCELLED
    steps = [t.step for t in result.timings]
    assert steps == [Step.LOGIN, Step.SEARCH, Step.AUTHORIZE, Step.CANCELLATION, Step.CALLBACK]
    assert all(t.seconds > 0 and t.requests > 0 for t in result.timings)
    assert not any("/digid/" in url for url in result.visited)
    assert result.flow_id is not None
    recorded = _attempt(running_stack, result.flow_id)
    assert (recorded["outcome"], recorded["reason"]) == ("mislukt", "digid-geannuleerd")


@pytest.mark.e2e
def test_a_failed_digid_login(
    running_stack: RunningStack, stack_info: StackInfo, account: PgoAccount
) -> None:
    result = _fetch(stack_info, account, Behaviour(digid=AtDigid.FAIL))
    _told(result, Situation.DIGID_MISLUKT)
    assert result.reason is FailureReason.DIGID_FAILED
    assert [t.step for t in result.timings][-2:] == [Step.DIGID, Step.CALLBACK]
    assert result.flow_id is not None
    assert _attempt(running_stack, result.flow_id)["reason"] == "digid-mislukt"


@pytest.mark.e2e
def test_cancelling_at_digid(stack_info: StackInfo, account: PgoAccount) -> None:
    result = _fetch(stack_info, account, Behaviour(digid=AtDigid.CANCEL))
    _told(result, Situation.GEANNULEERD)
    assert [t.step for t in result.timings][-3:] == [Step.DIGID, Step.CANCELLATION, Step.CALLBACK]


@pytest.mark.e2e
def test_denying_consent(
    running_stack: RunningStack, stack_info: StackInfo, account: PgoAccount
) -> None:
    result = _fetch(stack_info, account, Behaviour(consent=AtConsent.DENY), device=Device.APP)
    # The DVA answers a refusal as it answers "no data": the PGO's one message for both.
    _told(result, Situation.NIET_GEDEELD)
    assert result.reason is FailureReason.CONSENT_DENIED
    assert [t.step for t in result.timings][-3:] == [Step.DIGID, Step.CONSENT, Step.CALLBACK]
    assert result.flow_id is not None
    recorded = _attempt(running_stack, result.flow_id)
    assert (recorded["reason"], recorded["device"]) == ("toestemming-geweigerd", "app")


@pytest.mark.e2e
def test_a_person_who_leaves_at_the_consent_page_has_no_outcome_yet(
    running_stack: RunningStack, stack_info: StackInfo, account: PgoAccount
) -> None:
    result = _fetch(stack_info, account, Behaviour(abandon=Abandon.AT_CONSENT), device=Device.WEB)
    assert (result.outcome, result.abandoned, result.message) == (None, Abandon.AT_CONSENT, None)
    assert result.flow_id is not None
    recorded = _attempt(running_stack, result.flow_id)
    assert (recorded["stage"], recorded["outcome"], recorded["device"]) == ("bij-dva", None, "web")


@pytest.mark.e2e
def test_langdurige_toestemming_fetches_again_without_the_dva_until_revoked(
    stack_info: StackInfo, account: PgoAccount
) -> None:
    async def run() -> tuple[AttemptResult, AttemptResult, bool | None, AttemptResult]:
        async with ScriptedPatient.for_account(stack_info, account) as patient:
            await patient.log_in()
            try:
                first = await patient.fetch(HOSPITAL, Behaviour(langdurig=True))
                # A person who would cancel at the DVA never gets there: the PGO fetches.
                again = await patient.fetch(HOSPITAL, Behaviour(landing=AtLanding.CANCEL))
            finally:
                revoked = await patient.revoke(HOSPITAL)
            after = await patient.fetch(HOSPITAL, Behaviour(abandon=Abandon.AT_LANDING))
            return first, again, revoked, after

    first, again, revoked, after = asyncio.run(run())
    assert first.succeeded
    assert not first.without_dva
    assert first.message is not None
    assert first.message.title == Situation.GELUKT.message.title
    assert again.succeeded
    assert again.without_dva
    assert again.flow_id not in (None, first.flow_id)
    assert Step.DIGID not in [t.step for t in again.timings]
    assert revoked is True
    assert after.abandoned is Abandon.AT_LANDING
    assert not after.without_dva


@pytest.mark.e2e
def test_patients_side_by_side_keep_to_their_own_sessions(stack_info: StackInfo) -> None:
    people = [
        (p, a)
        for p in stack_info.persons
        if HOSPITAL in p.zorgaanbieders and (a := stack_info.account_for(p.bsn)) is not None
    ][:3]
    assert len(people) == 3, "the demo world has three persons with data at the hospital"
    behaviours = [
        Behaviour(landing=AtLanding.CANCEL),
        Behaviour(digid=AtDigid.FAIL),
        Behaviour(consent=AtConsent.DENY),
    ]

    async def one(account: PgoAccount, behaviour: Behaviour) -> AttemptResult:
        async with ScriptedPatient.for_account(stack_info, account) as patient:
            await patient.log_in()
            return await patient.fetch(HOSPITAL, behaviour)

    async def run() -> list[AttemptResult]:
        return await asyncio.gather(
            *(one(account, b) for (_, account), b in zip(people, behaviours, strict=True))
        )

    results = asyncio.run(run())
    assert [r.reason for r in results] == [
        FailureReason.DIGID_CANCELLED,
        FailureReason.DIGID_FAILED,
        FailureReason.CONSENT_DENIED,
    ]
    assert len({r.flow_id for r in results}) == 3


@pytest.mark.e2e
def test_a_wrong_password_is_refused_with_the_pgo_s_words(
    stack_info: StackInfo, account: PgoAccount
) -> None:
    wrong = PgoAccount(account.gebruikersnaam + "-niet", "fout-wachtwoord", account.bsn, "")

    async def run() -> None:
        async with ScriptedPatient.for_account(stack_info, wrong) as patient:
            await patient.log_in()

    with pytest.raises(LoginFailed, match="horen niet bij elkaar") as refused:
        asyncio.run(run())
    assert refused.value.step is Step.LOGIN
    assert refused.value.status == 400


@pytest.mark.e2e
def test_a_kept_browser_stays_logged_in_until_a_search_is_left_open(
    running_stack: RunningStack, stack_info: StackInfo, account: PgoAccount
) -> None:
    from medmij_stack.wiring.patient.browsers import Browsers

    browsers = Browsers()
    key = ("pgo", account.gebruikersnaam)

    async def attempt(behaviour: Behaviour) -> tuple[bool, list[str], AttemptResult]:
        async with browsers.lend(key, stack_info, account) as browser:
            await browser.patient.log_in()
            result = await browser.patient.fetch(HOSPITAL, behaviour)
            if result.abandoned is not Abandon.AT_SEARCH:
                browser.keep()
            return browser.reused, list(result.visited), result

    async def run() -> list[tuple[bool, list[str], AttemptResult]]:
        try:
            return [
                await attempt(Behaviour(landing=AtLanding.CANCEL)),
                await attempt(Behaviour(consent=AtConsent.DENY)),
                await attempt(Behaviour(abandon=Abandon.AT_SEARCH)),
                await attempt(Behaviour(landing=AtLanding.CANCEL)),
            ]
        finally:
            await browsers.close()

    results = asyncio.run(run())
    assert [reused for reused, _, _ in results] == [False, True, True, False]
    # The kept browser found its session: the login page sent it on to the overview, and
    # no login form was posted (the PGO's login is a POST to /inloggen).
    first, second = results[0][1], results[1][1]
    assert first.count(stack_info.pgo + "/inloggen") == 2
    assert second.count(stack_info.pgo + "/inloggen") == 1
    # Each attempt is one of the PGO's own, in the session it was made in.
    flows = [result.flow_id for _, _, result in results if result.flow_id]
    assert len(set(flows)) == len(flows) == 3
    sessions = {_attempt(running_stack, flow)["session_id"] for flow in flows[:2]}
    assert len(sessions) == 1
    assert _attempt(running_stack, flows[2])["session_id"] not in sessions
