"""Retrievals as tasks of the app: every granted gegevensdienst of an attempt, then its end.

Once the token is in, :meth:`RetrievalRuns.run` starts the retrieval as a task; a person's
callback waits for it up to ``callback_wait_seconds`` (then shows "bezig" while it goes
on), the background job waits for it to the end. Per gegevensdienst the resource endpoint
comes from the current ZAL and must be on the current Whitelist before anything is sent;
the queries run through the retrieval engine (:mod:`medmij_stack.pgo.retrieval`) with
the attempt's X-Correlation-ID, its ketenlog records stored with the outcome. A retry
(``Attempt.retry_of``) asks only the queries that failed, when the answers of the others
were kept (:meth:`medmij_stack.pgo.records.RecordStore.kept`).

With several worker processes (``PgoSettings.workers``), a retrieval is known only to the
process that runs it; so that the background job in another one does not take it for one
a crash left behind, the running process moves its attempt's ``updated_at`` every
:data:`HEARTBEAT_SECONDS` (:meth:`RetrievalRuns.heartbeat`).

Each attempt ends exactly once: ``gelukt`` when every gegevensdienst came complete, else
the first failure's situation; a fault of the PGO itself is ``pgo-fout``, and a retrieval
cut off by a stopping PGO is ``onderbroken``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
import httpx

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import Clock, FailureReason
from medmij_stack.runtime.backchannel import NotAsked, Whitelist, require_whitelisted

from .attempts import AttemptStore
from .directory import Directory
from .eventlog import Trail
from .records import QueryAnswer, RecordStore
from .retrieval import ServiceResult
from .settings import PgoSettings
from .situations import Situation
from .tables import Attempt

__all__ = ["HEARTBEAT_SECONDS", "RetrievalRuns", "RetrieveService"]

log = logging.getLogger(__name__)

RetrieveService = Callable[..., Awaitable[ServiceResult]]
"""``medmij_stack.pgo.retrieval.retrieve_service``, or a stand-in with its signature."""

HEARTBEAT_SECONDS = 5.0
"""How often (in real time) a worker moves the attempts of the retrievals it runs."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _failure_situation(reason: FailureReason) -> Situation:
    return {
        FailureReason.RESOURCE_ERROR: Situation.OPHALEN_MISLUKT,
        FailureReason.INVALID_CONTENT: Situation.ONLEESBAAR,
    }.get(reason, Situation.PGO_FOUT)


class RetrievalRuns:
    def __init__(
        self,
        *,
        settings: PgoSettings,
        clock: Clock,
        attempts: AttemptStore,
        records: RecordStore,
        directory: Callable[[], Directory],
        client: httpx.AsyncClient,
        retrieve: RetrieveService,
        whitelist: Whitelist,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.attempts = attempts
        self.records = records
        self.directory = directory
        self.client = client
        self.retrieve = retrieve
        self.whitelist = whitelist
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._beat: asyncio.Task[None] | None = None

    @staticmethod
    async def _db(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))

    def _trail(self, flow_id: str, session_id: str | None) -> Trail:
        return Trail(self.clock, self.settings.hostname, flow_id, session_id)

    async def run(self, flow_id: str, access_token: str, *, wait: bool) -> None:
        """Start the retrieval of an attempt; wait for it (up to the callback's limit)."""
        task = self.spawn(flow_id, self._retrieve(flow_id, access_token))
        if wait:
            await asyncio.wait({task}, timeout=self.settings.callback_wait_seconds)
        else:
            await task

    def spawn(self, key: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        task = loop.create_task(work, name=f"pgo-{key}")
        self._tasks[key] = task
        if self.settings.workers > 1 and self._beat is None:
            self._beat = loop.create_task(self.heartbeat(), name="pgo-heartbeat")

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(key) is done:
                del self._tasks[key]

        task.add_done_callback(forget)
        return task

    # --- retrieval --------------------------------------------------------------------------

    async def _retrieve(self, flow_id: str, access_token: str) -> None:
        """Every granted gegevensdienst of the attempt, then its one ending."""
        try:
            attempt = await self._db(self.attempts.get, flow_id)
            assert attempt is not None
            assert attempt.zorgaanbieder is not None
            failures: list[tuple[FailureReason, str]] = []
            for gegevensdienst in (attempt.granted or "").split():
                failure = await self._retrieve_service(attempt, gegevensdienst, access_token)
                if failure is not None:
                    failures.append(failure)
            if failures:
                reason, detail = failures[0]
                await self._db(
                    self.attempts.end, flow_id, _failure_situation(reason), detail=detail
                )
            else:
                await self._db(self.attempts.end, flow_id, Situation.GELUKT)
        except asyncio.CancelledError:
            await asyncio.shield(
                self._db(
                    self.attempts.end, flow_id, Situation.ONDERBROKEN, detail="the PGO stopped"
                )
            )
            raise
        except Exception as exc:
            log.exception("retrieval of attempt %s failed in the PGO", flow_id)
            await self._db(
                self.attempts.end,
                flow_id,
                Situation.PGO_FOUT,
                detail=f"{type(exc).__name__}: {exc}"[:500],
            )

    async def _retrieve_service(
        self, attempt: Attempt, gegevensdienst: str, access_token: str
    ) -> tuple[FailureReason, str] | None:
        assert attempt.zorgaanbieder is not None
        flow_id = attempt.flow_id
        await self._db(self.records.mark_service, flow_id, gegevensdienst, "bezig", None, None)
        provider = self.directory().provider(attempt.zorgaanbieder)
        service = None if provider is None else provider.service(gegevensdienst)
        failure: tuple[FailureReason, str] | None = None
        if service is None:
            failure = (FailureReason.RESOURCE_ERROR, "the gegevensdienst is no longer in the ZAL")
        else:
            try:
                require_whitelisted(service.resource_endpoint, self.whitelist)
            except NotAsked as refused:
                failure = (
                    FailureReason.RESOURCE_ERROR,
                    f"resource endpoint not asked: {refused.reason}",
                )
        if failure is not None or service is None:
            assert failure is not None
            await self._db(self.records.mark_service, flow_id, gegevensdienst, "mislukt", *failure)
            return failure
        dienst = catalogue.get(gegevensdienst)
        kept: list[QueryAnswer] = []
        if attempt.retry_of is not None:
            kept, failed = await self._db(self.records.kept, attempt.retry_of, gegevensdienst)
            names = {q.name for q in dienst.queries}
            if kept and failed <= names and failed:
                dienst = dataclasses.replace(
                    dienst, queries=tuple(q for q in dienst.queries if q.name in failed)
                )
            else:
                kept = []
        trail = self._trail(flow_id, attempt.session_id)
        try:
            result = await self.retrieve(
                self.client,
                service.resource_endpoint,
                access_token,
                dienst,
                correlation_id=flow_id,
                clock=self.clock,
                sink=trail.sink,
                session_id=attempt.session_id,
                client_id=self.settings.hostname,
                timeout_seconds=self.settings.resource_timeout_seconds,
                max_bytes=self.settings.resource_max_bytes,
                concurrency=self.settings.resource_concurrency,
            )
        except (ValueError, httpx.HTTPError) as exc:
            failure = (FailureReason.CLIENT_ERROR, f"{type(exc).__name__}: {exc}"[:500])
            await self._db(self.records.mark_service, flow_id, gegevensdienst, "mislukt", *failure)
            await self._db(self.attempts.add_records, trail.take())
            return failure
        answers = [
            dataclasses.replace(answer, detail=f"kept from attempt {attempt.retry_of}")
            for answer in kept
        ] + [
            QueryAnswer(
                name=q.query.name,
                request_id=q.request_id,
                status=q.status,
                failure=q.failure,
                detail=q.detail,
                started=q.started,
                elapsed_seconds=q.elapsed_seconds,
                resources=q.resources,
            )
            for q in result.queries
        ]
        first = result.failure
        if first is not None:
            assert first.failure is not None
            failure = (first.failure, f"{first.query.name}: {first.detail or first.status}")
        await self._db(
            self.records.save,
            flow_id=flow_id,
            account_id=attempt.account_id,
            zorgaanbieder=attempt.zorgaanbieder,
            gegevensdienst=gegevensdienst,
            answers=answers,
            failure=failure,
            records=trail.take(),
        )
        return failure

    def busy(self, flow_id: str) -> bool:
        return flow_id in self._tasks

    async def heartbeat(self) -> None:
        """Every :data:`HEARTBEAT_SECONDS`, move the attempts this process is running."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            running = list(self._tasks)
            if not running:
                continue
            try:
                await self._db(self.attempts.touch, running)
            except Exception:  # the database: the next beat tries again
                log.warning("the heartbeat of %d retrieval(s) failed", len(running), exc_info=True)

    async def stop(self) -> None:
        """Cancel running work; each cancelled retrieval ends as ``onderbroken``."""
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)
            self._beat = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
