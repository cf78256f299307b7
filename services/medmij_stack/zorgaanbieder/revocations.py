"""The revocation notice: the authorisation server says which access tokens it revoked.

Contract 3 of :mod:`medmij_stack.protocol.dva_contract`: ``POST /_dva/ingetrokken`` with the
SHA-256 digests of the revoked access tokens, sent before the revocation is answered. The
introspection cache (:mod:`zorgaanbieder.introspection`) forgets them, so the next resource
request with such a token is introspected again and refused. Only this DVA's own
authorisation server (the host of the introspection URL, behind the Whitelist gate) may
send one: another node could only make the cache forget, but has no business doing so.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.requests import Request
from starlette.responses import JSONResponse

from medmij_stack.protocol.dva_contract import RevocationNotice
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, INVALID_REQUEST
from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_json_object
from medmij_stack.runtime.oauth_errors import oauth_error_response

from .introspection import Introspector

__all__ = ["RevocationNotices"]

_MAX_BODY = 256 * 1024  # a consent has few tokens; a notice a few kilobytes at most


class RevocationNotices:
    def __init__(self, introspector: Introspector | None, *, senders: Collection[str]) -> None:
        self._introspector = introspector
        self._senders = frozenset(name.lower() for name in senders)

    async def answer(self, request: Request) -> JSONResponse:
        """The endpoint: digests in, how many cached answers were dropped out."""
        if self._senders.isdisjoint(admitted_hostnames(request.scope)):
            return oauth_error_response(
                403, ACCESS_DENIED, "only this DVA's authorisation server may send this"
            )
        try:
            data = await read_json_object(request, max_bytes=_MAX_BODY)
            notice = RevocationNotice.from_json(data)
        except UnreadableRequest as unreadable:
            description = f"not a revocation notice: {unreadable.description}"
            return oauth_error_response(unreadable.status, INVALID_REQUEST, description)
        except ValueError as exc:
            return oauth_error_response(400, INVALID_REQUEST, f"not a revocation notice: {exc}")
        dropped = 0
        if self._introspector is not None:
            dropped = self._introspector.drop(notice.access_token_sha256)
        return JSONResponse({"dropped": dropped}, headers={"Cache-Control": "no-store"})
