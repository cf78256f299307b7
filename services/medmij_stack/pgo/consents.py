"""Langdurige toestemming on the PGO's side: the refresh tokens it holds, one per zorgaanbieder.

When the person chose consent "voor onbepaalde tijd" at the DVA, the token response
carries a refresh token (AS 2.0.0, RFC0054). The PGO keeps it sealed
(:mod:`medmij_stack.pgo.sealing`) and uses it to fetch again without a new login, both when
the person asks and on its own before the consent lapses (the DVA lets it lapse after six
months without use, docs docs/protocol.md#langdurige-toestemming). Refresh tokens rotate on
every use, so only one use may be under way at a time: :meth:`ConsentStore.claim` takes a
consent for one refresh (compare-and-set on ``busy_until``), and a refresh presented twice
would make the DVA revoke the consent.

Statuses: ``actief``; ``ingetrokken`` (the person revoked it here, RFC 7009 at the DVA);
``verlopen`` (the DVA refused the refresh token, or its six months passed unused: the
person can give consent again); ``vervangen`` (a newer consent for the same
zorgaanbieder took its place).
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update

from medmij_stack.protocol.funnel import Clock

from .db import Database
from .sealing import Sealer, SealingError
from .tables import Consent

__all__ = ["ConsentStatus", "ConsentStore", "ConsentView", "Replaced", "add_months"]

_CLAIM_FOR = timedelta(minutes=5)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months, the day clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class ConsentStatus(StrEnum):
    ACTIEF = "actief"
    INGETROKKEN = "ingetrokken"
    VERLOPEN = "verlopen"
    VERVANGEN = "vervangen"


@dataclass(frozen=True)
class ConsentView:
    id: str
    account_id: str
    zorgaanbieder: str
    gegevensdiensten: tuple[str, ...]
    status: ConsentStatus
    granted_at: datetime
    last_used_at: datetime
    lapses_at: datetime
    ended_at: datetime | None
    token_endpoint: str


@dataclass(frozen=True)
class Replaced:
    """A consent that a newer one replaced: its token should be revoked at the DVA."""

    token_endpoint: str
    refresh_token: str


def _view(row: Consent) -> ConsentView:
    return ConsentView(
        id=row.id,
        account_id=row.account_id,
        zorgaanbieder=row.zorgaanbieder,
        gegevensdiensten=tuple(row.gegevensdiensten.split()),
        status=ConsentStatus(row.status),
        granted_at=row.granted_at,
        last_used_at=row.last_used_at,
        lapses_at=row.lapses_at,
        ended_at=row.ended_at,
        token_endpoint=row.token_endpoint,
    )


class ConsentStore:
    def __init__(self, db: Database, clock: Clock, sealer: Sealer, *, lapse_months: int) -> None:
        self._db = db
        self._clock = clock
        self._sealer = sealer
        self._lapse_months = lapse_months

    def _open(self, row: Consent) -> str | None:
        if row.refresh_token is None:
            return None
        try:
            return self._sealer.open(row.refresh_token, row.id)
        except SealingError:
            return None

    def grant(
        self,
        *,
        account_id: str,
        zorgaanbieder: str,
        gegevensdiensten: tuple[str, ...],
        refresh_token: str,
        token_endpoint: str,
        flow_id: str,
    ) -> tuple[ConsentView, list[Replaced]]:
        """Keep a new consent; an active one for the same zorgaanbieder is replaced."""
        now = self._clock()
        replaced: list[Replaced] = []
        consent_id = str(uuid.uuid4())
        row = Consent(
            id=consent_id,
            account_id=account_id,
            zorgaanbieder=zorgaanbieder,
            gegevensdiensten=" ".join(gegevensdiensten),
            refresh_token=self._sealer.seal(refresh_token, consent_id),
            token_endpoint=token_endpoint,
            status=ConsentStatus.ACTIEF.value,
            flow_id=flow_id,
            granted_at=now,
            last_used_at=now,
            lapses_at=add_months(now, self._lapse_months),
        )
        with self._db.transaction() as session:
            for old in session.scalars(
                select(Consent).where(
                    Consent.account_id == account_id,
                    Consent.zorgaanbieder == zorgaanbieder,
                    Consent.status == ConsentStatus.ACTIEF.value,
                )
            ):
                token = self._open(old)
                if token is not None:
                    replaced.append(Replaced(old.token_endpoint, token))
                old.status = ConsentStatus.VERVANGEN.value
                old.refresh_token = None
                old.ended_at = now
                old.ended_reason = "replaced by a newer consent"
            session.add(row)
        return _view(row), replaced

    def active(self, account_id: str, zorgaanbieder: str) -> ConsentView | None:
        with self._db.read() as session:
            row = session.scalar(
                select(Consent).where(
                    Consent.account_id == account_id,
                    Consent.zorgaanbieder == zorgaanbieder,
                    Consent.status == ConsentStatus.ACTIEF.value,
                )
            )
            return None if row is None else _view(row)

    def of_account(self, account_id: str) -> list[ConsentView]:
        """Every consent of the account, the newest first."""
        with self._db.read() as session:
            return [
                _view(row)
                for row in session.scalars(
                    select(Consent)
                    .where(Consent.account_id == account_id)
                    .order_by(Consent.granted_at.desc())
                )
            ]

    def claim(self, consent_id: str) -> str | None:
        """Take an active consent for one use of its refresh token; None when it cannot be."""
        now = self._clock()
        with self._db.transaction() as session:
            moved = session.execute(
                update(Consent)
                .where(
                    Consent.id == consent_id,
                    Consent.status == ConsentStatus.ACTIEF.value,
                    or_(Consent.busy_until.is_(None), Consent.busy_until < now),
                )
                .values(busy_until=now + _CLAIM_FOR)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(Consent, consent_id)
            assert row is not None
            return self._open(row)

    def rotated(self, consent_id: str, refresh_token: str | None) -> None:
        """The refresh worked: keep the new refresh token; the six months start again."""
        now = self._clock()
        with self._db.transaction() as session:
            row = session.get(Consent, consent_id)
            if row is None or row.status != ConsentStatus.ACTIEF.value:
                return
            if refresh_token is not None:
                row.refresh_token = self._sealer.seal(refresh_token, row.id)
            row.last_used_at = now
            row.lapses_at = add_months(now, self._lapse_months)
            row.busy_until = None

    def release(self, consent_id: str) -> None:
        """The refresh could not be tried (no answer): the consent may be used again."""
        with self._db.transaction() as session:
            session.execute(update(Consent).where(Consent.id == consent_id).values(busy_until=None))

    def end(self, consent_id: str, status: ConsentStatus, reason: str) -> str | None:
        """End a consent; its refresh token (for revocation) when it was active."""
        now = self._clock()
        with self._db.transaction() as session:
            row = session.get(Consent, consent_id)
            if row is None or row.status != ConsentStatus.ACTIEF.value:
                return None
            token = self._open(row)
            row.status = status.value
            row.refresh_token = None
            row.ended_at = now
            row.ended_reason = reason[:500]
            row.busy_until = None
            return token

    def token_of(self, consent_id: str) -> str | None:
        with self._db.read() as session:
            row = session.get(Consent, consent_id)
            return None if row is None else self._open(row)

    # --- the background job -----------------------------------------------------------------

    def lapse_overdue(self) -> int:
        """Consents whose six months passed unused: the DVA has let them lapse."""
        now = self._clock()
        with self._db.transaction() as session:
            result = session.execute(
                update(Consent)
                .where(Consent.status == ConsentStatus.ACTIEF.value, Consent.lapses_at <= now)
                .values(
                    status=ConsentStatus.VERLOPEN.value,
                    refresh_token=None,
                    ended_at=now,
                    ended_reason="six months without use",
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def due(self, refresh_after: timedelta) -> list[ConsentView]:
        """Active consents whose data is older than ``refresh_after``."""
        now = self._clock()
        with self._db.read() as session:
            return [
                _view(row)
                for row in session.scalars(
                    select(Consent)
                    .where(
                        Consent.status == ConsentStatus.ACTIEF.value,
                        Consent.last_used_at <= now - refresh_after,
                        or_(Consent.busy_until.is_(None), Consent.busy_until < now),
                    )
                    .order_by(Consent.last_used_at)
                    .limit(100)
                )
            ]
