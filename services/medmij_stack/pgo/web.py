"""What every page handler needs: the session, the form, the CSRF check, the cookie.

Forms are read only after the request passed :class:`BodyLimit` (no body over 64 KiB is
read at all), as ``application/x-www-form-urlencoded`` or ``multipart/form-data``
without files. A POST acts only when its ``csrf_token`` is the session's
(:mod:`medmij_stack.pgo.websessions`); a form without it, or from a session that ended,
changes nothing and gets the "formulier verlopen" page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import anyio.to_thread
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medmij_stack.protocol.funnel import Device

from . import credentials
from .devices import FIELD as DEVICE_FIELD
from .devices import device_of
from .errors import BadRequest, FormExpired, NotLoggedIn
from .runtime import Pgo
from .websessions import COOKIE, SessionInfo

__all__ = ["BodyLimit", "Form", "Web"]

MAX_BODY = 64 * 1024


class BodyLimit:
    """Refuse request bodies over ``MAX_BODY`` (413), counted as they stream in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY:
                    raise BadRequest("Dit formulier is te groot.")
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send) -> None:
    body = b"Dit verzoek is te groot."
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class Form:
    """A submitted form: one value per name, except for the names asked as lists."""

    data: FormData

    def one(self, name: str, limit: int = 1024) -> str:
        values = self.data.getlist(name)
        if len(values) > 1:
            raise BadRequest(f"Het veld {name} komt meer dan eens voor.")
        value = values[0] if values else ""
        if not isinstance(value, str) or len(value) > limit:
            raise BadRequest(f"Het veld {name} is niet goed ingevuld.")
        return value

    def many(self, name: str, limit: int = 64) -> list[str]:
        values = self.data.getlist(name)
        if len(values) > limit or any(not isinstance(v, str) or len(v) > 64 for v in values):
            raise BadRequest(f"Het veld {name} is niet goed ingevuld.")
        return [str(v) for v in values]


class Web:
    """The page handlers' view of the PGO."""

    def __init__(self, pgo: Pgo) -> None:
        self.pgo = pgo

    async def session(self, request: Request) -> SessionInfo | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        return await anyio.to_thread.run_sync(self.pgo.sessions.find, cookie)

    async def logged_in(self, request: Request) -> SessionInfo:
        web = await self.session(request)
        if web is None or not web.logged_in:
            raise NotLoggedIn()
        return web

    async def form(self, request: Request) -> Form:
        try:
            data = await request.form(max_files=0, max_fields=200)
        except (ValueError, KeyError, AssertionError) as exc:
            raise BadRequest("Dit formulier kunnen we niet lezen.") from exc
        return Form(data)

    async def posted(self, request: Request, *, login: bool = True) -> tuple[SessionInfo, Form]:
        """The session and form of a POST whose CSRF token checks out."""
        web = await self.session(request)
        form = await self.form(request)
        if web is None or not credentials.same(form.one("csrf_token", 128), web.csrf_token):
            raise FormExpired()
        if login and not web.logged_in:
            raise NotLoggedIn()
        return web, form

    @staticmethod
    def device(
        request: Request, form: Form | None = None, web: SessionInfo | None = None
    ) -> Device:
        field = form.one(DEVICE_FIELD, 16) if form is not None else None
        if not field and web is not None:
            return web.device
        return device_of(request.headers.get("user-agent"), field or None)

    @staticmethod
    def set_cookie(response: Response, cookie: str) -> None:
        # __Host-: Secure, Path=/ and no Domain, or browsers refuse it.
        response.set_cookie(COOKIE, cookie, path="/", secure=True, httponly=True, samesite="lax")

    @staticmethod
    def clear_cookie(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")

    def render(
        self, template: str, web: SessionInfo | None, status: int = 200, **context: object
    ) -> Response:
        return self.pgo.pages.render(template, status, web=web, **context)

    def query(self, request: Request) -> Mapping[str, str]:
        """Query parameters, each once; a repeated one is a BadRequest."""
        params = request.query_params
        if any(len(params.getlist(name)) > 1 for name in params):
            raise BadRequest("Een parameter in deze link komt meer dan eens voor.")
        return dict(params)
