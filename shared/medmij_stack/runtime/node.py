"""A node's standing subscription to the MedMij lists, and its health report.

Every node fetches the four lists from the Stelselnode at least every 900 seconds
(UCI Opvragen Whitelist: "PGO Nodes en ZA Nodes betrekken minstens elke vijftien minuten
de meest recente Whitelist"), validates each against its XSD, refuses a list that may not
follow the last one it accepted (a lower Volgnummer, also after a restart: the mark is kept
in the node's data folder; an absurd jump; a Tijdstempel that goes backwards or lies in
the future) and keeps the last good list when a fetch or validation fails. A refused list
is logged and shown in the node's health under its list, with the reason.

Until the first Whitelist has arrived a node cannot judge any back-channel peer, so
its gate refuses them all (fail closed) and its health says "starting".

A failed refresh (any list not fetched, or refused) is tried again soon, not a whole
interval later, which would let a node hold a list up to twice the 900 seconds: after
5 seconds, then doubling, up to the interval (:func:`retry_delay`). The health report
gives each list's ``age_seconds``: how long ago the node last had it from the Stelselnode
(accepted, or found unchanged), null before the first time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.backchannel import node_async_client
from medmij_stack.runtime.config import NodeSettings
from medmij_stack.runtime.lists import ListSet

__all__ = ["ListSubscription", "retry_delay"]

log = logging.getLogger("medmij_stack.protocol.lists")

# A node that has no lists yet retries quickly: the Stelselnode may still be starting.
_FIRST_RETRY_SECONDS = 0.25
# A node that has its lists retries a failed refresh after this, doubling each time.
_RETRY_SECONDS = 5.0
# Failures in the first seconds of a node's life are expected (the Stelselnode starts
# alongside it) and are logged quietly; after that, or once a list was held, loudly.
_START_GRACE_SECONDS = 15.0


def retry_delay(failures: int, interval: float) -> float:
    """Seconds until the next refresh after ``failures`` failed ones in a row (0: none)."""
    if failures <= 0:
        return interval
    # Capped exponent: the doubling passes any interval long before it could overflow.
    return min(interval, _RETRY_SECONDS * 2.0 ** min(failures - 1, 32))


class ListSubscription:
    """Keeps a `ListSet` fresh from the Stelselnode in the background."""

    def __init__(
        self,
        urls: Mapping[ListKind, str],
        client_factory: Callable[[], httpx.AsyncClient],
        *,
        interval: float,
        development: bool = False,
        state_dir: Path | None = None,
        clock: Clock = system_clock,
        wait_at_start: float = 0.0,
    ) -> None:
        """`state_dir`: where the last accepted Volgnummer of each list is kept across
        restarts (a node's `data_dir / "lists"`); None keeps it in memory only. `clock`:
        the node's time of day, against which a list's Tijdstempel is judged.
        `wait_at_start`: how long the lifespan waits for every list before the app serves
        (NodeSettings.lists_wait_seconds); it serves after that in any case."""
        self.urls = dict(urls)
        self.lists = ListSet(development=development, state_dir=state_dir, clock=clock)
        self._client_factory = client_factory
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._users = 0
        self.last_attempt: float | None = None
        self._born = time.monotonic()
        self.last_problems: dict[ListKind, str | None] = {}
        self.failures = 0  # failed refreshes in a row, since the lists were all held
        # When each list was last had from the Stelselnode (accepted or unchanged), wall time.
        self.confirmed_at: dict[ListKind, float] = {}
        self._whitelist_names: tuple[object, frozenset[str]] | None = None
        self._wait_at_start = wait_at_start

    @classmethod
    def for_node(cls, settings: NodeSettings, *, clock: Clock = system_clock) -> ListSubscription:
        """The subscription of a node, fetching over mutual TLS with the node's own certificate."""
        return cls(
            settings.lists,
            lambda: node_async_client(settings),
            interval=settings.lists_refresh_seconds,
            development=settings.development,
            state_dir=settings.data_dir / "lists",
            clock=clock,
            wait_at_start=settings.lists_wait_seconds,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """An ASGI lifespan: refresh the lists while the app runs."""
        await self.start()
        if self._wait_at_start and not await self.wait_ready(self._wait_at_start):
            log.warning(
                "serving without every list after %.0f s: %s",
                self._wait_at_start,
                self.last_problems,
            )
        try:
            yield
        finally:
            await self.stop()

    @property
    def ready(self) -> bool:
        return all(self.lists.holder(kind).current is not None for kind in ListKind)

    def whitelist(self) -> frozenset[str] | None:
        """Hostnames on the current Whitelist, or None while none has been loaded."""
        current = self.lists.whitelist.current
        if current is None:
            return None
        # Asked on every back-channel request (the Whitelist gate): the set is made once per
        # accepted list, not per request. A list is immutable; a new one is a new object.
        held = self._whitelist_names
        if held is None or held[0] is not current:
            held = (current, frozenset(h.lower() for h in current.hostnames))
            self._whitelist_names = held
        return held[1]

    async def refresh(self, client: httpx.AsyncClient) -> dict[ListKind, str | None]:
        self.last_attempt = attempt = time.time()
        problems = await self.lists.refresh(client, self.urls)
        self.last_problems = problems
        for kind, problem in problems.items():
            if problem is None:
                self.confirmed_at[kind] = attempt
        self.failures = self.failures + 1 if any(problems.values()) else 0
        settling = time.monotonic() - self._born < _START_GRACE_SECONDS
        for kind, problem in problems.items():
            if problem is not None:
                holder = self.lists.holder(kind)
                # A refused list is news at any time; a failed fetch only once the
                # Stelselnode had time to start.
                quiet = settling and holder.current is None and holder.last_refusal is None
                level = logging.DEBUG if quiet else logging.WARNING
                log.log(level, "list %s not updated: %s", kind.filename, problem)
        return problems

    async def _run(self) -> None:
        async with self._client_factory() as client:
            while True:
                try:
                    await self.refresh(client)
                except Exception:  # a refresh that broke is one that failed
                    self.failures += 1
                    log.warning("list refresh failed", exc_info=True)
                await asyncio.sleep(self.next_delay())

    def next_delay(self) -> float:
        """Seconds until the next refresh: quick while starting, then :func:`retry_delay`."""
        if not self.ready:
            return _FIRST_RETRY_SECONDS
        return retry_delay(self.failures, self._interval)

    async def start(self) -> None:
        """Start refreshing (idempotent: several apps of one node may share it)."""
        self._users += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="medmij-list-refresh")

    async def stop(self) -> None:
        # Never below zero: a stop without its start must not cancel a later user's refresh.
        self._users = max(0, self._users - 1)
        if self._users <= 0 and self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.ready and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.ready

    def node_health(self, service: str, hostname: str) -> tuple[int, dict[str, Any]]:
        """HTTP status and body of a node's /health: 503 until every list has arrived."""
        body = {
            "status": "ok" if self.ready else "starting",
            "service": service,
            "node": hostname,
            "lists": self.health(),
        }
        return (200 if self.ready else 503), body

    def health(self) -> dict[str, Any]:
        """The lists part of a node's health report."""
        report: dict[str, Any] = {}
        now = time.time()
        for kind in ListKind:
            holder = self.lists.holder(kind)
            current = holder.current
            problem = self.last_problems.get(kind)
            refused = holder.last_refusal
            entry: dict[str, Any] = {
                "volgnummer": None if current is None else current.volgnummer,
                "tijdstempel": None if current is None else current.tijdstempel.isoformat(),
                "age_seconds": (
                    None
                    if kind not in self.confirmed_at
                    else round(max(0.0, now - self.confirmed_at[kind]), 1)
                ),
            }
            if problem:
                entry["problem"] = problem
            if refused is not None:
                # The list the node would not take; it stays out until a good one comes.
                entry["refused"] = {
                    "volgnummer": refused.volgnummer,
                    "tijdstempel": refused.tijdstempel and refused.tijdstempel.isoformat(),
                    "reason": refused.reason,
                }
            report[kind.name.lower()] = entry
        return report
