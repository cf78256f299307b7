"""Showing the records: the vaccinations, each health category, and the retrieval history.

``GET /gegevens/vaccinaties``, ``GET /gegevens/{categorie}`` (the slugs of
:mod:`medmij_stack.pgo.categories`) and ``GET /geschiedenis``. Every record shows where
it came from (zorgaanbieder and gegevensdienst) and when it was fetched.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import Response

from .categories import CATEGORIES, category, entries
from .errors import NotFound
from .overview import source_states, tiles
from .situations import Situation
from .vaccinations import vaccinations
from .web import Web

__all__ = ["mount_records"]


def mount_records(app: FastAPI, web: Web) -> None:
    pgo = web.pgo

    def tile_of(account_id: str, slug: str) -> object:
        sources = pgo.records.sources(account_id)
        states = source_states(pgo.db, account_id, sources)
        keys = pgo.records.keys(account_id)
        return next(t for t in tiles(states, keys) if t.category.slug == slug)

    @app.get("/gegevens/vaccinaties", include_in_schema=False)
    async def vaccination_page(request: Request) -> Response:
        session = await web.logged_in(request)
        account_id = session.account_id
        assert account_id is not None

        def gather() -> dict[str, Any]:
            return {
                "vaccinations": vaccinations(pgo.records.records(account_id)),
                "tile": tile_of(account_id, "vaccinaties"),
            }

        context = await anyio.to_thread.run_sync(gather)
        directory = pgo.directory()
        return web.render(
            "vaccinaties.html",
            session,
            csrf_token=session.csrf_token,
            provider_name=directory.provider_name,
            service_name=directory.service_name,
            **context,
        )

    @app.get("/gegevens/{slug}", include_in_schema=False)
    async def category_page(request: Request, slug: str) -> Response:
        session = await web.logged_in(request)
        chosen = category(slug)
        if chosen is None:
            raise NotFound("Deze soort gegevens kennen we niet.")
        account_id = session.account_id
        assert account_id is not None

        def gather() -> dict[str, Any]:
            return {
                "entries": entries(chosen, pgo.records.records(account_id)),
                "tile": tile_of(account_id, slug),
            }

        context = await anyio.to_thread.run_sync(gather)
        directory = pgo.directory()
        return web.render(
            "categorie.html",
            session,
            csrf_token=session.csrf_token,
            category=chosen,
            categories=CATEGORIES,
            provider_name=directory.provider_name,
            service_name=directory.service_name,
            **context,
        )

    @app.get("/geschiedenis", include_in_schema=False)
    async def history(request: Request) -> Response:
        session = await web.logged_in(request)
        account_id = session.account_id
        assert account_id is not None

        def gather() -> list[tuple[object, list[object]]]:
            return [
                (attempt, list(pgo.attempts.services(attempt.flow_id)))
                for attempt in pgo.attempts.of_account(account_id)
            ]

        rows = await anyio.to_thread.run_sync(gather)
        directory = pgo.directory()
        return web.render(
            "geschiedenis.html",
            session,
            csrf_token=session.csrf_token,
            rows=rows,
            situation_title=lambda value: Situation(value).message.title,
            provider_name=directory.provider_name,
            service_name=directory.service_name,
        )
