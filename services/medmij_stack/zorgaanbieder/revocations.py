"""The revocation notice: the authorisation server says which access tokens it revoked.

Contract 3 of :mod:`medmij_stack.protocol.dva_contract`: ``POST /_dva/ingetrokken`` with the
SHA-256 digests of the revoked access tokens, sent before the revocation is answered. The
introspection cache (:mod:`zorgaanbieder.introspection`) forgets them, so the next resource
request with such a token is introspected again and refused. Only this DVA's own
authorisation server (the host of the introspection URL, behind the Whitelist gate) may
send one: another node could only make the cache forget, but has no business doing so.

Several workers or replicas: the notice reaches one of them. :class:`SharedRevocations` keeps
the digests in this resource server's database (:mod:`medmij_stack.runtime.broadcast`): the
receiving worker stores them before it answers the notice, so before the authorisation
server answers the revocation, and every worker reads what is new there before it serves a
cached introspection answer; on PostgreSQL a NOTIFY also wakes the others to drop them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse

from medmij_stack.protocol.dva_contract import RevocationNotice
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, INVALID_REQUEST
from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_json_object
from medmij_stack.runtime.broadcast import Broadcast
from medmij_stack.runtime.oauth_errors import oauth_error_response

from .introspection import Introspector

__all__ = ["RevocationNotices", "SharedRevocations"]

_MAX_BODY = 256 * 1024  # a consent has few tokens; a notice a few kilobytes at most


class SharedRevocations:
    """Revoked digests shared by every worker and replica on this resource server's database."""

    CHANNEL = "revoked_tokens"

    def __init__(self, broadcast: Broadcast, introspector: Introspector) -> None:
        self._broadcast = broadcast
        self._introspector = introspector
        self._waking: set[asyncio.Task[None]] = set()

    @classmethod
    def open(cls, database_url: str, introspector: Introspector) -> SharedRevocations:
        """Blocking: makes the table when missing."""
        return cls(Broadcast(database_url, cls.CHANNEL), introspector)

    def close(self) -> None:
        self._broadcast.close()

    async def publish(self, digests: Sequence[str]) -> None:
        await asyncio.to_thread(self._broadcast.publish, digests)

    async def news(self) -> list[str]:
        """Digests revoked since the last look, by whichever worker heard of them."""
        if self._broadcast.notifies:
            # PostgreSQL: a round trip; off the event loop.
            return await asyncio.to_thread(self._broadcast.news)
        # SQLite: a primary-key read in a local file, cheaper than a thread hop.
        return self._broadcast.news()

    def listening(self) -> contextlib.AbstractAsyncContextManager[None]:
        """While inside: on PostgreSQL, drop a revoked token as soon as NOTIFY says so."""
        return self._broadcast.listening(self._woken)

    def _woken(self) -> None:
        task = asyncio.create_task(self._drop_news())
        self._waking.add(task)
        task.add_done_callback(self._waking.discard)

    async def _drop_news(self) -> None:
        self._introspector.drop(await self.news())


class RevocationNotices:
    def __init__(self, introspector: Introspector | None, *, senders: Collection[str]) -> None:
        self._introspector = introspector
        self._senders = frozenset(name.lower() for name in senders)
        # Set once the database is open (the app's lifespan); None: this process only.
        self.shared: SharedRevocations | None = None

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
        if self.shared is not None:
            # Stored for every worker before the answer, so before the revocation's answer.
            await self.shared.publish(notice.access_token_sha256)
        if self._introspector is not None:
            dropped = self._introspector.drop(notice.access_token_sha256)
        return JSONResponse({"dropped": dropped}, headers={"Cache-Control": "no-store"})
