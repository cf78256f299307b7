"""Asking the DVA's authorisation server what an access token stands for (RFC 7662).

The resource server learns who is asking only from the token (``core.rscint.200``, and
point 4 of the Resource interface: no identifying data in the request itself). For
tokens from the MedMij flow it asks its own authorisation server over the back channel:
``POST <authserver back>/oauth/introspect`` with mutual TLS and this node's certificate,
as :mod:`medmij_stack.protocol.dva_contract` fixes between the two halves of one DVA.

Readings taken:

* Answers are cached no longer than a few seconds (default 5) and never past the token's
  ``exp``, so that the 28 BgZ queries of one retrieval cost one introspection, not 28.
  Concurrent questions about the same token share one call. The cache is keyed by the
  SHA-256 (hex) of the token, not the token: the form the authorisation server stores.
* A revocation takes effect at once all the same: the authorisation server sends the
  digests of the access tokens it revoked (:mod:`zorgaanbieder.revocations`) before it
  answers the revocation, and :meth:`Introspector.drop` forgets them, including an answer
  still on its way (a question asked before the revocation is not remembered after it).
  The notice reaches one worker or replica; the worker stores the digests in the shared
  database before it answers, and every worker reads what is new there before it serves a
  cached answer (:meth:`Introspector.follow`, :mod:`zorgaanbieder.revocations`).
* The Whitelist rule for a client ("check the server's hostname before the handshake")
  applies here too: an authorisation server whose host is not on the current Whitelist is
  not asked.
* When the authorisation server cannot be asked, or answers something unreadable, the
  token may well be good: that is ``503`` (try again), never ``401``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import httpx

from medmij_stack.protocol.dva_contract import Introspection
from medmij_stack.runtime.backchannel import CallFailed, Whitelist, post_async

from .errors import AuthServerUnavailable

__all__ = ["Introspector"]

_MAX_ENTRIES = 10_000


class Introspector:
    """Introspects tokens at one authorisation server, with a short-lived cache."""

    def __init__(
        self,
        url: str,
        client_factory: Callable[[], httpx.AsyncClient],
        *,
        cache_seconds: float = 5.0,
        whitelist: Whitelist | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.host = (urlsplit(url).hostname or "").lower()
        self._client_factory = client_factory
        self._client: httpx.AsyncClient | None = None
        self._cache_seconds = cache_seconds
        self._whitelist = whitelist
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Introspection]] = OrderedDict()
        self._pending: dict[str, asyncio.Task[Introspection]] = {}
        self._dropped_while_pending: set[str] = set()
        self._revoked_elsewhere: Callable[[], Awaitable[Iterable[str]]] | None = None

    def follow(self, revoked_elsewhere: Callable[[], Awaitable[Iterable[str]]] | None) -> None:
        """Before serving a cached answer, drop the digests ``revoked_elsewhere()`` names: those
        revoked since it was last asked, whichever worker or replica heard of them."""
        self._revoked_elsewhere = revoked_elsewhere

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def forget(self) -> None:
        """Drop every cached answer."""
        self._cache.clear()
        self._dropped_while_pending.update(self._pending)

    def drop(self, digests: Iterable[str]) -> int:
        """Forget the tokens of these SHA-256 digests (revoked); how many were cached."""
        dropped = 0
        for key in digests:
            if self._cache.pop(key, None) is not None:
                dropped += 1
            if key in self._pending:
                self._dropped_while_pending.add(key)
        return dropped

    async def introspect(self, token: str) -> Introspection:
        """What the authorisation server says about ``token``; AuthServerUnavailable if it can't."""
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and self._revoked_elsewhere is not None:
            self.drop(await self._revoked_elsewhere())
            cached = self._cache.get(key)
        if cached is not None:
            until, answer = cached
            if now < until:
                return answer
            del self._cache[key]
        task = self._pending.get(key)
        if task is None:
            # A task of its own, so that a caller who goes away does not cancel the call
            # the others are waiting for.
            task = asyncio.create_task(self._ask_and_remember(key, token))
            self._pending[key] = task
            task.add_done_callback(self._settled(key))
        return await asyncio.shield(task)

    def _settled(self, key: str) -> Callable[[asyncio.Task[Introspection]], None]:
        def done(task: asyncio.Task[Introspection]) -> None:
            self._pending.pop(key, None)
            self._dropped_while_pending.discard(key)
            if not task.cancelled():
                task.exception()  # retrieved, even when every caller has gone

        return done

    async def _ask_and_remember(self, key: str, token: str) -> Introspection:
        answer = await self._ask(token)
        if key not in self._dropped_while_pending:
            self._remember(key, answer, self._clock())
        return answer

    def _remember(self, key: str, answer: Introspection, now: float) -> None:
        until = now + self._cache_seconds
        if answer.active and answer.exp is not None:
            until = min(until, float(answer.exp))
        if until <= now:
            return
        self._cache[key] = (until, answer)
        if len(self._cache) > _MAX_ENTRIES:
            self._cache.popitem(last=False)

    async def _ask(self, token: str) -> Introspection:
        if self._client is None:
            self._client = self._client_factory()
        try:
            answer = await post_async(
                self._client, self.url, form={"token": token}, whitelist=self._whitelist
            )
            introspection = answer.read(Introspection.from_json)
        except CallFailed as failed:
            # Not asked (Whitelist), no answer, a status other than 200, an unreadable body.
            message = f"the authorisation server {failed}; try again"
            raise AuthServerUnavailable(message) from failed
        expired = introspection.exp is not None and introspection.exp <= self._clock()
        return Introspection(active=False) if introspection.active and expired else introspection
