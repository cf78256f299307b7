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
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from medmij_stack.protocol.funnel import Clock, system_clock

from . import credentials
from .db import Database
from .errors import FlowUnavailable, Unavailability
from .tables import BrowserSession, Flow

__all__ = ["COOKIE", "FlowRequest", "Sessions", "Started", "Step"]

COOKIE = "__Host-dva_sessie"


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
        with self._db.transaction(write=False) as session:
            row = session.execute(
                select(Flow, BrowserSession.cookie_hash)
                .join(BrowserSession, BrowserSession.id == Flow.session_id)
                .where(Flow.id == flow_id)
            ).first()
        if row is None:
            raise FlowUnavailable("no such flow", flow_id=flow_id)
        flow, cookie_hash = row
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
        values: dict[str, object] = {"step": to}
        if bsn is not None:
            values["bsn"] = bsn
        if beschikbaar is not None:
            values["beschikbaar"] = " ".join(beschikbaar)
        with self._db.transaction() as session:
            moved = session.execute(
                update(Flow)
                .where(Flow.id == flow.id, Flow.step.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise FlowUnavailable.step_taken(flow.step, flow.id)
            fresh = session.get(Flow, flow.id)
            assert fresh is not None
            session.refresh(fresh)
            return fresh
