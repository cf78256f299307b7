"""The PGO's machinery in one place: database, stores, OAuth client, retrieval and jobs.

One :class:`Pgo` per process: ``app.py`` mounts the pages on it. Its lifespan opens the
back-channel client (mutual TLS with the PGO node's certificate), makes the demo
accounts, and runs the background job every ``background_interval_seconds``: refreshing
data with langdurige toestemming before it lapses, and sweeping attempts nobody will
finish. Everything takes the injectable clock, so a simulation can move time.

Several worker processes may serve one PGO (``medmij serve pgo --workers N``): everything a
request needs is in the database (sessions, attempts, consents, records), a retrieval runs
in the process that took its token and the callback that waits for it is answered by that
same process. The once-only work (demo accounts, ending a killed process's attempts, the
background job, the ketenlog delivery) is the first worker's (``PgoSettings.leader``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio.to_thread
import httpx

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.runtime.backchannel import node_async_client
from medmij_stack.runtime.ketenlog_delivery import KetenlogDeliverer, TableOutbox, delivering
from medmij_stack.runtime.node import ListSubscription

from . import passwords
from .accounts import Accounts
from .attempts import AttemptStore
from .consents import ConsentStore
from .db import Database
from .directory import Directory
from .eventlog import Measurements
from .oauth_client import OAuthClient
from .pages import Pages
from .records import RecordStore
from .retrieval_runs import RetrieveService
from .sealing import Sealer
from .settings import PgoSettings
from .verzamelen import Verzamelen
from .websessions import WebSessions

__all__ = ["Pgo"]

log = logging.getLogger(__name__)


def _default_retrieve() -> RetrieveService:
    from .retrieval import retrieve_service

    return retrieve_service


class Pgo:
    def __init__(
        self,
        settings: PgoSettings,
        *,
        lists: ListSubscription,
        clock: Clock = system_clock,
        retrieve: RetrieveService | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.lists = lists
        self.clock = clock
        self.db = Database(settings.database)
        # Its ketenlog to the collector (medmij_stack.runtime.ketenlog_delivery); None without.
        self.delivery = KetenlogDeliverer.for_node(
            settings, TableOutbox(self.db.engine), whitelist=self.lists.whitelist
        )
        self.sessions = WebSessions(
            self.db,
            clock,
            idle=timedelta(seconds=settings.session_idle_seconds),
            maximum=timedelta(seconds=settings.session_max_seconds),
        )
        self.accounts = Accounts(
            self.db,
            clock,
            failures_before_lock=settings.login_failures_before_lock,
            lock=timedelta(seconds=settings.login_lock_seconds),
            lock_max=timedelta(seconds=settings.login_lock_max_seconds),
            cost=passwords.ScryptParameters(settings.password_cost, 8, 1),
            demo_cost=passwords.SIMULATED if settings.simulated_accounts else passwords.DEMO,
        )
        self.attempts = AttemptStore(self.db, clock, pgo=settings.hostname)
        self.records = RecordStore(
            self.db,
            clock,
            staged_max_age=timedelta(seconds=settings.staged_results_max_age_seconds),
        )
        self.consents = ConsentStore(
            self.db,
            clock,
            Sealer.from_file(settings.token_key_path),
            lapse_months=settings.consent_lapse_months,
        )
        self.measurements = Measurements(self.db)
        self.pages = Pages(settings.naam)
        # The back channel: mutual TLS as the PGO node, the Private root only, the world's
        # host map; each call sets its own deadline on top of this ceiling.
        self.client = client or node_async_client(
            settings,
            timeout=max(settings.token_timeout_seconds, settings.resource_timeout_seconds),
        )
        self.oauth = OAuthClient(
            client_id=settings.hostname,
            redirect_uri=settings.redirect_uri,
            client=self.client,
            whitelist=lists.whitelist,
            timeout=settings.token_timeout_seconds,
        )
        self.verzamelen = Verzamelen(
            settings=settings,
            clock=clock,
            attempts=self.attempts,
            records=self.records,
            consents=self.consents,
            sessions=self.sessions,
            oauth=self.oauth,
            directory=self.directory,
            client=self.client,
            retrieve=retrieve or _default_retrieve(),
            whitelist=lists.whitelist,
        )
        self._job: asyncio.Task[None] | None = None

    def directory(self) -> Directory:
        """The zorgaanbieders as the current lists say."""
        held = self.lists.lists
        return Directory(
            zal=held.zal.current,
            gnl=held.gnl.current,
            ocl=held.ocl.current,
            client_id=self.settings.hostname,
            weergavenamen=self.settings.weergavenamen,
        )

    async def background_once(self) -> None:
        """One round of the background job (also called by tests and simulations)."""
        await self.verzamelen.sweep()
        if self.lists.whitelist() is not None:
            await self.verzamelen.refresh_due()

    async def _background(self) -> None:
        while True:
            await asyncio.sleep(self.settings.background_interval_seconds)
            try:
                await self.background_once()
            except Exception:
                log.exception("the PGO's background job failed; it runs again later")

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        if self.settings.leader:
            # The first worker starts alone (medmij_stack.wiring.workers): when it ends what
            # a killed process left under way, no other process of the role is running yet,
            # so nothing it ends is anyone's live work.
            made = await anyio.to_thread.run_sync(
                self.accounts.ensure_demo, self.settings.demo_accounts
            )
            if made:
                log.info("made %d demo account(s)", made)
            interrupted = await self.verzamelen.end_interrupted()
            if interrupted:
                log.warning(
                    "ended %d attempt(s) the previous process left under way", len(interrupted)
                )
        async with self.lists.lifespan(app):
            # One background job per role: its sweeps are compare-and-sets and would do no
            # harm twice, but a langdurige toestemming's refresh is one use of a single-use
            # refresh token, and one process should be the one to make it.
            if self.settings.leader:
                self._job = asyncio.create_task(self._background(), name="pgo-background")
            try:
                async with delivering(self.delivery):
                    yield
            finally:
                if self._job is not None:
                    self._job.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._job
                await self.verzamelen.stop()
                await self.client.aclose()

    def close(self) -> None:
        self.db.close()
