"""After the callback: the token exchange, the retrieval, storage, and "probeer opnieuw".

A failed or partial retrieval never replaces good records and is never shown as
complete; a retry asks only what failed and then completes the set.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from medmij_stack.protocol.funnel import FailureReason, FunnelStep, ProcessStep
from medmij_stack.protocol.ketenlog import EventType

from .harness import GGD, ZIEKENHUIS, Failing, Person, PgoWorld, flow_of, form_with, text


def _reason(pw: PgoWorld, flow_id: str) -> FailureReason | None:
    ends = [e for e in pw.funnel(flow_id) if e.name is FunnelStep.FLOW_END]
    assert len(ends) == 1
    return ends[0].reason


async def test_the_token_request_is_form_encoded_with_pkce_and_tracing_headers(
    pw: PgoWorld, person: Person
) -> None:
    chosen = await person.choose(GGD)
    authorize = chosen.headers["location"]
    challenge = parse_qs(urlsplit(authorize).query)["code_challenge"][0]
    flow_id, _ = await _finish(person, pw, authorize)
    (request,) = pw.dva.token_requests()
    form = dict(parse_qsl(request.content.decode()))
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == "pgo.localhost"
    assert form["redirect_uri"] == "https://pgo.localhost:8443/medmij/terug"
    assert "client_secret" not in form
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
    assert request.headers["X-Correlation-ID"] == flow_id
    assert len(request.headers["MedMij-Request-ID"]) == 36
    assert "authorization" not in request.headers


async def _finish(
    person: Person, pw: PgoWorld, authorize: str, **consent: object
) -> tuple[str, httpx.Response]:
    back = await person.callback(pw.dva.consent(authorize, **consent))  # type: ignore[arg-type]
    assert back.status_code == 303
    return flow_of(authorize), await person.client.get(back.headers["location"])


_INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid grant: code expired."}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json=_INVALID_GRANT),
        httpx.Response(500, text="kapot"),
        httpx.Response(200, text="<html>geen json</html>"),
        httpx.Response(200, json={"token_type": "Bearer"}),
        httpx.Response(200, json={"access_token": "a b", "token_type": "Bearer"}),
        httpx.Response(200, json={"access_token": "abc", "token_type": "mac"}),
        # Nested deeper than Python's parser can follow (RecursionError inside authlib).
        httpx.Response(200, content=b"[" * 100_000, headers={"content-type": "application/json"}),
        httpx.Response(
            200,
            content=b'{"access_token": "abc", "x": ' + b"[" * 2_000 + b"]" * 2_000 + b"}",
            headers={"content-type": "application/json"},
        ),
    ],
)
async def test_a_token_error_is_a_token_error(
    pw: PgoWorld, person: Person, answer: httpx.Response
) -> None:
    pw.dva.token_override = lambda request: answer
    chosen = await person.choose(GGD)
    flow_id, page = await _finish(person, pw, chosen.headers["location"])
    assert "gaf ons daarna geen toegang" in text(page)
    assert _reason(pw, flow_id) is FailureReason.TOKEN_ERROR
    assert pw.funnel(flow_id)[-1].step is ProcessStep.UITWISSELING
    types = [r.event.type for r in pw.ketenlog(flow_id)]
    assert types[-2:] == [EventType.SEND_TOKEN_REQUEST, EventType.RECEIVE_TOKEN_ERROR]
    assert pw.retrieval.calls == []


async def test_an_unreachable_or_hanging_token_endpoint_is_a_token_error(
    pw: PgoWorld, person: Person
) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    pw.dva.token_override = hang
    chosen = await person.choose(GGD)
    flow_id, page = await _finish(person, pw, chosen.headers["location"])
    assert "We konden de zorgaanbieder niet bereiken" in text(page)
    assert _reason(pw, flow_id) is FailureReason.TOKEN_ERROR
    error = pw.ketenlog(flow_id)[-1].error
    assert error is not None
    assert error.code == "temporarily_unavailable"
    assert error.status is None


async def test_a_token_endpoint_off_the_whitelist_is_not_asked(
    pw: PgoWorld, person: Person
) -> None:
    chosen = await person.choose(GGD)
    holder = pw.pgo.lists.lists.whitelist
    held = holder.current
    assert held is not None
    # The next Whitelist drops the DVA's back node.
    from dataclasses import replace

    from medmij_stack.protocol.lists import write_list

    smaller = replace(
        held,
        volgnummer=held.volgnummer + 1,
        hostnames=tuple(h for h in held.hostnames if h != "api.dva.localhost"),
    )
    holder.offer(write_list(smaller, check=False))
    flow_id, _ = await _finish(person, pw, chosen.headers["location"])
    assert _reason(pw, flow_id) is FailureReason.TOKEN_ERROR
    assert pw.dva.token_requests() == []


async def test_only_the_granted_gegevensdiensten_are_fetched(pw: PgoWorld, person: Person) -> None:
    chosen = await person.choose(ZIEKENHUIS)
    flow_id, page = await _finish(person, pw, chosen.headers["location"], granted=("63",))
    assert [c.gegevensdienst for c in pw.retrieval.calls] == ["63"]
    assert _reason(pw, flow_id) is None
    assert "Je gegevens zijn opgehaald" in text(page)


async def test_choosing_some_services_asks_only_those(pw: PgoWorld, person: Person) -> None:
    chosen = await person.choose(ZIEKENHUIS, "63")
    scope = parse_qs(urlsplit(chosen.headers["location"]).query)["scope"][0]
    assert scope == "ziekenhuistest~63"
    await _finish(person, pw, chosen.headers["location"])
    assert [c.gegevensdienst for c in pw.retrieval.calls] == ["63"]


async def test_a_failed_query_keeps_old_records_and_a_retry_asks_only_it(
    pw: PgoWorld, person: Person
) -> None:
    first, _ = await person.fetch(ZIEKENHUIS)
    account = pw.pgo.attempts.get(first)
    assert account is not None
    before = {
        (r.gegevensdienst, r.resource["id"]) for r in pw.pgo.records.records(account.account_id)
    }
    assert ("48", "allergyintolerance-1") in before

    pw.retrieval.resources[("48", "AllergyIntolerance")] = [
        {"resourceType": "AllergyIntolerance", "id": "nieuw-1", "code": {"text": "Pinda"}}
    ]
    pw.retrieval.failing[("48", "Problem")] = Failing(FailureReason.RESOURCE_ERROR, 503, "HTTP 503")
    pw.retrieval.calls.clear()
    second, page = await person.fetch(ZIEKENHUIS)
    assert "Niet alle gegevens zijn opgehaald" in text(page)
    assert "Problemen" in text(page)  # what failed, in words
    assert _reason(pw, second) is FailureReason.RESOURCE_ERROR
    after = {
        (r.gegevensdienst, r.resource["id"]) for r in pw.pgo.records.records(account.account_id)
    }
    # 63 came complete and replaced its source; 48 failed in part and replaced nothing.
    assert ("48", "allergyintolerance-1") in after
    assert ("48", "nieuw-1") not in after
    overview = await person.client.get("/")
    # Only the tile the failed query feeds; the old problems are still shown there.
    assert text(overview).count("Niet opgehaald") == 1
    assert "Probeer opnieuw bij Ziekenhuis Teststad" in text(overview)
    assert "Je ziet 1 gegeven van eerder" in text(overview)
    problems = await person.client.get("/gegevens/problemen")
    assert "niet (helemaal) gelukt" in text(problems)
    assert "Astma" in text(problems)

    del pw.retrieval.failing[("48", "Problem")]
    pw.retrieval.calls.clear()
    retry = await person.post("/opnieuw", flow_id=second)
    assert retry.status_code == 303
    authorize = retry.headers["location"]
    assert parse_qs(urlsplit(authorize).query)["scope"][0] == "ziekenhuistest~48"
    third, page = await _finish(person, pw, authorize)
    (call,) = pw.retrieval.calls
    assert call.gegevensdienst == "48"
    assert call.queries == ("Problem",)
    assert _reason(pw, third) is None
    final = {
        (r.gegevensdienst, r.resource["id"]) for r in pw.pgo.records.records(account.account_id)
    }
    assert ("48", "nieuw-1") in final  # kept from the failed attempt, now part of a whole
    assert ("48", "allergyintolerance-1") not in final
    assert "Niet opgehaald" not in text(await person.client.get("/"))
    retried = pw.funnel(third)[0]
    assert retried.name is FunnelStep.FLOW_START


async def test_invalid_content_is_its_own_reason(pw: PgoWorld, person: Person) -> None:
    pw.retrieval.failing[("63", "Vaccination")] = Failing(
        FailureReason.INVALID_CONTENT, 200, "entry[0]: not an R4 Immunization"
    )
    flow_id, page = await person.fetch(GGD)
    assert "We konden de gegevens niet lezen" in text(page)
    assert _reason(pw, flow_id) is FailureReason.INVALID_CONTENT
    assert pw.pgo.records.sources(pw.pgo.attempts.get(flow_id).account_id) == []  # type: ignore[union-attr]


async def test_a_broken_engine_is_the_pgos_own_error_and_no_500(
    pw: PgoWorld, person: Person
) -> None:
    pw.retrieval.broken = RuntimeError("a bug")
    flow_id, page = await person.fetch(GGD)
    assert page.status_code == 200
    assert "Er ging bij ons iets mis" in text(page)
    assert _reason(pw, flow_id) is FailureReason.CLIENT_ERROR


async def test_a_slow_retrieval_shows_bezig_and_finishes_in_the_background(
    pw: PgoWorld, person: Person
) -> None:
    pw.pgo.verzamelen.settings = pw.pgo.settings.model_copy(update={"callback_wait_seconds": 0.05})
    pw.retrieval.gate = asyncio.Event()
    flow_id, page = await person.fetch(GGD)
    assert "Je gegevens worden opgehaald" in text(page)
    overview = await person.client.get("/")
    assert "Wordt opgehaald" in text(overview)
    pw.retrieval.gate.set()
    for _ in range(100):
        if not pw.pgo.verzamelen.busy(flow_id):
            break
        await asyncio.sleep(0.02)
    done = await person.client.get(f"/ophalen/{flow_id}")
    assert "Je gegevens zijn opgehaald" in text(done)
    assert _reason(pw, flow_id) is None


async def test_a_retry_of_someone_elses_attempt_is_not_found(pw: PgoWorld, person: Person) -> None:
    pw.retrieval.failing[("63", "Vaccination")] = Failing(
        FailureReason.RESOURCE_ERROR, None, "timeout"
    )
    flow_id, _ = await person.fetch(GGD)
    stranger = pw.person()
    await stranger.sign_up("iemand-anders")
    answer = await stranger.post("/opnieuw", flow_id=flow_id)
    assert answer.status_code == 404
    page = await stranger.client.get(f"/ophalen/{flow_id}")
    assert page.status_code == 404
    await stranger.client.aclose()


async def test_the_outcome_page_offers_retry_for_a_failure(pw: PgoWorld, person: Person) -> None:
    pw.retrieval.failing[("63", "Vaccination")] = Failing(
        FailureReason.RESOURCE_ERROR, None, "timeout"
    )
    flow_id, page = await person.fetch(GGD)
    form = dict(form_with(page, "flow_id", flow_id))
    assert form["csrf_token"] == person.csrf


async def test_the_outcome_has_a_json_view_for_programs(pw: PgoWorld, person: Person) -> None:
    pw.retrieval.failing[("48", "Alert")] = Failing(FailureReason.RESOURCE_ERROR, 500, "HTTP 500")
    flow_id, _ = await person.fetch(ZIEKENHUIS)
    answer = await person.client.get(f"/ophalen/{flow_id}", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    view = answer.json()
    assert view["flow_id"] == flow_id
    assert view["zorgaanbieder"] == ZIEKENHUIS
    assert (view["outcome"], view["reason"], view["step"]) == (
        "mislukt",
        "resource-fout",
        "uitwisseling",
    )
    by_id = {s["id"]: s for s in view["gegevensdiensten"]}
    assert by_id["48"]["outcome"] == "mislukt"
    assert by_id["48"]["reason"] == "resource-fout"
    assert by_id["48"]["resources"] == {}
    assert by_id["63"]["outcome"] == "succes"
    assert by_id["63"]["resources"] == {"Immunization": 1}
    browser = await person.client.get(f"/ophalen/{flow_id}", headers={"Accept": "text/html,*/*"})
    assert browser.headers["content-type"].startswith("text/html")
    stranger = pw.person()
    await stranger.sign_up("iemand-anders")
    refused = await stranger.client.get(
        f"/ophalen/{flow_id}", headers={"Accept": "application/json"}
    )
    assert refused.status_code == 404
    await stranger.client.aclose()


async def test_the_json_view_of_an_attempt_that_ended_at_the_dva(
    pw: PgoWorld, person: Person
) -> None:
    chosen = await person.choose(GGD)
    state = parse_qs(urlsplit(chosen.headers["location"]).query)["state"][0]
    back = await person.callback(
        {"error": "access_denied", "error_description": "Authorization denied.", "state": state}
    )
    view = (
        await person.client.get(back.headers["location"], headers={"Accept": "application/json"})
    ).json()
    assert (view["outcome"], view["reason"], view["step"]) == (
        "mislukt",
        "toestemming-geweigerd",
        "digid",
    )
    assert view["gegevensdiensten"] == [
        {"id": "63", "outcome": "mislukt", "reason": "toestemming-geweigerd", "resources": {}}
    ]


async def test_a_code_issued_to_another_client_gets_no_token(pw: PgoWorld, person: Person) -> None:
    chosen = await person.choose(GGD)
    params = pw.dva.consent(chosen.headers["location"])
    pw.dva.codes[params["code"]].client_id = "andere.pgo.localhost"
    flow_id, _ = flow_of(chosen.headers["location"]), await person.callback(params)
    assert _reason(pw, flow_id) is FailureReason.TOKEN_ERROR
    error = pw.ketenlog(flow_id)[-1].error
    assert error is not None
    assert error.code == "invalid_grant"
    assert pw.retrieval.calls == []


async def test_a_pgo_fault_midway_leaves_no_service_waiting(pw: PgoWorld, person: Person) -> None:
    pw.retrieval.broken = RuntimeError("a bug")
    flow_id, page = await person.fetch(ZIEKENHUIS)
    assert "Er ging bij ons iets mis" in text(page)
    statuses = {s.gegevensdienst: (s.status, s.reason) for s in pw.pgo.attempts.services(flow_id)}
    assert statuses == {"48": ("mislukt", "client-fout"), "63": ("mislukt", "client-fout")}
    assert "wordt opgehaald" not in text(page)
