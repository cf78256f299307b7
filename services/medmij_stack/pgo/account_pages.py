"""Signing up, logging in and out (routes and form names: the PGO contract).

``GET/POST /aanmelden`` (``gebruikersnaam``, ``wachtwoord``, ``wachtwoord_herhaling``),
``GET/POST /inloggen`` (``gebruikersnaam``, ``wachtwoord``), ``POST /uitloggen``. The
forms for people who are not logged in carry the CSRF token of an anonymous session,
opened when the form is shown; logging in replaces that session with a new one.
"""

from __future__ import annotations

import math

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from .accounts import LoginResult, SignupProblem
from .devices import device_of
from .web import Web

__all__ = ["mount_accounts"]


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minuut" if minutes == 1 else f"{minutes} minuten"


def mount_accounts(app: FastAPI, web: Web) -> None:
    pgo = web.pgo

    async def anonymous_form(
        request: Request, template: str, status: int = 200, **context: object
    ) -> Response:
        """A form page with the CSRF token of the browser's session (a new one if needed)."""
        found = await web.session(request)
        cookie = None
        if found is None:
            device = device_of(request.headers.get("user-agent"))
            session, cookie = await anyio.to_thread.run_sync(lambda: pgo.sessions.open(device))
        else:
            session = found
        response = web.render(
            template, session, status=status, csrf_token=session.csrf_token, **context
        )
        if cookie is not None:
            web.set_cookie(response, cookie)
        return response

    @app.get("/inloggen", include_in_schema=False)
    async def login_page(request: Request) -> Response:
        session = await web.session(request)
        if session is not None and session.logged_in:
            return RedirectResponse("/", status_code=303)
        return await anonymous_form(request, "inloggen.html")

    @app.post("/inloggen", include_in_schema=False)
    async def login(request: Request) -> Response:
        session, form = await web.posted(request, login=False)
        name = form.one("gebruikersnaam", 256)
        password = form.one("wachtwoord", 4096)
        result: LoginResult = await anyio.to_thread.run_sync(pgo.accounts.log_in, name, password)
        if result.account is None:
            if result.locked_for is not None:
                problem = (
                    "Je hebt te vaak een verkeerd wachtwoord ingevuld. "
                    f"Probeer het over {_minutes(result.locked_for.total_seconds())} opnieuw."
                )
            else:
                problem = (
                    "Deze gebruikersnaam en dit wachtwoord horen niet bij elkaar. "
                    "Probeer het opnieuw."
                )
            return web.render(
                "inloggen.html",
                session,
                400 if result.locked_for is None else 429,
                csrf_token=session.csrf_token,
                problem=problem,
                gebruikersnaam=name,
            )
        device = web.device(request, form)
        account_id = result.account.id
        _, cookie = await anyio.to_thread.run_sync(
            lambda: pgo.sessions.open(device, account_id, replaces=session.id)
        )
        response = RedirectResponse("/", status_code=303)
        web.set_cookie(response, cookie)
        return response

    @app.get("/aanmelden", include_in_schema=False)
    async def signup_page(request: Request) -> Response:
        session = await web.session(request)
        if session is not None and session.logged_in:
            return RedirectResponse("/", status_code=303)
        return await anonymous_form(request, "aanmelden.html", problems={})

    @app.post("/aanmelden", include_in_schema=False)
    async def signup(request: Request) -> Response:
        session, form = await web.posted(request, login=False)
        name = form.one("gebruikersnaam", 256)
        password = form.one("wachtwoord", 4096)
        again = form.one("wachtwoord_herhaling", 4096)
        made = await anyio.to_thread.run_sync(pgo.accounts.sign_up, name, password, again)
        if isinstance(made, list):
            problems: dict[str, str] = {}
            for problem in made:
                assert isinstance(problem, SignupProblem)
                problems.setdefault(problem.field, problem.message)
            return web.render(
                "aanmelden.html",
                session,
                status=400,
                csrf_token=session.csrf_token,
                problems=problems,
                gebruikersnaam=name,
            )
        device = web.device(request, form)
        account_id = made.id
        _, cookie = await anyio.to_thread.run_sync(
            lambda: pgo.sessions.open(device, account_id, replaces=session.id)
        )
        response = RedirectResponse("/?welkom=1", status_code=303)
        web.set_cookie(response, cookie)
        return response

    @app.post("/uitloggen", include_in_schema=False)
    async def logout(request: Request) -> Response:
        session, _ = await web.posted(request, login=False)
        await anyio.to_thread.run_sync(pgo.sessions.end, session.id)
        response = RedirectResponse("/inloggen?uitgelogd=1", status_code=303)
        web.clear_cookie(response)
        return response
