"""Everything one authorisation server runs on, built once per process from its settings.

Both channel apps (front and back) share one :class:`Dva`: one database, one list
subscription, one OAuth server. It is closed when the last app that uses it stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from medmij.net import make_client
from medmij.node import ListSubscription
from medmij.persons import test_persons

from .availability import AvailabilityCheck
from .db import Database
from .digid import DigidSimulator
from .eventlog import Ketenlog
from .grants import GrantStore
from .oauth.server import DvaAuthorizationServer
from .pages import Pages
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
    availability: AvailabilityCheck
    oauth: DvaAuthorizationServer
    pages: Pages
    _users: int = field(default=0, repr=False)

    @classmethod
    def build(cls, settings: AuthserverSettings, lists: ListSubscription) -> Dva:
        db = Database(settings.database)
        store = GrantStore(
            db,
            code_ttl=timedelta(seconds=settings.code_ttl_seconds),
            access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_idle_months=settings.refresh_idle_months,
        )
        # The resource server is called with this node's own certificate (back channel).
        client = make_client(trust=settings.trust, cert=settings.identity, hosts=settings.hosts)
        return cls(
            settings=settings,
            lists=lists,
            db=db,
            sessions=Sessions(
                db,
                flow_ttl=timedelta(seconds=settings.flow_ttl_seconds),
                session_ttl=timedelta(seconds=settings.session_ttl_seconds),
            ),
            store=store,
            ketenlog=Ketenlog(db),
            digid=DigidSimulator(db, test_persons(settings.persons_seed, settings.persons_count)),
            availability=AvailabilityCheck(settings.availability_url, client, lists.whitelist),
            oauth=DvaAuthorizationServer(settings, lists, store),
            pages=Pages(settings.dva_naam),
        )

    def acquire(self) -> None:
        self._users += 1

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self.close()

    def close(self) -> None:
        self.availability.close()
        self.db.close()
