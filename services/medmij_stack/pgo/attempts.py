"""Retrieval attempts: their stages, their funnel events, and how each one ends.

An attempt (one flow of Verzamelen; its ``flow_id`` is the X-Correlation-ID) moves::

    zoeken ──choose──► bij-dva ──callback──► terug ──► ophalen ──► klaar
       │  (or straight to ophalen with a langdurige toestemming)        ▲
       └──────────────── every other ending ────────────────────────────┘

and leaves the funnel events of :mod:`medmij_stack.protocol.funnel`: ``flow-start`` when
the person starts "gegevens ophalen", ``zorgaanbieder-gekozen`` and
``gegevensdienst-gekozen`` when they choose, ``ingelogd-bij-dva`` when the DVA's answer
shows they logged in (a code, a refused consent, or "no data", which the DVA can only
say after DigiD), and exactly one ``flow-end``: every move to ``klaar`` is a
compare-and-set in the same transaction as its event, so two endings (a callback and a
sweep, a retrieval and a shutdown) cannot both happen.

The ``state`` of an authorization request is stored as its SHA-256 digest, bound to the
browser session that made it, and valid ``state_ttl_seconds``; the callback claims it
once (compare-and-set ``bij-dva`` → ``terug``), so a replayed ``state`` finds the attempt
already past that stage.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from medmij_stack.protocol.funnel import (
    Clock,
    Device,
    FunnelEvent,
    FunnelStep,
    Initiator,
    Outcome,
)
from medmij_stack.protocol.ketenlog import Record

from . import credentials
from .db import Database
from .eventlog import add_funnel, add_ketenlog
from .situations import Situation
from .tables import Attempt, AttemptService, RejectedCallback

__all__ = ["AttemptStore", "Claim", "Stage"]


class Stage(StrEnum):
    ZOEKEN = "zoeken"
    BIJ_DVA = "bij-dva"
    TERUG = "terug"
    OPHALEN = "ophalen"
    KLAAR = "klaar"


@dataclass(frozen=True)
class Claim:
    """What a callback's ``state`` led to: the attempt to go on with, or why not."""

    attempt: Attempt | None
    problem: Situation | None  # set when the callback is refused
    flow_id: str | None = None  # the attempt the state named, also when refused


def _services(text: str | None) -> tuple[str, ...]:
    return tuple((text or "").split())


class AttemptStore:
    def __init__(self, db: Database, clock: Clock, *, pgo: str) -> None:
        self._db = db
        self._clock = clock
        self._pgo = pgo

    # --- events ---------------------------------------------------------------------------

    def _event(
        self,
        attempt: Attempt,
        name: FunnelStep,
        at: datetime,
        *,
        situation: Situation | None = None,
        detail: str | None = None,
    ) -> FunnelEvent:
        outcome = reason = step = None
        if name is FunnelStep.FLOW_END:
            assert situation is not None
            reason = situation.reason
            outcome = Outcome.SUCCESS if reason is None else Outcome.FAILURE
            step = None if reason is None else reason.step
        return FunnelEvent(
            name=name,
            at=at,
            flow_id=attempt.flow_id,
            person=attempt.account_id,
            pgo=self._pgo,
            device=Device(attempt.device),
            initiator=Initiator(attempt.initiator),
            zorgaanbieder=attempt.zorgaanbieder,
            gegevensdiensten=_services(attempt.gegevensdiensten),
            outcome=outcome,
            reason=reason,
            step=step,
            detail=detail,
        )

    # --- reading --------------------------------------------------------------------------

    def get(self, flow_id: str) -> Attempt | None:
        if len(flow_id) > 64:
            return None
        with self._db.read() as session:
            return session.get(Attempt, flow_id)

    def services(self, flow_id: str) -> list[AttemptService]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(AttemptService)
                    .where(AttemptService.flow_id == flow_id)
                    .order_by(AttemptService.gegevensdienst)
                )
            )

    def of_account(self, account_id: str, limit: int = 200) -> list[Attempt]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(Attempt)
                    .where(Attempt.account_id == account_id, Attempt.zorgaanbieder.is_not(None))
                    .order_by(Attempt.started_at.desc())
                    .limit(limit)
                )
            )

    def running(self, account_id: str) -> list[Attempt]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(Attempt).where(
                        Attempt.account_id == account_id,
                        Attempt.stage.in_((Stage.TERUG.value, Stage.OPHALEN.value)),
                    )
                )
            )

    # --- moving on ------------------------------------------------------------------------

    def open(
        self,
        account_id: str,
        *,
        session_id: str | None,
        device: Device,
        initiator: Initiator = Initiator.PERSON,
        retry_of: str | None = None,
    ) -> Attempt:
        """A new attempt, with its ``verzamelen.flow-start``."""
        now = self._clock()
        attempt = Attempt(
            flow_id=str(uuid.uuid4()),
            account_id=account_id,
            session_id=session_id,
            initiator=initiator.value,
            device=device.value,
            zorgaanbieder=None,
            gegevensdiensten="",
            retry_of=retry_of,
            stage=Stage.ZOEKEN.value,
            via_consent=False,
            started_at=now,
            updated_at=now,
        )
        with self._db.transaction() as session:
            session.add(attempt)
            add_funnel(session, [self._event(attempt, FunnelStep.FLOW_START, now)])
        return attempt

    def choose(
        self, flow_id: str, zorgaanbieder: str, gegevensdiensten: Sequence[str], device: Device
    ) -> Attempt | None:
        """The person chose: the two funnel events; None when the attempt is past choosing."""
        now = self._clock()
        with self._db.transaction() as session:
            moved = session.execute(
                update(Attempt)
                .where(
                    Attempt.flow_id == flow_id,
                    Attempt.stage == Stage.ZOEKEN.value,
                    Attempt.zorgaanbieder.is_(None),
                )
                .values(
                    zorgaanbieder=zorgaanbieder,
                    gegevensdiensten=" ".join(gegevensdiensten),
                    device=device.value,
                    updated_at=now,
                )
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return None
            attempt = session.get(Attempt, flow_id)
            assert attempt is not None
            session.refresh(attempt)
            add_funnel(
                session,
                [
                    self._event(attempt, FunnelStep.ZORGAANBIEDER_GEKOZEN, now),
                    self._event(attempt, FunnelStep.GEGEVENSDIENST_GEKOZEN, now),
                ],
            )
            return attempt

    def to_dva(
        self,
        flow_id: str,
        *,
        state: str,
        code_verifier: str,
        token_endpoint: str,
        ttl: timedelta,
        records: Sequence[Record],
    ) -> bool:
        now = self._clock()
        with self._db.transaction() as session:
            moved = session.execute(
                update(Attempt)
                .where(Attempt.flow_id == flow_id, Attempt.stage == Stage.ZOEKEN.value)
                .values(
                    stage=Stage.BIJ_DVA.value,
                    state_hash=credentials.digest(state),
                    state_expires_at=now + ttl,
                    code_verifier=code_verifier,
                    token_endpoint=token_endpoint,
                    updated_at=now,
                )
            )
            add_ketenlog(session, records)
            return bool(moved.rowcount == 1)  # type: ignore[attr-defined]

    def to_retrieval(
        self,
        flow_id: str,
        *,
        granted: Sequence[str],
        via_consent: bool = False,
        token_endpoint: str | None = None,
        records: Sequence[Record] = (),
    ) -> bool:
        """The token is in: the granted services wait to be fetched."""
        now = self._clock()
        with self._db.transaction() as session:
            values: dict[str, object] = {
                "stage": Stage.OPHALEN.value,
                "granted": " ".join(granted),
                "via_consent": via_consent,
                "code_verifier": None,
                "updated_at": now,
            }
            if token_endpoint is not None:
                values["token_endpoint"] = token_endpoint
            moved = session.execute(
                update(Attempt)
                .where(
                    Attempt.flow_id == flow_id,
                    Attempt.stage.in_((Stage.ZOEKEN.value, Stage.TERUG.value)),
                )
                .values(**values)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return False
            session.add_all(
                AttemptService(flow_id=flow_id, gegevensdienst=g, status="wachten") for g in granted
            )
            add_ketenlog(session, records)
            return True

    def grant_services(
        self, flow_id: str, granted: Sequence[str], records: Sequence[Record] = ()
    ) -> None:
        """What a refreshed token grants (langdurige toestemming), waiting to be fetched."""
        now = self._clock()
        with self._db.transaction() as session:
            session.execute(
                update(Attempt)
                .where(Attempt.flow_id == flow_id)
                .values(granted=" ".join(granted), updated_at=now)
            )
            session.add_all(
                AttemptService(flow_id=flow_id, gegevensdienst=g, status="wachten") for g in granted
            )
            add_ketenlog(session, records)

    def claim(self, state: str | None, session_id: str | None, account_id: str | None) -> Claim:
        """The attempt a callback's ``state`` names, taken once; refusals are recorded."""
        now = self._clock()
        if not state:
            self._reject(Situation.STATE_ONTBREEKT, session_id, account_id, None, "no state")
            return Claim(None, Situation.STATE_ONTBREEKT)
        state_hash = credentials.digest(state) if len(state) <= 512 else ""
        with self._db.transaction() as session:
            attempt = session.scalar(select(Attempt).where(Attempt.state_hash == state_hash))
            if attempt is None:
                problem, detail = Situation.STATE_ONBEKEND, "state matches no attempt"
            elif attempt.stage != Stage.BIJ_DVA.value:
                problem, detail = Situation.STATE_GEBRUIKT, f"attempt is at {attempt.stage}"
            elif session_id is None or attempt.session_id != session_id:
                # The state is burnt: whoever holds it now may not use it either.
                self._end_in(
                    session, attempt, Situation.ANDERE_SESSIE, "callback in another session", now
                )
                return Claim(None, Situation.ANDERE_SESSIE, attempt.flow_id)
            elif attempt.state_expires_at is None or attempt.state_expires_at <= now:
                self._end_in(session, attempt, Situation.STATE_VERLOPEN, "state expired", now)
                return Claim(None, Situation.STATE_VERLOPEN, attempt.flow_id)
            else:
                moved = session.execute(
                    update(Attempt)
                    .where(Attempt.flow_id == attempt.flow_id, Attempt.stage == Stage.BIJ_DVA.value)
                    .values(stage=Stage.TERUG.value, updated_at=now)
                )
                if moved.rowcount == 1:  # type: ignore[attr-defined]
                    session.refresh(attempt)
                    return Claim(attempt, None, attempt.flow_id)
                problem, detail = Situation.STATE_GEBRUIKT, "claimed at the same moment"
        flow_id = None if attempt is None else attempt.flow_id
        self._reject(problem, session_id, account_id, flow_id, detail)
        return Claim(None, problem, flow_id)

    def _reject(
        self,
        situation: Situation,
        session_id: str | None,
        account_id: str | None,
        flow_id: str | None,
        detail: str,
    ) -> None:
        assert situation.reason is not None
        with self._db.transaction() as session:
            session.add(
                RejectedCallback(
                    at=self._clock(),
                    session_id=session_id,
                    account_id=account_id,
                    flow_id=flow_id,
                    reason=situation.reason.value,
                    situation=situation.value,
                    detail=detail,
                )
            )

    def logged_in(self, flow_id: str, records: Sequence[Record] = ()) -> None:
        """The DVA's answer shows the person logged in there: ``ingelogd-bij-dva``."""
        now = self._clock()
        with self._db.transaction() as session:
            attempt = session.get(Attempt, flow_id)
            if attempt is None:
                return
            add_funnel(session, [self._event(attempt, FunnelStep.INGELOGD_BIJ_DVA, now)])
            add_ketenlog(session, records)

    def add_records(self, records: Sequence[Record]) -> None:
        if records:
            with self._db.transaction() as session:
                add_ketenlog(session, records)

    def end(
        self,
        flow_id: str,
        situation: Situation,
        *,
        detail: str | None = None,
        records: Sequence[Record] = (),
        only_from: Sequence[Stage] | None = None,
        chosen: bool | None = None,
    ) -> bool:
        """End the attempt with its ``flow-end``; False when it had ended already, or is not
        in ``only_from`` (or, with ``chosen``, has or lacks a chosen zorgaanbieder) as the
        end is written."""
        now = self._clock()
        with self._db.transaction() as session:
            attempt = session.get(Attempt, flow_id)
            if attempt is None:
                return False
            ended = self._end_in(
                session, attempt, situation, detail, now, only_from=only_from, chosen=chosen
            )
            add_ketenlog(session, records)
            return ended

    def _end_in(
        self,
        session: Session,
        attempt: Attempt,
        situation: Situation,
        detail: str | None,
        now: datetime,
        *,
        only_from: Sequence[Stage] | None = None,
        chosen: bool | None = None,
    ) -> bool:
        reason = situation.reason
        # The conditions go into the UPDATE itself: a person choosing, or a retrieval moving
        # on, between reading the attempt and ending it makes the end a no-op, not a wrong one.
        where: list[ColumnElement[bool]] = [
            Attempt.flow_id == attempt.flow_id,
            Attempt.stage != Stage.KLAAR.value,
        ]
        if only_from is not None:
            where.append(Attempt.stage.in_([s.value for s in only_from]))
        if chosen is not None:
            where.append(_chosen(chosen))
        moved = session.execute(
            update(Attempt)
            .where(*where)
            .values(
                stage=Stage.KLAAR.value,
                ended_at=now,
                updated_at=now,
                outcome=(Outcome.SUCCESS if reason is None else Outcome.FAILURE).value,
                reason=None if reason is None else reason.value,
                step=None if reason is None else reason.step.value,
                situation=situation.value,
                detail=None if detail is None else detail[:2000],
                code_verifier=None,
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.refresh(attempt)
        if reason is not None:
            # Services still waiting or being fetched will not be: they failed with it.
            session.execute(
                update(AttemptService)
                .where(
                    AttemptService.flow_id == attempt.flow_id,
                    AttemptService.status.in_(("wachten", "bezig")),
                )
                .values(status="mislukt", reason=reason.value, detail=detail, ended_at=now)
            )
        add_funnel(
            session,
            [self._event(attempt, FunnelStep.FLOW_END, now, situation=situation, detail=detail)],
        )
        return True

    # --- the sweeps -----------------------------------------------------------------------

    def in_stages(self, stages: Sequence[Stage], *, chosen: bool | None = None) -> list[str]:
        """The attempts now in any of ``stages`` (with ``chosen``: only those that have, or
        lack, a chosen zorgaanbieder)."""
        where: list[ColumnElement[bool]] = [Attempt.stage.in_([s.value for s in stages])]
        if chosen is not None:
            where.append(_chosen(chosen))
        with self._db.read() as session:
            return list(session.scalars(select(Attempt.flow_id).where(*where)))

    def stale_since(self, stage: Stage, before: datetime) -> list[tuple[str, datetime]]:
        """The attempts in ``stage`` not moved since before ``before``, with when they last
        moved."""
        with self._db.read() as session:
            rows = session.execute(
                select(Attempt.flow_id, Attempt.updated_at).where(
                    Attempt.stage == stage.value, Attempt.updated_at < before
                )
            )
            return [(flow_id, updated_at) for flow_id, updated_at in rows]

    def touch(self, flow_ids: Sequence[str]) -> None:
        """A heartbeat of retrievals this process runs: their attempts moved just now."""
        with self._db.transaction() as session:
            session.execute(
                update(Attempt)
                .where(
                    Attempt.flow_id.in_(list(flow_ids)),
                    Attempt.stage.in_((Stage.TERUG.value, Stage.OPHALEN.value)),
                )
                .values(updated_at=self._clock())
            )

    def stale(self, stage: Stage, before: datetime, *, chosen: bool | None = None) -> list[str]:
        where: list[ColumnElement[bool]] = [
            Attempt.stage == stage.value,
            Attempt.updated_at < before,
        ]
        if chosen is not None:
            where.append(_chosen(chosen))
        with self._db.read() as session:
            return list(session.scalars(select(Attempt.flow_id).where(*where)))


def _chosen(chosen: bool) -> ColumnElement[bool]:
    """Whether the attempt has a chosen zorgaanbieder (it moves on from the search in the
    same request that chose it)."""
    return Attempt.zorgaanbieder.is_not(None) if chosen else Attempt.zorgaanbieder.is_(None)
