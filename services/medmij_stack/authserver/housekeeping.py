"""Housekeeping: rows whose time is over are deleted, a bounded batch at a time.

Without it, every authorization request would leave a flow, a browser session, a DigiD
artifact and a code behind for good, with the BSN in some of them: the AVG's storage
limitation asks that personal data go once its purpose is served. The purge runs in the
app's lifespan every ``purge_interval_seconds`` (:meth:`Housekeeping.run`), and can be
called directly (:meth:`Housekeeping.purge`).

What goes, once past its expiry plus a grace period (``purge_grace_seconds``, a day):

* DigiD artifacts, authorization codes and authorization flows (with their artifacts);
* browser sessions, once no flow is left in them;
* token rows whose access token has expired and whose refresh token can no longer be
  used: there was none, it lapsed, or it was revoked.

What never goes here:

* consents (``grants``): the record of what a person allowed whom;
* refresh tokens still valid, and used (rotated) refresh tokens until they would have
  lapsed anyway: presenting a used one again is how a replay is detected and must still
  end the consent (RFC 9700 4.14.2);
* the ketenlog: it is the measurement record that reports are computed from.

Why the grace period: as long as its row exists, an expired flow still shows the person
the way back to the PGO, and a spent code presented again still revokes what it issued
(RFC 6749 4.1.2). A day keeps both working well beyond any retry a person or PGO makes.

Each transaction deletes at most ``purge_batch`` rows of one table, and a run stops after
``max_batches`` per table, so a purge never holds a long lock on the tables the flow
writes to; what is left waits for the next run. Several processes may purge the same
database: deleting is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, or_, select
from sqlalchemy.orm import Session

from medmij_stack.protocol.funnel import Clock, system_clock

from .db import Database
from .tables import AuthorizationCode, BrowserSession, DigidArtifact, Flow, Token

__all__ = ["Housekeeping", "Purged"]

log = logging.getLogger(__name__)

_MAX_BATCHES = 100


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind one purge deleted."""

    artifacts: int = 0
    codes: int = 0
    tokens: int = 0
    flows: int = 0
    sessions: int = 0

    @property
    def total(self) -> int:
        return sum(astuple(self))


class Housekeeping:
    def __init__(
        self,
        db: Database,
        *,
        grace: timedelta,
        batch: int,
        max_batches: int = _MAX_BATCHES,
        clock: Clock = system_clock,
    ) -> None:
        if batch <= 0 or max_batches <= 0:
            raise ValueError("batch and max_batches must be positive")
        self._db = db
        self._clock = clock  # the clock the expiries were set by
        self.grace = grace
        self.batch = batch
        self.max_batches = max_batches

    def purge(self, now: datetime | None = None) -> Purged:
        """Delete what expired before ``now`` minus the grace period (now: the clock)."""
        cutoff = (now or self._clock()) - self.grace
        return Purged(
            # Artifacts and codes first: flows and consents are what they point at.
            artifacts=self._batches(lambda s: _artifacts(s, cutoff, self.batch)),
            codes=self._batches(lambda s: _codes(s, cutoff, self.batch)),
            tokens=self._batches(lambda s: _tokens(s, cutoff, self.batch)),
            flows=self._batches(lambda s: _flows(s, cutoff, self.batch)),
            sessions=self._batches(lambda s: _sessions(s, cutoff, self.batch)),
        )

    def _batches(self, step: Callable[[Session], int]) -> int:
        total = 0
        for _ in range(self.max_batches):
            with self._db.transaction() as session:
                deleted = step(session)
            total += deleted
            if deleted < self.batch:
                break
        return total

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Purge now and then every ``interval`` seconds, until ``stop`` is set.

        A purge that is under way when ``stop`` is set finishes first (it is bounded), so
        the database is never closed under it.
        """
        while not stop.is_set():
            try:
                purged = await asyncio.to_thread(self.purge)
            except Exception:
                # The database may be away for a moment; the server goes on serving, and the
                # next run picks up what this one left.
                log.exception("housekeeping: the purge failed")
            else:
                if purged.total:
                    log.info("housekeeping: purged %s", purged)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


def _count(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _artifacts(session: Session, cutoff: datetime, batch: int) -> int:
    doomed = select(DigidArtifact.artifact_hash).where(DigidArtifact.expires_at < cutoff)
    return _count(
        session.execute(
            delete(DigidArtifact)
            .where(DigidArtifact.artifact_hash.in_(doomed.limit(batch)))
            .execution_options(synchronize_session=False)
        )
    )


def _codes(session: Session, cutoff: datetime, batch: int) -> int:
    doomed = select(AuthorizationCode.code_hash).where(AuthorizationCode.expires_at < cutoff)
    return _count(
        session.execute(
            delete(AuthorizationCode)
            .where(AuthorizationCode.code_hash.in_(doomed.limit(batch)))
            .execution_options(synchronize_session=False)
        )
    )


def _tokens(session: Session, cutoff: datetime, batch: int) -> int:
    doomed = select(Token.id).where(
        Token.expires_at < cutoff,
        or_(
            Token.refresh_hash.is_(None),
            Token.refresh_expires_at < cutoff,
            Token.refresh_revoked_at < cutoff,
        ),
    )
    return _count(
        session.execute(
            delete(Token)
            .where(Token.id.in_(doomed.limit(batch)))
            .execution_options(synchronize_session=False)
        )
    )


def _flows(session: Session, cutoff: datetime, batch: int) -> int:
    flow_ids = list(session.scalars(select(Flow.id).where(Flow.expires_at < cutoff).limit(batch)))
    if not flow_ids:
        return 0
    # An artifact may outlive its flow by a few minutes; it goes with the flow it points at.
    session.execute(
        delete(DigidArtifact)
        .where(DigidArtifact.flow_id.in_(flow_ids))
        .execution_options(synchronize_session=False)
    )
    return _count(
        session.execute(
            delete(Flow).where(Flow.id.in_(flow_ids)).execution_options(synchronize_session=False)
        )
    )


def _sessions(session: Session, cutoff: datetime, batch: int) -> int:
    doomed = select(BrowserSession.id).where(
        BrowserSession.expires_at < cutoff,
        ~exists().where(Flow.session_id == BrowserSession.id),
    )
    return _count(
        session.execute(
            delete(BrowserSession)
            .where(BrowserSession.id.in_(doomed.limit(batch)))
            .execution_options(synchronize_session=False)
        )
    )
