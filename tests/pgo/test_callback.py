"""The redirect URI: every answer the DVA can send, and every callback that is not one.

Each ends the attempt with the situation the person is told (in Dutch) and exactly one
failure reason; a callback that belongs to no attempt of this browser is refused and
recorded, and never touches anyone's records.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from medmij_stack.pgo.tables import RejectedCallback
from medmij_stack.protocol.funnel import FailureReason, FunnelStep, Outcome, ProcessStep
from medmij_stack.protocol.ketenlog import EventType

from .harness import GGD, HUISARTS, ZIEKENHUIS, Person, PgoWorld, flow_of, text


async def _to_dva(person: Person, zorgaanbieder: str = GGD) -> tuple[str, str]:
    chosen = await person.choose(zorgaanbieder)
    assert chosen.status_code == 303, chosen.text
    location = chosen.headers["location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    return flow_of(location), state


def _end(pw: PgoWorld, flow_id: str) -> tuple[list[FunnelStep], FailureReason | None]:
    events = pw.funnel(flow_id)
    ends = [e for e in events if e.name is FunnelStep.FLOW_END]
    assert len(ends) == 1, events
    return [e.name for e in events], ends[0].reason


@pytest.mark.parametrize(
    ("error", "description", "reason", "says", "logged_in"),
    [
        ("access_denied", "Authorization cancelled.", FailureReason.DIGID_CANCELLED,
         "Je bent gestopt met inloggen", False),
        ("unauthorized_client", "Authentication failed.", FailureReason.DIGID_FAILED,
         "Inloggen met DigiD is niet gelukt", False),
        ("access_denied", "Authorization denied.", FailureReason.CONSENT_DENIED,
         "Je hebt geen toestemming gegeven", True),
        ("access_denied", "No such resources.", FailureReason.NO_DATA,
         "Er zijn geen gegevens van jou", True),
        ("access_denied", "The request is not granted.", FailureReason.CONSENT_DENIED,
         "Er zijn geen gegevens gedeeld", True),
        ("access_denied", None, FailureReason.CONSENT_DENIED,
         "Je gegevens zijn niet gedeeld", False),
        ("invalid_request", "Invalid request: scope.", FailureReason.INVALID_REQUEST,
         "Het ophalen kon niet beginnen", False),
        ("server_error", None, FailureReason.INVALID_REQUEST,
         "Er is een storing bij de zorgaanbieder", False),
        ("temporarily_unavailable", None, FailureReason.INVALID_REQUEST,
         "Er is een storing bij de zorgaanbieder", False),
    ],
)  # fmt: skip
async def test_each_oauth_error_gets_its_page_and_its_one_reason(
    pw: PgoWorld,
    person: Person,
    error: str,
    description: str | None,
    reason: FailureReason,
    says: str,
    logged_in: bool,
) -> None:
    flow_id, state = await _to_dva(person)
    params = {"error": error, "state": state}
    if description:
        params["error_description"] = description
    back = await person.callback(params)
    assert back.status_code == 303
    page = await person.client.get(back.headers["location"])
    assert page.status_code == 200
    assert says in text(page)
    names, got = _end(pw, flow_id)
    assert got is reason
    assert (FunnelStep.INGELOGD_BIJ_DVA in names) is logged_in
    end = pw.funnel(flow_id)[-1]
    assert end.outcome is Outcome.FAILURE
    assert end.step is ProcessStep.DIGID
    received = [
        r for r in pw.ketenlog(flow_id) if r.event.type is EventType.RECEIVE_AUTHORIZATION_ERROR
    ]
    assert len(received) == 1
    assert received[0].error is not None
    assert received[0].error.code == error
    assert pw.retrieval.calls == []
    assert pw.dva.token_requests() == []


async def test_a_cancel_offers_to_try_again_and_no_data_does_not(
    pw: PgoWorld, person: Person
) -> None:
    _, state = await _to_dva(person)
    back = await person.callback(
        {"error": "access_denied", "error_description": "Authorization cancelled.", "state": state}
    )
    page = await person.client.get(back.headers["location"])
    assert "Probeer opnieuw" in text(page)
    _, state = await _to_dva(person, HUISARTS)
    back = await person.callback(
        {"error": "access_denied", "error_description": "No such resources.", "state": state}
    )
    page = await person.client.get(back.headers["location"])
    assert "Huisartsenpraktijk De Tést" in text(page)
    assert "Probeer opnieuw" not in text(page)


async def test_a_callback_without_code_or_error_is_invalid(pw: PgoWorld, person: Person) -> None:
    flow_id, state = await _to_dva(person)
    back = await person.callback({"state": state})
    page = await person.client.get(back.headers["location"])
    assert "Het antwoord van de zorgaanbieder klopt niet" in text(page)
    assert _end(pw, flow_id)[1] is FailureReason.INVALID_REQUEST


async def test_a_repeated_code_makes_the_callback_invalid(pw: PgoWorld, person: Person) -> None:
    flow_id, state = await _to_dva(person)
    back = await person.callback(f"code=a&code=b&state={state}")
    assert back.status_code == 303
    assert _end(pw, flow_id)[1] is FailureReason.INVALID_REQUEST
    assert pw.dva.token_requests() == []


def _rejections(pw: PgoWorld) -> list[RejectedCallback]:
    with pw.pgo.db.read() as session:
        return list(session.scalars(select(RejectedCallback)))


async def test_a_missing_state_is_refused_and_recorded(pw: PgoWorld, person: Person) -> None:
    flow_id, _ = await _to_dva(person)
    back = await person.callback({"code": "some-code"})
    assert back.status_code == 400
    assert "Deze link werkt niet" in text(back)
    (rejected,) = _rejections(pw)
    assert rejected.reason == FailureReason.INVALID_REQUEST.value
    assert rejected.situation == "state-ontbreekt"
    # The attempt at the DVA is untouched: the real answer may still come.
    assert [e.name for e in pw.funnel(flow_id)][-1] is FunnelStep.GEGEVENSDIENST_GEKOZEN


async def test_a_forged_state_is_refused_and_spends_no_code(pw: PgoWorld, person: Person) -> None:
    await _to_dva(person)
    back = await person.callback({"code": "some-code", "state": "vervalst-" + "x" * 40})
    assert back.status_code == 400
    assert "Deze link kennen we niet" in text(back)
    assert [r.situation for r in _rejections(pw)] == ["state-onbekend"]
    assert pw.dva.token_requests() == []


async def test_a_replayed_state_does_nothing_twice(pw: PgoWorld, person: Person) -> None:
    chosen = await person.choose(GGD)
    params = pw.dva.consent(chosen.headers["location"])
    first = await person.callback(params)
    assert first.status_code == 303
    flow_id = first.headers["location"].rsplit("/", 1)[1]
    again = await person.callback(params)
    assert again.status_code == 400
    assert "Deze link is al gebruikt" in text(again)
    assert f"/ophalen/{flow_id}" in again.text  # the person's own attempt, to look at
    assert len(pw.dva.token_requests()) == 1
    assert len(pw.retrieval.calls) == 1
    assert _end(pw, flow_id)[1] is None
    assert [r.situation for r in _rejections(pw)] == ["state-gebruikt"]


async def test_an_expired_state_ends_the_attempt(pw: PgoWorld, person: Person) -> None:
    chosen = await person.choose(GGD)
    params = pw.dva.consent(chosen.headers["location"])
    pw.clock.advance(seconds=pw.pgo.settings.state_ttl_seconds + 1)
    back = await person.callback(params)
    assert back.status_code == 400
    assert "Dit duurde te lang" in text(back)
    flow_id = flow_of(chosen.headers["location"])
    assert _end(pw, flow_id)[1] is FailureReason.INVALID_REQUEST
    assert pw.dva.token_requests() == []
    types = [r.event.type for r in pw.ketenlog(flow_id)]
    assert types == [EventType.SEND_AUTHORIZATION_REQUEST, EventType.RECEIVE_AUTHORIZATION_RESPONSE]


async def test_a_callback_in_another_session_is_refused_and_burns_the_state(
    pw: PgoWorld, person: Person
) -> None:
    chosen = await person.choose(ZIEKENHUIS)
    params = pw.dva.consent(chosen.headers["location"])
    stranger = pw.person()
    await stranger.sign_up("iemand-anders")
    back = await stranger.callback(params)
    assert back.status_code == 400
    assert "Deze link hoort niet bij jou" in text(back)
    assert "/ophalen/" not in back.text  # not the stranger's attempt to look at
    flow_id = flow_of(chosen.headers["location"])
    assert _end(pw, flow_id)[1] is FailureReason.INVALID_REQUEST
    # Nor can the person who started it use the state now.
    mine = await person.callback(params)
    assert mine.status_code == 400
    assert pw.dva.token_requests() == []
    assert pw.retrieval.calls == []
    await stranger.client.aclose()


async def test_a_callback_without_any_session_is_refused(pw: PgoWorld, person: Person) -> None:
    chosen = await person.choose(GGD)
    params = pw.dva.consent(chosen.headers["location"])
    anonymous = pw.person()
    back = await anonymous.callback(params)
    assert back.status_code == 400
    assert "Inloggen" in back.text
    assert _end(pw, flow_of(chosen.headers["location"]))[1] is FailureReason.INVALID_REQUEST
    await anonymous.client.aclose()


async def test_an_oversized_parameter_is_no_code(pw: PgoWorld, person: Person) -> None:
    flow_id, state = await _to_dva(person)
    back = await person.callback({"code": "x" * 5000, "state": state})
    assert back.status_code == 303
    assert _end(pw, flow_id)[1] is FailureReason.INVALID_REQUEST
