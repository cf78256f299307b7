"""Browser sessions, kept server-side, and the CSRF token of each.

A browser is known by a random cookie, ``__Host-pgo_sessie``: ``Secure`` (HTTPS only),
``HttpOnly`` (no script reads it), ``SameSite=Lax`` (not sent on cross-site POSTs, but
sent when the DVA sends the person back with a top-level GET to the redirect URI) and
``Path=/`` without ``Domain`` (the ``__Host-`` prefix makes browsers insist on all that).
The database keeps only the cookie's digest, and everything else about the session.

Each session has its own CSRF token, which every form carries in the hidden field
``csrf_token`` and every POST must return (synchroniser token pattern, OWASP CSRF
Prevention Cheat Sheet). Logging in makes a new session (new cookie, new CSRF token) and
ends the anonymous one, so a session id planted before login is worth nothing after it.

A session ends after ``session_idle_seconds`` without a request, and at the latest
``session_max_seconds`` after it began. Times come from the app's clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from medmij_stack.protocol.funnel import Clock, Device

from . import credentials
from .db import Database
from .tables import Account, WebSession

__all__ = ["COOKIE", "SessionInfo", "WebSessions"]

COOKIE = "__Host-pgo_sessie"

# last_seen_at is written at most this often, so that reading pages does not mean writing.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionInfo:
    id: str
    csrf_token: str
    device: Device
    account_id: str | None = None
    gebruikersnaam: str | None = None
    naam: str | None = None
    search_flow_id: str | None = None

    @property
    def logged_in(self) -> bool:
        return self.account_id is not None


class WebSessions:
    def __init__(self, db: Database, clock: Clock, *, idle: timedelta, maximum: timedelta) -> None:
        self._db = db
        self._clock = clock
        self._idle = idle
        self._maximum = maximum

    def find(self, cookie: str | None) -> SessionInfo | None:
        """The live session of this cookie (its idle time restarts), or None."""
        if not cookie or len(cookie) > 128:
            return None
        now = self._clock()
        # Read without the write lock: nearly every request only reads its session, and on
        # SQLite a write transaction per request queued every page behind every writer.
        with self._db.read() as session:
            row = session.execute(
                select(WebSession, Account)
                .outerjoin(Account, Account.id == WebSession.account_id)
                .where(
                    WebSession.cookie_hash == credentials.digest(cookie),
                    WebSession.expires_at > now,
                )
            ).first()
            if row is None:
                return None
            web, account = row
            info = SessionInfo(
                id=web.id,
                csrf_token=web.csrf_token,
                device=Device(web.device),
                account_id=web.account_id,
                gebruikersnaam=None if account is None else account.gebruikersnaam,
                naam=None if account is None else account.naam,
                search_flow_id=web.search_flow_id,
            )
            touch = now - web.last_seen_at >= _TOUCH_EVERY
            latest = web.created_at + self._maximum
        if touch:
            with self._db.transaction() as session:
                session.execute(
                    update(WebSession)
                    .where(WebSession.id == info.id)
                    .values(last_seen_at=now, expires_at=min(now + self._idle, latest))
                )
        return info

    def open(
        self, device: Device, account_id: str | None = None, *, replaces: str | None = None
    ) -> tuple[SessionInfo, str]:
        """A new session and its cookie; ``replaces`` (a session id) ends at the same time."""
        now = self._clock()
        cookie = credentials.new_random()
        web = WebSession(
            id=str(uuid.uuid4()),
            cookie_hash=credentials.digest(cookie),
            csrf_token=credentials.new_random(),
            account_id=account_id,
            device=device.value,
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + self._idle, now + self._maximum),
        )
        with self._db.transaction() as session:
            if replaces is not None:
                session.execute(delete(WebSession).where(WebSession.id == replaces))
            session.add(web)
            account = None if account_id is None else session.get(Account, account_id)
        info = SessionInfo(
            id=web.id,
            csrf_token=web.csrf_token,
            device=device,
            account_id=account_id,
            gebruikersnaam=None if account is None else account.gebruikersnaam,
            naam=None if account is None else account.naam,
        )
        return info, cookie

    def end(self, session_id: str) -> None:
        with self._db.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.id == session_id))

    def set_search_flow(self, session_id: str, flow_id: str | None) -> None:
        with self._db.transaction() as session:
            session.execute(
                update(WebSession).where(WebSession.id == session_id).values(search_flow_id=flow_id)
            )

    def take_search_flow(self, session_id: str, expected: str | None = None) -> str | None:
        """The open search attempt of the session, which from now on is no longer open.

        ``expected``: the attempt the posted form names; a form from an earlier search (an
        old tab, a search that has since been ended) takes nothing."""
        with self._db.transaction() as session:
            flow_id = session.scalar(
                select(WebSession.search_flow_id).where(WebSession.id == session_id)
            )
            if flow_id is None or (expected is not None and flow_id != expected):
                return None
            # Compare-and-set: of two forms posted at once, one takes the attempt.
            taken = session.execute(
                update(WebSession)
                .where(WebSession.id == session_id, WebSession.search_flow_id == flow_id)
                .values(search_flow_id=None)
            )
            return flow_id if taken.rowcount == 1 else None  # type: ignore[attr-defined]

    def purge(self) -> int:
        """Remove expired sessions; how many."""
        with self._db.transaction() as session:
            result = session.execute(
                delete(WebSession).where(WebSession.expires_at <= self._clock())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
