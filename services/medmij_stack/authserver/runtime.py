"""Everything one authorisation server runs on, built once per process from its settings.

Both channel apps (front and back) share one :class:`Dva`: one database, one list
subscription, one OAuth server. The first app to start starts its housekeeping; it is
stopped and closed when the last app that uses it stops.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.persons import test_persons
from medmij_stack.runtime.backchannel import node_async_client, node_client
from medmij_stack.runtime.ketenlog_delivery import KetenlogDeliverer, TableOutbox
from medmij_stack.runtime.node import ListSubscription

from . import paths
from .availability import AvailabilityCheck
from .db import Database
from .digid import ArtifactResolutionClient, Authenticator, DigidSimulator
from .eventlog import Ketenlog
from .frontchannel import Pages
from .grant_store import GrantStore
from .housekeeping import Housekeeping
from .oauth.server import DvaAuthorizationServer
from .revocation_notice import RevocationNotice, notice_url
from .sessions import Sessions
from .settings import AuthserverSettings

__all__ = ["Dva"]


@dataclass
class Dva:
    settings: AuthserverSettings
    lists: ListSubscription
    db: Database
    sessions: Sessions
    store: GrantStore
    ketenlog: Ketenlog
    digid: DigidSimulator
    authenticator: Authenticator
    availability: AvailabilityCheck
    oauth: DvaAuthorizationServer
    pages: Pages
    housekeeping: Housekeeping
    # Its ketenlog to the collector (medmij_stack.runtime.ketenlog_delivery); None without one.
    delivery: KetenlogDeliverer | None = None
    # The time of day of everything above (medmij_stack.runtime.clock: virtual in a
    # simulation world); the ketenlog trails of the channels read it too.
    clock: Clock = system_clock
    _users: int = field(default=0, repr=False)
    _stop: asyncio.Event | None = field(default=None, repr=False)
    _purging: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls, settings: AuthserverSettings, lists: ListSubscription, *, clock: Clock = system_clock
    ) -> Dva:
        db = Database(settings.database)
        store = GrantStore(
            db,
            code_ttl=timedelta(seconds=settings.code_ttl_seconds),
            access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_idle_months=settings.refresh_idle_months,
            on_revoked=RevocationNotice(
                notice_url(settings.availability_url),
                node_client(settings, timeout=3.0),
                lists.whitelist,
            ),
            clock=clock,
        )
        # The resource server and DigiD's artifact resolution are called with this node's
        # own certificate (back channel).
        client = node_client(settings)
        digid_client = node_async_client(settings)
        return cls(
            settings=settings,
            lists=lists,
            db=db,
            sessions=Sessions(
                db,
                flow_ttl=timedelta(seconds=settings.flow_ttl_seconds),
                session_ttl=timedelta(seconds=settings.session_ttl_seconds),
                clock=clock,
            ),
            store=store,
            ketenlog=Ketenlog(db),
            digid=DigidSimulator(
                db, test_persons(settings.persons_seed, settings.persons_count), clock=clock
            ),
            authenticator=ArtifactResolutionClient(
                settings.issuer + paths.DIGID_ARTIFACT_RESOLUTION, digid_client
            ),
            availability=AvailabilityCheck(settings.availability_url, client, lists.whitelist),
            oauth=DvaAuthorizationServer(settings, lists, store),
            pages=Pages(settings.dva_naam),
            housekeeping=Housekeeping(
                db,
                grace=timedelta(seconds=settings.purge_grace_seconds),
                batch=settings.purge_batch,
                clock=clock,
            ),
            delivery=KetenlogDeliverer.for_node(
                settings, TableOutbox(db.engine), whitelist=lists.whitelist
            ),
            clock=clock,
        )

    async def acquire(self) -> None:
        """An app starts using this: the first one starts the housekeeping."""
        self._users += 1
        if self._users == 1:
            self._stop = asyncio.Event()
            self._purging = asyncio.create_task(
                self.housekeeping.run(self.settings.purge_interval_seconds, self._stop),
                name="authserver housekeeping",
            )
            if self.delivery is not None:
                await self.delivery.start()

    async def release(self) -> None:
        """An app stops using this: the last one stops the housekeeping and closes it all."""
        self._users -= 1
        if self._users > 0:
            return
        if self._stop is not None and self._purging is not None:
            self._stop.set()
            await self._purging
            self._stop = self._purging = None
        if self.delivery is not None:
            await self.delivery.stop()
        await self.authenticator.aclose()
        self.close()

    def close(self) -> None:
        self.availability.close()
        self.db.close()
