"""Finding a zorgaanbieder and fetching from it (routes and form names: the PGO contract).

``GET /`` the overview (or the welcome page), ``GET /zorgaanbieders?zoek=&gegevensdienst=``
the search, ``POST /ophalen`` (``zorgaanbieder``, ``gegevensdienst`` per chosen service,
and ``poging``: the search attempt the form belongs to, the flow id a person whose answer
never came can look the attempt up by) → 303 to the DVA, ``GET /medmij/terug`` the
redirect URI → 303 to ``GET /ophalen/{id}``, the outcome of that attempt, and
``POST /opnieuw`` (``flow_id``): only what failed, again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from medmij_stack.protocol.funnel import Initiator, Outcome

from .attempts import Stage
from .categories import query_description
from .errors import NotFound
from .overview import source_states, tiles
from .settings import CALLBACK_PATH
from .situations import Situation
from .tables import Attempt, AttemptService
from .verzamelen import Choice, Started
from .web import Web

__all__ = ["mount_retrieval"]

_CALLBACK_PARAMS = ("state", "code", "error", "error_description")
_MAX_SEARCH = 100
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _callback_params(request: Request) -> Mapping[str, str]:
    """The callback's parameters; a repeated one is dropped, which makes the answer invalid."""
    params = request.query_params
    return {name: params[name] for name in _CALLBACK_PARAMS if len(params.getlist(name)) == 1}


def _wants_json(request: Request) -> bool:
    accepted = [
        part.split(";")[0].strip().lower() for part in request.headers.get("accept", "").split(",")
    ]
    return "application/json" in accepted and "text/html" not in accepted


def outcome_view(
    attempt: Attempt, services: Sequence[AttemptService], counts: Mapping[str, Mapping[str, int]]
) -> dict[str, Any]:
    """The outcome of an attempt for programs that drive the PGO's forms (simulations,
    load tests, the scripted patient): what the page says, without scraping it.

    ``outcome`` is null while the attempt runs; per gegevensdienst the same, and the
    number of distinct resources of each type it stored.
    """
    rows = {s.gegevensdienst: s for s in services}
    listed = [s.gegevensdienst for s in services] or attempt.gegevensdiensten.split()
    view_services = []
    for gegevensdienst in listed:
        row = rows.get(gegevensdienst)
        if row is not None:
            outcome = {"gelukt": Outcome.SUCCESS.value, "mislukt": Outcome.FAILURE.value}.get(
                row.status
            )
            reason = row.reason
        elif attempt.outcome == Outcome.FAILURE.value:  # ended before any retrieval
            outcome, reason = attempt.outcome, attempt.reason
        else:
            outcome, reason = None, None
        view_services.append(
            {
                "id": gegevensdienst,
                "outcome": outcome,
                "reason": reason,
                "resources": dict(counts.get(gegevensdienst, {})),
            }
        )
    return {
        "flow_id": attempt.flow_id,
        "zorgaanbieder": attempt.zorgaanbieder,
        "outcome": attempt.outcome,
        "reason": attempt.reason,
        "step": attempt.step,
        "stage": attempt.stage,
        "situation": attempt.situation,
        "gegevensdiensten": view_services,
    }


def mount_retrieval(app: FastAPI, web: Web) -> None:
    pgo = web.pgo
    verzamelen = pgo.verzamelen

    def provider_name(naam: str | None) -> str:
        if naam is None:
            return "de zorgaanbieder"
        return pgo.directory().provider_name(naam)

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        session = await web.session(request)
        if session is None or not session.logged_in:
            return web.render("welkom.html", session)
        account_id = session.account_id
        assert account_id is not None

        def gather() -> dict[str, Any]:
            sources = pgo.records.sources(account_id)
            keys = pgo.records.keys(account_id)
            states = source_states(pgo.db, account_id, sources)
            return {
                "tiles": tiles(states, keys),
                "sources": sources,
                "running": [s for s in states if s.running],
                "consents": [
                    c for c in pgo.consents.of_account(account_id) if c.status == "actief"
                ],
            }

        context = await anyio.to_thread.run_sync(gather)
        return web.render(
            "overzicht.html",
            session,
            csrf_token=session.csrf_token,
            provider_name=provider_name,
            service_name=pgo.directory().service_name,
            welkom="welkom" in request.query_params,
            **context,
        )

    @app.get("/zorgaanbieders", include_in_schema=False)
    async def search(request: Request) -> Response:
        session = await web.logged_in(request)
        params = web.query(request)
        zoek = params.get("zoek", "")[:_MAX_SEARCH]
        gegevensdienst = params.get("gegevensdienst", "")[:30]
        device = web.device(request, None, session)
        poging = await anyio.to_thread.run_sync(verzamelen.open_search, session, device)
        directory = pgo.directory()
        searched = "zoek" in params or "gegevensdienst" in params
        result = directory.search(zoek, gegevensdienst)
        assert session.account_id is not None
        consents = {
            c.zorgaanbieder
            for c in await anyio.to_thread.run_sync(pgo.consents.of_account, session.account_id)
            if c.status == "actief"
        }
        return web.render(
            "zorgaanbieders.html",
            session,
            csrf_token=session.csrf_token,
            zoek=zoek,
            gekozen_dienst=gegevensdienst,
            diensten=directory.offered_services(),
            result=result,
            searched=searched,
            consents=consents,
            poging=poging,
        )

    @app.post("/ophalen", include_in_schema=False)
    async def start(request: Request) -> Response:
        session, form = await web.posted(request)
        zorgaanbieder = form.one("zorgaanbieder", 64)
        chosen = form.many("gegevensdienst")
        poging = form.one("poging", 64) or None
        device = web.device(request, form, session)
        outcome = await verzamelen.start(session, device, zorgaanbieder, chosen, search_flow=poging)
        if isinstance(outcome, Choice):
            directory = pgo.directory()
            return web.render(
                "zorgaanbieders.html",
                session,
                status=400,
                csrf_token=session.csrf_token,
                zoek="",
                gekozen_dienst="",
                diensten=directory.offered_services(),
                result=directory.search(),
                searched=False,
                consents=set(),
                problem=outcome.problem,
                poging=poging,
            )
        assert isinstance(outcome, Started)
        return RedirectResponse(outcome.location, status_code=303)

    @app.get(CALLBACK_PATH, include_in_schema=False)
    async def callback(request: Request) -> Response:
        session = await web.session(request)
        params = _callback_params(request)
        result = await verzamelen.callback(session, params)
        if result.problem is None and result.flow_id is not None:
            return RedirectResponse(verzamelen.outcome_url(result.flow_id), status_code=303)
        problem = result.problem or Situation.STATE_ONBEKEND
        attempt = None
        if result.flow_id is not None:
            attempt = await anyio.to_thread.run_sync(pgo.attempts.get, result.flow_id)
        message = problem.message
        zorgaanbieder = provider_name(None if attempt is None else attempt.zorgaanbieder)
        return web.render(
            "terugkeer.html",
            session if session is not None and session.logged_in else None,
            status=400,
            situation=problem,
            message=message,
            title=message.title,
            what=message.what.format(
                zorgaanbieder=zorgaanbieder, helpdesk=pgo.settings.helpdesk_text
            ),
            next=message.next.format(
                zorgaanbieder=zorgaanbieder, helpdesk=pgo.settings.helpdesk_text
            ),
            flow_id=result.flow_id,
        )

    @app.get("/ophalen/{flow_id}", include_in_schema=False)
    async def outcome(request: Request, flow_id: str) -> Response:
        session = await web.logged_in(request)
        attempt = await anyio.to_thread.run_sync(pgo.attempts.get, flow_id)
        if attempt is None or attempt.account_id != session.account_id:
            raise NotFound("Deze ophaalpoging bestaat niet.")
        services = await anyio.to_thread.run_sync(pgo.attempts.services, flow_id)
        if _wants_json(request):
            counts = await anyio.to_thread.run_sync(pgo.records.counts, attempt.account_id, flow_id)
            return JSONResponse(outcome_view(attempt, services, counts), headers=_NO_STORE)
        outcomes = await anyio.to_thread.run_sync(pgo.records.outcomes, flow_id)
        zorgaanbieder = provider_name(attempt.zorgaanbieder)
        situation = None if attempt.situation is None else Situation(attempt.situation)
        message = None if situation is None else situation.message
        failed = [o for o in outcomes if o.failure is not None]
        return web.render(
            "uitkomst.html",
            session,
            csrf_token=session.csrf_token,
            attempt=attempt,
            busy=attempt.stage in (Stage.TERUG.value, Stage.OPHALEN.value),
            at_dva=attempt.stage == Stage.BIJ_DVA.value,
            situation=situation,
            message=message,
            what=None
            if message is None
            else message.what.format(
                zorgaanbieder=zorgaanbieder, helpdesk=pgo.settings.helpdesk_text
            ),
            next=None
            if message is None
            else message.next.format(
                zorgaanbieder=zorgaanbieder, helpdesk=pgo.settings.helpdesk_text
            ),
            zorgaanbieder=zorgaanbieder,
            services=services,
            failed=failed,
            query_description=query_description,
            service_name=pgo.directory().service_name,
            system=attempt.initiator == Initiator.SYSTEM.value,
        )

    @app.post("/opnieuw", include_in_schema=False)
    async def retry(request: Request) -> Response:
        session, form = await web.posted(request)
        flow_id = form.one("flow_id", 64)
        device = web.device(request, form, session)
        outcome = await verzamelen.retry(session, device, flow_id)
        if isinstance(outcome, Choice):
            raise NotFound(outcome.problem)
        return RedirectResponse(outcome.location, status_code=303)
