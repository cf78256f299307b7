"""One retrieval attempt through the PGO, with the DVA and the engine faked (``harness``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from medmij_stack.protocol.funnel import Device, FunnelStep, Initiator, Outcome
from medmij_stack.protocol.ketenlog import EventType

from .harness import (
    PGO_URL,
    ZIEKENHUIS,
    Person,
    PgoWorld,
    flow_of,
    form_with,
    running_pgo,
    text,
)


async def test_a_whole_attempt_fetches_and_stores_every_granted_gegevensdienst(
    pw: PgoWorld, person: Person
) -> None:
    flow_id, outcome = await person.fetch(ZIEKENHUIS)
    assert outcome.status_code == 200
    assert "Je gegevens zijn opgehaald" in text(outcome)
    assert [c.gegevensdienst for c in pw.retrieval.calls] == ["48", "63"]
    assert all(c.correlation_id == flow_id for c in pw.retrieval.calls)
    names = [e.name for e in pw.funnel(flow_id)]
    assert names == [
        FunnelStep.FLOW_START,
        FunnelStep.ZORGAANBIEDER_GEKOZEN,
        FunnelStep.GEGEVENSDIENST_GEKOZEN,
        FunnelStep.INGELOGD_BIJ_DVA,
        FunnelStep.FLOW_END,
    ]
    end = pw.funnel(flow_id)[-1]
    assert end.outcome is Outcome.SUCCESS
    assert end.initiator is Initiator.PERSON
    assert end.device is Device.PC
    assert end.gegevensdiensten == ("48", "63")
    types = [r.event.type for r in pw.ketenlog(flow_id)]
    assert types[:4] == [
        EventType.SEND_AUTHORIZATION_REQUEST,
        EventType.RECEIVE_AUTHORIZATION_RESPONSE,
        EventType.SEND_TOKEN_REQUEST,
        EventType.RECEIVE_TOKEN_RESPONSE,
    ]
    assert EventType.SEND_RESOURCE_REQUEST in types
    assert all(r.event.trace_id == flow_id for r in pw.ketenlog(flow_id))


async def test_the_authorization_request_is_what_the_afsprakenstelsel_asks(
    pw: PgoWorld, person: Person
) -> None:
    chosen = await person.choose(ZIEKENHUIS)
    assert chosen.status_code == 303
    url = urlsplit(chosen.headers["location"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (
        f"{url.scheme}://{url.netloc}{url.path}"
        == "https://inlog.dva.localhost:8444/oauth/authorize"
    )
    assert params["response_type"] == "code"
    assert params["client_id"] == "pgo.localhost"
    assert params["redirect_uri"] == f"{PGO_URL}/medmij/terug"
    assert params["scope"] == "ziekenhuistest"  # AS 2.x: every service, the bare name
    assert len(params["state"]) >= 40
    assert params["code_challenge_method"] == "S256"
    assert len(params["MedMij-Request-ID"]) == 36
    assert len(params["X-Correlation-ID"]) == 36


async def test_opening_the_search_starts_one_attempt_and_leaving_ends_it_as_abandoned(
    pw: PgoWorld, person: Person
) -> None:
    from medmij_stack.protocol.funnel import FailureReason, ProcessStep

    await person.client.get("/zorgaanbieders")
    await person.client.get("/zorgaanbieders", params={"zoek": "ggd"})
    attempts = pw.pgo.attempts
    account = pw.pgo.measurements.funnel()[0].person
    with pw.pgo.db.read() as session:
        from sqlalchemy import select

        from medmij_stack.pgo.tables import Attempt

        (flow_id,) = session.scalars(select(Attempt.flow_id).where(Attempt.account_id == account))
    pw.clock.advance(seconds=pw.pgo.settings.abandon_after_seconds - 60)
    await pw.pgo.background_once()
    assert [e.name for e in pw.funnel(flow_id)] == [FunnelStep.FLOW_START]
    pw.clock.advance(seconds=120)
    await pw.pgo.background_once()
    end = pw.funnel(flow_id)[-1]
    assert end.name is FunnelStep.FLOW_END
    assert end.reason is FailureReason.ABANDONED_AT_SEARCH
    assert end.step is ProcessStep.ZORGAANBIEDER_ZOEKEN
    assert attempts.get(flow_id) is not None


async def test_who_never_comes_back_from_the_dva_is_counted_at_the_digid_step(
    pw: PgoWorld, person: Person
) -> None:
    from medmij_stack.protocol.funnel import FailureReason

    chosen = await person.choose("ggdtest@medmij")
    flow_id = chosen.headers["location"].split("X-Correlation-ID=")[1].split("&")[0]
    pw.clock.advance(hours=1)
    await pw.pgo.background_once()
    assert pw.funnel(flow_id)[-1].reason is FailureReason.DIGID_CANCELLED
    await person.log_in("anna", "een-lang-wachtwoord")  # an hour later, logged out
    page = await person.client.get(f"/ophalen/{flow_id}")
    assert "Je bent niet teruggekomen" in text(page)


async def test_the_device_comes_from_the_hidden_field_or_the_user_agent(pw: PgoWorld) -> None:
    phone = pw.person()
    phone.client.headers["user-agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile/15E148"
    await phone.sign_up("telefoon")
    chosen = await phone.choose("ggdtest@medmij")
    flow_id = chosen.headers["location"].split("X-Correlation-ID=")[1].split("&")[0]
    assert {e.device for e in pw.funnel(flow_id)} == {Device.WEB}
    app = pw.person()
    await app.sign_up("app-gebruiker")
    answer = await app.post(
        "/ophalen", zorgaanbieder="ggdtest@medmij", gegevensdienst="63", apparaat="app"
    )
    flow_id = answer.headers["location"].split("X-Correlation-ID=")[1].split("&")[0]
    assert pw.funnel(flow_id)[-1].device is Device.APP
    await phone.client.aclose()
    await app.client.aclose()


async def test_a_retrieval_cut_off_by_a_restart_ends_as_interrupted(
    pw: PgoWorld, person: Person
) -> None:
    import asyncio

    from medmij_stack.protocol.funnel import FailureReason

    pw.pgo.verzamelen.settings = pw.pgo.settings.model_copy(update={"callback_wait_seconds": 0.05})
    pw.pgo.verzamelen.runs.settings = pw.pgo.verzamelen.settings
    pw.retrieval.gate = asyncio.Event()  # the engine hangs
    flow_id, page = await person.fetch("ggdtest@medmij")
    assert "Je gegevens worden opgehaald" in text(page)
    # A restart: the task is gone, the attempt still says it is fetching.
    task = pw.pgo.verzamelen.runs._tasks.pop(flow_id)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert pw.funnel(flow_id)[-1].reason is FailureReason.CLIENT_ERROR  # ended as onderbroken
    page = await person.client.get(f"/ophalen/{flow_id}")
    assert "Het ophalen is onderbroken" in text(page)


async def test_attempts_a_killed_process_left_under_way_end_as_interrupted_at_start(
    pw: PgoWorld, person: Person, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from medmij_stack.pgo.tables import Attempt
    from medmij_stack.protocol.funnel import FailureReason

    left: dict[str, str] = {}
    # "zoeken" after the choice: the process died between recording the choice and sending
    # the person on to the DVA.
    for stage in ("terug", "ophalen", "bij-dva", "zoeken"):
        chosen = await person.choose("ggdtest@medmij")
        flow_id = chosen.headers["location"].split("X-Correlation-ID=")[1].split("&")[0]
        with pw.pgo.db.transaction() as session:  # as a SIGKILLed process left it
            session.execute(update(Attempt).where(Attempt.flow_id == flow_id).values(stage=stage))
        left[stage] = flow_id
    # And a search nobody has chosen in yet.
    await person.client.get("/zorgaanbieders")
    with pw.pgo.db.read() as session:
        (searching,) = session.scalars(
            select(Attempt.flow_id).where(Attempt.zorgaanbieder.is_(None))
        )
    # The same data started again: no quarter of an hour of the sweep's, at once.
    async with running_pgo(tmp_path) as again:
        for stage in ("terug", "ophalen", "zoeken"):
            ended = again.pgo.attempts.get(left[stage])
            assert ended is not None
            assert (ended.stage, ended.situation) == ("klaar", "onderbroken")
            assert again.funnel(left[stage])[-1].reason is FailureReason.CLIENT_ERROR
        # An attempt at the DVA may still come back: the sweep ends it in its own time.
        assert again.pgo.attempts.get(left["bij-dva"]).stage == "bij-dva"  # type: ignore[union-attr]
        # So may a person at the search: nothing was chosen, nothing was half-done.
        assert again.pgo.attempts.get(searching).stage == "zoeken"  # type: ignore[union-attr]


async def test_a_choice_never_sent_on_to_the_dva_is_swept_as_interrupted_not_abandoned(
    pw: PgoWorld, person: Person
) -> None:
    """The person chose (the choice is recorded) and the request failed before it sent them
    to the DVA: that is the PGO failing them, not the person leaving the search."""
    from sqlalchemy import update

    from medmij_stack.pgo.tables import Attempt
    from medmij_stack.protocol.funnel import FailureReason

    chosen = await person.choose("ggdtest@medmij")
    flow_id = chosen.headers["location"].split("X-Correlation-ID=")[1].split("&")[0]
    with pw.pgo.db.transaction() as session:  # as the failed request left it
        session.execute(update(Attempt).where(Attempt.flow_id == flow_id).values(stage="zoeken"))
    pw.clock.advance(minutes=14)  # a slow DVA may still be answering the request
    await pw.pgo.background_once()
    assert pw.funnel(flow_id)[-1].name is FunnelStep.GEGEVENSDIENST_GEKOZEN
    pw.clock.advance(seconds=max(60, pw.pgo.settings.abandon_after_seconds))
    await pw.pgo.background_once()
    end = pw.funnel(flow_id)[-1]
    assert end.reason is FailureReason.CLIENT_ERROR
    assert pw.pgo.attempts.get(flow_id).situation == "onderbroken"  # type: ignore[union-attr]
    assert end.zorgaanbieder == "ggdtest@medmij"


async def test_the_search_form_names_its_attempt_and_the_choice_continues_exactly_it(
    pw: PgoWorld, person: Person
) -> None:
    from medmij_stack.pgo.tables import Attempt

    page = await person.client.get("/zorgaanbieders", params={"zoek": ""})
    fields = dict(form_with(page, "zorgaanbieder", "ggdtest@medmij"))
    with pw.pgo.db.read() as session:
        (searching,) = session.scalars(select(Attempt.flow_id))
    # Every "ophalen" form on the page names the session's open search.
    assert fields["poging"] == searching
    assert page.text.count(f'name="poging" value="{searching}"') >= 2
    chosen = await person.post(
        "/ophalen", zorgaanbieder="ggdtest@medmij", gegevensdienst="63", poging=searching
    )
    assert flow_of(chosen.headers["location"]) == searching
    # A form from that search, posted again (another tab, the back button): that attempt is
    # past choosing, so the choice is a new attempt, never a second choice in the old one.
    again = await person.post(
        "/ophalen", zorgaanbieder="ggdtest@medmij", gegevensdienst="63", poging=searching
    )
    assert flow_of(again.headers["location"]) != searching
    assert [e.name for e in pw.funnel(searching)].count(FunnelStep.ZORGAANBIEDER_GEKOZEN) == 1
    # A form naming another search than the session's open one takes nothing from it.
    await person.client.get("/zorgaanbieders")
    with pw.pgo.db.read() as session:
        (open_now,) = session.scalars(
            select(Attempt.flow_id).where(Attempt.zorgaanbieder.is_(None))
        )
    stale = await person.post(
        "/ophalen", zorgaanbieder="ggdtest@medmij", gegevensdienst="63", poging=searching
    )
    assert flow_of(stale.headers["location"]) not in (searching, open_now)
    assert pw.pgo.attempts.get(open_now).zorgaanbieder is None  # type: ignore[union-attr]
    # A value that is no attempt id is refused as any other malformed field is.
    bad = await person.post(
        "/ophalen", zorgaanbieder="ggdtest@medmij", gegevensdienst="63", poging="x" * 65
    )
    assert bad.status_code == 400


async def test_an_attempt_left_fetching_by_a_crash_is_swept(pw: PgoWorld, person: Person) -> None:
    from sqlalchemy import update

    from medmij_stack.pgo.tables import Attempt
    from medmij_stack.protocol.funnel import FailureReason

    chosen = await person.choose("ggdtest@medmij")
    flow_id = chosen.headers["location"].split("X-Correlation-ID=")[1].split("&")[0]
    with pw.pgo.db.transaction() as session:  # as a process that died mid-retrieval left it
        session.execute(update(Attempt).where(Attempt.flow_id == flow_id).values(stage="ophalen"))
    pw.clock.advance(minutes=10)
    await pw.pgo.background_once()
    assert pw.funnel(flow_id)[-1].name is FunnelStep.GEGEVENSDIENST_GEKOZEN
    pw.clock.advance(minutes=6)
    await pw.pgo.background_once()
    assert pw.funnel(flow_id)[-1].reason is FailureReason.CLIENT_ERROR
    assert pw.pgo.attempts.get(flow_id).situation == "onderbroken"  # type: ignore[union-attr]
