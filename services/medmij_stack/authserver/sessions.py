"""Browser sessions and the authorization flows in them, kept server-side.

A browser is known by a random cookie (``__Host-dva_sessie``: HttpOnly, Secure,
SameSite=Lax, path /); the database keeps only the cookie's digest and everything else.
Nothing about a flow travels in a signed cookie, so a restart or a second worker loses
nothing, and a flow can be ended on the server.

Each authorization request becomes a flow with its own random id (in the URLs of the
screens) and its own CSRF token (in every form). A request acts on a flow only when the
cookie belongs to the flow's session and, for a form, the CSRF token matches. Steps move
forward by compare-and-set, so a form posted twice (or from two tabs) acts once.

Flow steps::

    landing ──login──► digid ──artifact: ok──► consent ──allow / deny──► done
       │                  ├──artifact: cancel──► cancelled ──terug──► done
       └──cancel──────────┘  (and failure, no data, storing … end in done)
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update

from medmij_stack.protocol.funnel import Clock, system_clock

from . import credentials
from .db import Database
from .errors import FlowUnavailable, Unavailability
from .tables import BrowserSession, Flow

__all__ = ["COOKIE", "FlowRequest", "Sessions", "Started", "Step"]

COOKIE = "__Host-dva_sessie"

# Every screen reads its flow, and most move it a step: Core statements built once (a
# statement keeps its compiled form and cache key), not an ORM query built and loaded per
# request; they cost about half as much CPU.
_FLOWS: Table = Flow.__table__  # type: ignore[assignment]
_SESSIONS: Table = BrowserSession.__table__  # type: ignore[assignment]
_FLOW_COLUMNS = tuple(_FLOWS.columns)
_READ = (
    select(*_FLOW_COLUMNS, _SESSIONS.c.cookie_hash)
    .join_from(_FLOWS, _SESSIONS, _SESSIONS.c.id == _FLOWS.c.session_id)
    .where(_FLOWS.c.id == bindparam("flow_id"))
)
_AT = (_FLOWS.c.id == bindparam("flow_id"), _FLOWS.c.step.in_(bindparam("allowed", expanding=True)))
# A compare-and-set that returns the moved row: one statement, no read after it.
_MOVE = update(_FLOWS).where(*_AT).values(step=bindparam("to")).returning(*_FLOW_COLUMNS)
_MOVE_NAMING = (
    update(_FLOWS)
    .where(*_AT)
    .values(step=bindparam("to"), bsn=bindparam("new_bsn"), beschikbaar=bindparam("available"))
    .returning(*_FLOW_COLUMNS)
)


def _flow(row: Sequence[Any]) -> Flow:
    """A flow as read (a detached Flow: read and passed on, never written through)."""
    return Flow(**{column.key: value for column, value in zip(_FLOW_COLUMNS, row, strict=False)})


class Step:
    LANDING = "landing"
    DIGID = "digid"
    CONSENT = "consent"
    CANCELLED = "cancelled"
    STORING = "storing"
    DONE = "done"


@dataclass(frozen=True)
class FlowRequest:
    """The checked authorization request a flow starts from."""

    query: str
    client_id: str
    redirect_uri: str
    state: str | None
    zorgaanbieder: str
    gegevensdiensten: tuple[str, ...]
    request_id: str
    trace_id: str


@dataclass(frozen=True)
class Started:
    flow: Flow
    cookie: str | None  # set when a new browser session was opened


class Sessions:
    def __init__(
        self,
        db: Database,
        *,
        flow_ttl: timedelta,
        session_ttl: timedelta,
        clock: Clock = system_clock,
    ) -> None:
        self._db = db
        self._clock = clock  # virtual in a simulation world (medmij_stack.runtime.clock)
        self._flow_ttl = flow_ttl
        self._session_ttl = session_ttl

    def start(self, cookie: str | None, request: FlowRequest) -> Started:
        """A new flow, in the browser's session when it has a live one, else in a new one."""
        now = self._clock()
        with self._db.transaction() as session:
            browser = None
            if cookie:
                browser = session.scalar(
                    select(BrowserSession).where(
                        BrowserSession.cookie_hash == credentials.digest(cookie),
                        BrowserSession.expires_at > now,
                    )
                )
            new_cookie = None
            if browser is None:
                new_cookie = credentials.new_random()
                browser = BrowserSession(
                    id=credentials.new_uuid4(),
                    cookie_hash=credentials.digest(new_cookie),
                    created_at=now,
                    expires_at=now + self._session_ttl,
                )
                session.add(browser)
                session.flush()
            flow = Flow(
                id=credentials.new_uuid4(),
                session_id=browser.id,
                csrf_token=credentials.new_random(),
                query=request.query,
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                state=request.state,
                zorgaanbieder=request.zorgaanbieder,
                gegevensdiensten=" ".join(request.gegevensdiensten),
                request_id=request.request_id,
                trace_id=request.trace_id,
                step=Step.LANDING,
                created_at=now,
                expires_at=now + self._flow_ttl,
            )
            session.add(flow)
        return Started(flow, new_cookie)

    def flow(self, flow_id: str, cookie: str | None, *, allow_expired: bool = False) -> Flow:
        """The flow, when this browser started it and (unless allowed) it has not expired."""
        if not cookie or len(flow_id) > 64:
            raise FlowUnavailable("no session cookie, or no such flow", flow_id=flow_id)
        # A plain read of what is committed, on a connection (no ORM session: never called
        # inside a unit of work, whose writes it would not see).
        with self._db.engine.connect() as connection:
            row = connection.execute(_READ, {"flow_id": flow_id}).first()
        if row is None:
            raise FlowUnavailable("no such flow", flow_id=flow_id)
        flow, cookie_hash = _flow(row), row.cookie_hash
        if not credentials.matches(cookie, cookie_hash):
            raise FlowUnavailable("the flow belongs to another browser session", flow_id=flow_id)
        if not allow_expired and flow.expires_at <= self._clock():
            raise FlowUnavailable("the flow has expired", Unavailability.EXPIRED, flow_id)
        return flow

    @staticmethod
    def csrf_ok(flow: Flow, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(flow.csrf_token, token)

    def advance(
        self,
        flow: Flow,
        allowed: tuple[str, ...],
        to: str,
        *,
        bsn: str | None = None,
        beschikbaar: tuple[str, ...] | None = None,
    ) -> Flow:
        """Move the flow from one of ``allowed`` to ``to``; FlowUnavailable when it is not there."""
        values: dict[str, object] = {"flow_id": flow.id, "allowed": list(allowed), "to": to}
        statement = _MOVE
        if bsn is not None or beschikbaar is not None:
            statement = _MOVE_NAMING
            values["new_bsn"] = flow.bsn if bsn is None else bsn
            values["available"] = flow.beschikbaar if beschikbaar is None else " ".join(beschikbaar)
        with self._db.transaction() as session:
            row = session.execute(statement, values).first()
        if row is None:
            raise FlowUnavailable.step_taken(flow.step, flow.id)
        return _flow(row)
