"""Langdurige toestemming: fetching again without a login, the refresh job, the six-month
lapse, and revocation (RFC 7009) from "Toestemmingen aanpassen"."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import httpx
from sqlalchemy import text as sql

from medmij_stack.pgo.consents import ConsentStatus, ConsentView
from medmij_stack.protocol.funnel import Device, FailureReason, FunnelStep, Initiator
from medmij_stack.protocol.ketenlog import EventType

from .harness import GGD, ZIEKENHUIS, Person, PgoWorld, text


async def _with_consent(pw: PgoWorld, person: Person, zorgaanbieder: str = ZIEKENHUIS) -> str:
    flow_id, page = await person.fetch(zorgaanbieder, langdurig=True)
    assert "Je gegevens zijn opgehaald" in text(page)
    return flow_id


def _account(pw: PgoWorld, flow_id: str) -> str:
    attempt = pw.pgo.attempts.get(flow_id)
    assert attempt is not None
    return attempt.account_id


async def test_a_langdurige_toestemming_is_kept_sealed_and_listed(
    pw: PgoWorld, person: Person
) -> None:
    flow_id = await _with_consent(pw, person)
    (consent,) = pw.pgo.consents.of_account(_account(pw, flow_id))
    assert consent.status is ConsentStatus.ACTIEF
    assert consent.gegevensdiensten == ("48", "63")
    (refresh_token,) = pw.dva.refresh_tokens
    with pw.pgo.db.read() as session:
        stored = session.execute(sql("SELECT refresh_token FROM consents")).scalar_one()
    assert refresh_token not in stored
    page = await person.client.get("/toestemmingen")
    assert "Ziekenhuis Teststad" in text(page)
    assert "Toestemming intrekken" in text(page)
    search = await person.client.get("/zorgaanbieders")
    assert "Toestemmingen aanpassen" in text(search)


async def test_fetching_again_uses_the_refresh_token_and_no_login(
    pw: PgoWorld, person: Person
) -> None:
    await _with_consent(pw, person)
    pw.retrieval.calls.clear()
    chosen = await person.choose(ZIEKENHUIS)
    assert chosen.status_code == 303
    assert chosen.headers["location"].startswith("/ophalen/")  # not to the DVA
    flow_id = chosen.headers["location"].rsplit("/", 1)[1]
    token_request = pw.dva.token_requests()[-1]
    form = dict(parse_qsl(token_request.content.decode()))
    assert form["grant_type"] == "refresh_token"
    assert token_request.headers["X-Correlation-ID"] == flow_id  # a new one for the refresh
    assert len(pw.retrieval.calls) == 2
    names = [e.name for e in pw.funnel(flow_id)]
    assert FunnelStep.INGELOGD_BIJ_DVA not in names  # no DVA login happened
    assert pw.funnel(flow_id)[-1].reason is None
    assert pw.funnel(flow_id)[-1].initiator is Initiator.PERSON
    refresh = [r for r in pw.ketenlog(flow_id) if r.event.type is EventType.SEND_TOKEN_REQUEST]
    assert refresh[0].request is not None
    assert refresh[0].request.grant_type == "refresh_token"
    # The rotated refresh token is the one kept.
    assert len(pw.dva.refresh_tokens) == 1


async def test_the_background_job_refreshes_before_the_lapse_as_the_system(
    pw: PgoWorld, person: Person
) -> None:
    first = await _with_consent(pw, person)
    account = _account(pw, first)
    assert await pw.pgo.verzamelen.refresh_due() == []  # nothing due yet
    pw.clock.advance(days=pw.pgo.settings.consent_refresh_days + 1)
    made = await pw.pgo.verzamelen.refresh_due()
    assert len(made) == 1
    events = pw.funnel(made[0])
    assert {e.initiator for e in events} == {Initiator.SYSTEM}
    assert {e.device for e in events} == {Device.SYSTEM}
    assert events[-1].reason is None
    sent = [r for r in pw.ketenlog(made[0]) if r.event.type is EventType.SEND_TOKEN_REQUEST]
    assert sent[0].request is not None
    assert sent[0].request.initiated_by == "system"
    assert all(r.event.session_id is None for r in pw.ketenlog(made[0]))
    (consent,) = pw.pgo.consents.of_account(account)
    assert consent.last_used_at == pw.clock.now
    # A month later the person's session has long ended: they log in again to look.
    assert (await person.client.get("/geschiedenis")).headers["location"] == "/inloggen"
    await person.log_in("anna", "een-lang-wachtwoord")
    history = await person.client.get("/geschiedenis")
    assert "door Test PGO zelf" in text(history)


async def test_a_revoked_refresh_token_asks_for_consent_again_not_an_error(
    pw: PgoWorld, person: Person
) -> None:
    await _with_consent(pw, person)
    pw.dva.refresh_tokens.clear()  # revoked at the DVA, e.g. at the zorgaanbieder's portal
    chosen = await person.choose(ZIEKENHUIS)
    flow_id = chosen.headers["location"].rsplit("/", 1)[1]
    page = await person.client.get(chosen.headers["location"])
    assert "Geef opnieuw toestemming" in text(page)
    assert "Opnieuw toestemming geven" in text(page)
    assert "outcome-info" in page.text  # shown as information, not as an error
    assert pw.funnel(flow_id)[-1].reason is FailureReason.TOKEN_ERROR
    consents = pw.pgo.consents.of_account(_account(pw, flow_id))
    assert consents[0].status is ConsentStatus.VERLOPEN
    listed = await person.client.get("/toestemmingen")
    assert "Opnieuw toestemming geven" in text(listed)
    again = await person.post("/ophalen", zorgaanbieder=ZIEKENHUIS, gegevensdienst=["48", "63"])
    assert again.headers["location"].startswith("https://inlog.dva.localhost")


async def test_a_consent_lapses_after_six_months_unused(pw: PgoWorld, person: Person) -> None:
    first = await _with_consent(pw, person)
    pw.network.down.add("api.dva.localhost")  # the refresh job cannot reach the DVA
    pw.clock.advance(days=200)
    made = await pw.pgo.verzamelen.refresh_due()
    assert made == []
    (consent,) = pw.pgo.consents.of_account(_account(pw, first))
    assert consent.status is ConsentStatus.VERLOPEN


async def test_an_unreachable_dva_keeps_the_consent(pw: PgoWorld, person: Person) -> None:
    first = await _with_consent(pw, person)
    pw.network.down.add("api.dva.localhost")
    pw.clock.advance(days=pw.pgo.settings.consent_refresh_days + 1)
    (made,) = await pw.pgo.verzamelen.refresh_due()
    assert pw.funnel(made)[-1].reason is FailureReason.TOKEN_ERROR
    (consent,) = pw.pgo.consents.of_account(_account(pw, first))
    assert consent.status is ConsentStatus.ACTIEF


async def test_revoking_tells_the_dva_first(pw: PgoWorld, person: Person) -> None:
    first = await _with_consent(pw, person)
    (refresh_token,) = pw.dva.refresh_tokens
    answer = await person.post("/toestemmingen/intrekken", zorgaanbieder=ZIEKENHUIS)
    assert answer.status_code == 303
    assert pw.dva.revoked == [refresh_token]
    revocation = next(r for r in pw.dva.requests if r.url.path == "/oauth/revoke")
    form = dict(parse_qsl(revocation.content.decode()))
    assert form["token_type_hint"] == "refresh_token"
    assert form["client_id"] == "pgo.localhost"
    page = await person.client.get(answer.headers["location"])
    assert "Je toestemming is ingetrokken" in text(page)
    (consent,) = pw.pgo.consents.of_account(_account(pw, first))
    assert consent.status is ConsentStatus.INGETROKKEN
    # The next fetch goes through the DVA again.
    chosen = await person.choose(ZIEKENHUIS)
    assert chosen.headers["location"].startswith("https://inlog.dva.localhost")


async def test_a_failed_revocation_keeps_the_consent_and_says_so(
    pw: PgoWorld, person: Person
) -> None:
    first = await _with_consent(pw, person)
    pw.dva.revocation_status = 503
    answer = await person.post("/toestemmingen/intrekken", zorgaanbieder=ZIEKENHUIS)
    page = await person.client.get(answer.headers["location"])
    assert "Intrekken is nu niet gelukt" in text(page)
    (consent,) = pw.pgo.consents.of_account(_account(pw, first))
    assert consent.status is ConsentStatus.ACTIEF


async def test_a_new_consent_replaces_and_revokes_the_old_one(pw: PgoWorld, person: Person) -> None:
    first, _ = await person.fetch(ZIEKENHUIS, "63", langdurig=True)
    (old,) = pw.dva.refresh_tokens
    pw.clock.advance(minutes=5)
    # More than the consent covers: through the DVA, and a new consent for both.
    _, page = await person.fetch(ZIEKENHUIS, "48", "63", langdurig=True)
    assert "Je gegevens zijn opgehaald" in text(page)
    for _ in range(50):  # the old token is revoked in the background
        if pw.dva.revoked:
            break
        await asyncio.sleep(0.02)
    assert pw.dva.revoked == [old]
    consents = pw.pgo.consents.of_account(_account(pw, first))
    assert [(c.status, c.gegevensdiensten) for c in consents] == [
        (ConsentStatus.ACTIEF, ("48", "63")),
        (ConsentStatus.VERVANGEN, ("63",)),
    ]


async def test_a_refresh_is_never_run_twice_at_once(pw: PgoWorld, person: Person) -> None:
    first = await _with_consent(pw, person)
    (consent,) = pw.pgo.consents.of_account(_account(pw, first))
    assert pw.pgo.consents.claim(consent.id) is not None
    assert pw.pgo.consents.claim(consent.id) is None
    # A person who asks meanwhile goes through the DVA instead.
    chosen = await person.choose(ZIEKENHUIS)
    assert chosen.headers["location"].startswith("https://inlog.dva.localhost")


async def test_revocation_metadata_must_name_its_own_issuer(pw: PgoWorld, person: Person) -> None:
    first = await _with_consent(pw, person)
    original = pw.dva.handle

    def lying(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": "https://elders.localhost",
                    "revocation_endpoint": "https://elders.localhost/revoke",
                },
            )
        return original(request)

    pw.network.dva.handle = lying  # type: ignore[method-assign]
    answer = await person.post("/toestemmingen/intrekken", zorgaanbieder=ZIEKENHUIS)
    assert answer.headers["location"].endswith("melding=mislukt")
    (consent,) = pw.pgo.consents.of_account(_account(pw, first))
    assert consent.status is ConsentStatus.ACTIEF


async def test_a_consent_for_what_the_zal_no_longer_offers_makes_no_attempt(
    pw: PgoWorld, person: Person
) -> None:
    await _with_consent(pw, person)
    from medmij_stack.pgo.directory import Directory

    empty = Directory(zal=None, gnl=None, ocl=None, client_id="pgo.localhost", weergavenamen={})
    pw.pgo.verzamelen.directory = lambda: empty
    pw.clock.advance(days=pw.pgo.settings.consent_refresh_days + 1)
    requests = len(pw.dva.token_requests())
    assert await pw.pgo.verzamelen.refresh_due() == []
    assert len(pw.dva.token_requests()) == requests


async def _due_consents(pw: PgoWorld, count: int) -> None:
    """``count`` people, each with a langdurige toestemming, all due for their refresh."""
    for number in range(count):
        someone = pw.person()
        assert (await someone.sign_up(f"persoon{number}")).status_code == 303
        await _with_consent(pw, someone, GGD)
        await someone.client.aclose()
    pw.clock.advance(days=pw.pgo.settings.consent_refresh_days + 1)


async def _in_flight(pw: PgoWorld, expected: int) -> set[str]:
    """The attempts whose retrieval waits at the gate, once ``expected`` of them do."""
    for _ in range(200):
        waiting = {call.correlation_id for call in pw.retrieval.calls}
        if len(waiting) >= expected:
            await asyncio.sleep(0.05)  # and no more come
            return {call.correlation_id for call in pw.retrieval.calls}
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(pw.retrieval.calls)} retrieval(s) started")


async def test_due_refreshes_run_side_by_side_up_to_the_setting(pw: PgoWorld) -> None:
    """One slow DVA no longer holds up every other refresh behind it: while the first
    retrievals wait, the next ones have started, but never more than
    ``refresh_concurrency`` (4) at once; all of them end."""
    await _due_consents(pw, 6)
    pw.retrieval.calls.clear()
    pw.retrieval.gate = asyncio.Event()
    job = asyncio.create_task(pw.pgo.verzamelen.refresh_due())
    assert len(await _in_flight(pw, 4)) == pw.pgo.settings.refresh_concurrency == 4
    pw.retrieval.gate.set()
    made = await asyncio.wait_for(job, 10)
    assert len(made) == 6
    assert {call.correlation_id for call in pw.retrieval.calls} == set(made)
    assert all(pw.funnel(flow)[-1].reason is None for flow in made)


async def test_a_refresh_that_breaks_does_not_stop_the_others(pw: PgoWorld) -> None:
    await _due_consents(pw, 3)
    pw.retrieval.calls.clear()
    original = pw.pgo.verzamelen.refresh_consent
    broken: list[str] = []

    async def sometimes(consent: ConsentView) -> str | None:
        if not broken:
            broken.append(consent.id)
            raise RuntimeError("the PGO's own bug in one refresh")
        return await original(consent)

    pw.pgo.verzamelen.refresh_consent = sometimes  # type: ignore[method-assign]
    made = await pw.pgo.verzamelen.refresh_due()
    assert len(made) == 2
    assert len(broken) == 1
