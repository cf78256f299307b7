"""Consents, authorization codes and tokens: what they are and how they are kept.

Spec rules kept here (docs/protocol.md#token-request, #token-response and #langdurige-toestemming):

* core.tknint.204: an authorization code is spent the first time a client presents it,
  even when that exchange then fails (:meth:`GrantStore.spend_code`, compare-and-set).
  RFC 6749 4.1.2: a code presented again is refused and everything issued with it is
  revoked.
* Codes and access tokens are UUIDv4, valid 900 s (configurable); refresh tokens are
  issued only with langdurige toestemming, rotate on every use, and lapse after six
  months without use (AS 2.0.0, RFC0054). A refresh token presented after it was
  rotated is a replay (RFC 9700 4.14.2): the whole consent and all its tokens end.
* AS 2.0.0 "controle op uniciteit": every code, access token and refresh token is
  checked against those already issued before it is handed out. Codes by a look-up
  before they are stored; tokens by their unique digest columns: the token row's insert
  does nothing when either digest is taken, and the values are drawn again (the check and
  the insert are one statement, not a query and then an insert).
* Only digests are stored (medmij credentials).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Insert, Row, Table, bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medmij_stack.protocol.funnel import Clock, system_clock

from . import credentials
from .db import Database
from .tables import AuthorizationCode, Grant, Token

__all__ = [
    "CodeInfo",
    "GrantInfo",
    "GrantStore",
    "NotUnique",
    "Spent",
    "SpentCode",
    "TokenInfo",
    "add_months",
]

_UNIQUE_ATTEMPTS = 5

# The token exchange's statements use the tables, not the ORM classes: the ORM's unit of work
# and object loading cost more than the statements themselves on this hot path.
_CODES: Table = AuthorizationCode.__table__  # type: ignore[assignment]
_GRANTS: Table = Grant.__table__  # type: ignore[assignment]
_TOKENS: Table = Token.__table__  # type: ignore[assignment]
_CODE_COLUMNS = (
    _CODES.c.client_id,
    _CODES.c.redirect_uri,
    _CODES.c.code_challenge,
    _CODES.c.code_challenge_method,
    _CODES.c.expires_at,
)
_GRANT_COLUMNS = tuple(column.label(f"grant_{column.name}") for column in _GRANTS.c)
# Built once: a statement object keeps its compiled form's cache key, so executing it again
# with new parameters skips building and keying it.
_SPEND = (
    update(_CODES)
    .where(_CODES.c.code_hash == bindparam("presented"), _CODES.c.spent_at.is_(None))
    .values(spent_at=bindparam("now"))
)
_SPENT_CODE = (
    select(*_CODE_COLUMNS, *_GRANT_COLUMNS)
    .join(_GRANTS, _GRANTS.c.id == _CODES.c.grant_id)
    .where(_CODES.c.code_hash == bindparam("presented"))
)
# The token row, unless a digest is taken (no row comes back then): "ON CONFLICT DO
# NOTHING" where the dialect has it; elsewhere a savepoint around a plain insert.
_INSERT_TOKEN: dict[str, Insert] = {
    "sqlite": sqlite.insert(_TOKENS).on_conflict_do_nothing().returning(_TOKENS.c.id),
    "postgresql": postgresql.insert(_TOKENS).on_conflict_do_nothing().returning(_TOKENS.c.id),
}
_INSERT_TOKEN_PLAIN = insert(_TOKENS).returning(_TOKENS.c.id)
_USE_REFRESH = (
    update(_TOKENS)
    .where(
        _TOKENS.c.id == bindparam("old_id"),
        _TOKENS.c.refresh_used_at.is_(None),
        _TOKENS.c.refresh_revoked_at.is_(None),
    )
    .values(refresh_used_at=bindparam("now"))
)
_TOKEN_GRANT = select(_TOKENS.c.grant_id).where(_TOKENS.c.id == bindparam("old_id"))
_GRANT = select(*_GRANT_COLUMNS).where(_GRANTS.c.id == bindparam("grant_id"))


class NotUnique(RuntimeError):
    """No unique value could be drawn; with UUIDv4 this means the generator is broken."""


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months, the day clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class GrantInfo:
    """A toestemming, as the token endpoint and introspection need it."""

    id: str
    client_id: str
    bsn: str
    zorgaanbieder: str
    gegevensdiensten: tuple[str, ...]
    scope: str
    langdurig: bool
    session_id: str | None
    trace_id: str
    revoked: bool

    @classmethod
    def of(cls, row: Grant) -> GrantInfo:
        return cls(
            id=row.id,
            client_id=row.client_id,
            bsn=row.bsn,
            zorgaanbieder=row.zorgaanbieder,
            gegevensdiensten=tuple(row.gegevensdiensten.split()),
            scope=row.scope,
            langdurig=row.langdurig,
            session_id=row.session_id,
            trace_id=row.trace_id,
            revoked=row.revoked_at is not None,
        )


@dataclass(frozen=True)
class CodeInfo:
    grant: GrantInfo
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime


class Spent(Enum):
    FRESH = "fresh"  # first presentation: this request may use it
    EXPIRED = "expired"  # first presentation, but too late
    REPLAYED = "replayed"  # presented before: refused, and its tokens are revoked
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SpentCode:
    status: Spent
    code: CodeInfo | None


@dataclass(frozen=True)
class TokenInfo:
    id: int
    grant: GrantInfo
    client_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    refresh_expires_at: datetime | None
    access_revoked: bool
    refresh_revoked: bool
    refresh_used: bool
    cnf_x5t_s256: str | None = None  # RFC 8705: the certificate the token is bound to
    # The values themselves, only where they were just stored (save_tokens, rotate): drawn
    # again there when a digest was taken, so these are what the client must be given.
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)


def _token_info(row: Token, grant: Grant) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        grant=GrantInfo.of(grant),
        client_id=row.client_id,
        scope=row.scope,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        refresh_expires_at=row.refresh_expires_at,
        access_revoked=row.access_revoked_at is not None,
        refresh_revoked=row.refresh_revoked_at is not None,
        refresh_used=row.refresh_used_at is not None,
        cnf_x5t_s256=row.cnf_x5t_s256,
    )


class GrantStore:
    def __init__(
        self,
        db: Database,
        *,
        code_ttl: timedelta,
        access_ttl: timedelta,
        refresh_idle_months: int,
        on_revoked: Callable[[Sequence[str]], None] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._db = db
        # Every issued-at, expiry and revocation time (virtual in a simulation world,
        # medmij_stack.runtime.clock): the DVA's and the PGO's lifetimes count alike.
        self.clock = clock
        # Told the digests of access tokens just revoked, after the commit and before the
        # revocation is answered, so that no cache lets them open data a moment longer
        # (authserver.revocation_notice).
        self._on_revoked = on_revoked
        self.code_ttl = code_ttl
        self.access_ttl = access_ttl
        self.refresh_idle_months = refresh_idle_months

    # --- uniqueness ------------------------------------------------------------------

    def unique_code(self, make: Callable[[], str] = credentials.new_code) -> str:
        """A fresh code no code ever issued shares (AS 2.0.0 uniciteit)."""
        with self._db.transaction() as session:
            return _unique(
                session, make, lambda h: exists().where(AuthorizationCode.code_hash == h)
            )

    @staticmethod
    def new_token_values(with_refresh: bool) -> tuple[str, str | None]:
        """A new access token, and a new refresh token when asked. Their uniqueness is
        checked when they are stored (:meth:`save_tokens`, :meth:`rotate`), which draw
        again on the (with UUIDv4 and 256 random bits, never seen) collision."""
        access = credentials.new_uuid4()
        return access, credentials.new_random() if with_refresh else None

    # --- consent and code --------------------------------------------------------------

    def create_code(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str,
        bsn: str,
        zorgaanbieder: str,
        gegevensdiensten: tuple[str, ...],
        scope: str,
        langdurig: bool,
        flow_id: str | None,
        session_id: str | None,
        trace_id: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
    ) -> None:
        """Record the person's consent and the code that carries it to the client."""
        now = self.clock()
        grant = Grant(
            id=credentials.new_uuid4(),
            flow_id=flow_id,
            session_id=session_id,
            client_id=client_id,
            bsn=bsn,
            zorgaanbieder=zorgaanbieder,
            gegevensdiensten=" ".join(gegevensdiensten),
            scope=scope,
            langdurig=langdurig,
            trace_id=trace_id,
            granted_at=now,
        )
        with self._db.transaction() as session:
            session.add(grant)
            session.flush()
            session.add(
                AuthorizationCode(
                    code_hash=credentials.digest(code),
                    grant_id=grant.id,
                    client_id=client_id,
                    redirect_uri=redirect_uri,
                    code_challenge=code_challenge,
                    code_challenge_method=code_challenge_method,
                    issued_at=now,
                    expires_at=now + self.code_ttl,
                )
            )

    def spend_code(self, code: str) -> SpentCode:
        """Spend a presented code (core.tknint.204); a replay revokes what it issued."""
        now = self.clock()
        code_hash = credentials.digest(code)
        revoked: list[str] = []
        with self._db.connection() as connection:
            # Core statements (no ORM objects): this is every token exchange's hot path.
            spent = connection.execute(_SPEND, {"presented": code_hash, "now": now})
            row = connection.execute(_SPENT_CODE, {"presented": code_hash}).first()
            if row is None:
                return SpentCode(Spent.UNKNOWN, None)
            grant = _grant_info(row)
            if spent.rowcount != 1:
                revoked = _revoke_grant(connection, grant.id, "authorization code replayed", now)
                grant = replace(grant, revoked=True)
                status = Spent.REPLAYED
            elif row.expires_at <= now:
                status = Spent.EXPIRED
            else:
                status = Spent.FRESH
            info = CodeInfo(
                grant=grant,
                client_id=row.client_id,
                redirect_uri=row.redirect_uri,
                code_challenge=row.code_challenge,
                code_challenge_method=row.code_challenge_method,
                expires_at=row.expires_at,
            )
        self._revoked(revoked)
        return SpentCode(status, info)

    # --- tokens ------------------------------------------------------------------------

    def save_tokens(
        self,
        grant_id: str,
        client_id: str,
        scope: str,
        access: str,
        refresh: str | None,
        *,
        thumbprint: str | None = None,
    ) -> TokenInfo:
        """Store a newly issued access token (and refresh token) of a consent, bound to the
        certificate of ``thumbprint`` (RFC 8705 3.1); the values stored are in the answer's
        ``access_token`` and ``refresh_token`` (new ones if a digest was taken)."""
        with self._db.connection() as connection:
            return self._insert(connection, grant_id, client_id, scope, access, refresh, thumbprint)

    def rotate(
        self,
        old_id: int,
        client_id: str,
        scope: str,
        access: str,
        refresh: str | None,
        *,
        thumbprint: str | None = None,
    ) -> TokenInfo | None:
        """Use a refresh token once and store its successors; None when it was used already."""
        now = self.clock()
        with self._db.connection() as connection:
            used = connection.execute(_USE_REFRESH, {"old_id": old_id, "now": now})
            grant_id = connection.execute(_TOKEN_GRANT, {"old_id": old_id}).scalar_one()
            if used.rowcount != 1:
                revoked = _revoke_grant(connection, grant_id, "refresh token replayed", now)
            else:
                return self._insert(
                    connection, grant_id, client_id, scope, access, refresh, thumbprint
                )
        self._revoked(revoked)
        return None

    def _insert(
        self,
        connection: Connection,
        grant_id: str,
        client_id: str,
        scope: str,
        access: str,
        refresh: str | None,
        thumbprint: str | None = None,
    ) -> TokenInfo:
        now = self.clock()
        values: dict[str, Any] = {
            "cnf_x5t_s256": thumbprint,
            "grant_id": grant_id,
            "client_id": client_id,
            "scope": scope,
            "issued_at": now,
            "expires_at": now + self.access_ttl,
            "refresh_expires_at": (
                None if refresh is None else add_months(now, self.refresh_idle_months)
            ),
        }
        for attempt in range(_UNIQUE_ATTEMPTS):
            if attempt:  # a digest was taken: draw both again
                access, refresh = self.new_token_values(refresh is not None)
            values["access_hash"] = credentials.digest(access)
            values["refresh_hash"] = None if refresh is None else credentials.digest(refresh)
            token_id = _insert_unless_taken(connection, values)
            if token_id is not None:
                break
        else:
            raise NotUnique("no unique credential after several draws")
        grant = connection.execute(_GRANT, {"grant_id": grant_id}).one()
        return TokenInfo(
            id=int(token_id),
            grant=_grant_info(grant),
            client_id=client_id,
            scope=scope,
            issued_at=now,
            expires_at=values["expires_at"],
            refresh_expires_at=values["refresh_expires_at"],
            access_revoked=False,
            refresh_revoked=False,
            refresh_used=False,
            cnf_x5t_s256=thumbprint,
            access_token=access,
            refresh_token=refresh,
        )

    def find_access(self, token: str) -> TokenInfo | None:
        return self._find(Token.access_hash == credentials.digest(token))

    def find_refresh(self, token: str) -> TokenInfo | None:
        return self._find(Token.refresh_hash == credentials.digest(token))

    def _find(self, condition: object) -> TokenInfo | None:
        with self._db.transaction(write=False) as session:
            row = session.execute(
                select(Token, Grant).join(Grant, Grant.id == Token.grant_id).where(condition)  # type: ignore[arg-type]
            ).first()
            return None if row is None else _token_info(*row)

    # --- revocation --------------------------------------------------------------------

    def revoke_access(self, token_id: int) -> None:
        with self._db.transaction() as session:
            session.execute(
                update(Token)
                .where(Token.id == token_id, Token.access_revoked_at.is_(None))
                .values(access_revoked_at=self.clock())
                .execution_options(synchronize_session=False)
            )
            revoked = list(session.scalars(select(Token.access_hash).where(Token.id == token_id)))
        self._revoked(revoked)

    def revoke_grant(self, grant_id: str, reason: str) -> None:
        """End a consent: it and every token issued under it stop working."""
        with self._db.connection() as connection:
            revoked = _revoke_grant(connection, grant_id, reason, self.clock())
        self._revoked(revoked)

    def _revoked(self, access_hashes: Sequence[str]) -> None:
        # Once committed: inside a request's unit of work (authserver.db) that is when the
        # unit commits, still before the request is answered.
        notify = self._on_revoked
        if access_hashes and notify is not None:
            hashes = tuple(access_hashes)
            self._db.after_commit(lambda: notify(hashes))


def _grant_info(row: Row[Any]) -> GrantInfo:
    """The consent in a row that selected :data:`_GRANT_COLUMNS`."""
    m = row._mapping
    return GrantInfo(
        id=m["grant_id"],
        client_id=m["grant_client_id"],
        bsn=m["grant_bsn"],
        zorgaanbieder=m["grant_zorgaanbieder"],
        gegevensdiensten=tuple(m["grant_gegevensdiensten"].split()),
        scope=m["grant_scope"],
        langdurig=m["grant_langdurig"],
        session_id=m["grant_session_id"],
        trace_id=m["grant_trace_id"],
        revoked=m["grant_revoked_at"] is not None,
    )


def _unique(session: Session, make: Callable[[], str], taken: Callable[[str], object]) -> str:
    for _ in range(_UNIQUE_ATTEMPTS):
        value = make()
        if not session.scalar(select(taken(credentials.digest(value)))):  # type: ignore[call-overload]
            return value
    raise NotUnique("no unique credential after several draws")


def _insert_unless_taken(connection: Connection, values: dict[str, Any]) -> int | None:
    """Insert a token row; its id, or None when one of its digests is taken already."""
    statement = _INSERT_TOKEN.get(connection.dialect.name)
    if statement is not None:
        token_id = connection.execute(statement, values).scalar_one_or_none()
        return None if token_id is None else int(token_id)
    try:
        with connection.begin_nested():
            return int(connection.execute(_INSERT_TOKEN_PLAIN, values).scalar_one())
    except IntegrityError:
        return None


def _revoke_grant(connection: Connection, grant_id: str, reason: str, now: datetime) -> list[str]:
    """Revoke a consent and its tokens; the digests of every access token it issued."""
    connection.execute(
        update(_GRANTS)
        .where(_GRANTS.c.id == grant_id, _GRANTS.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    connection.execute(
        update(_TOKENS)
        .where(_TOKENS.c.grant_id == grant_id, _TOKENS.c.access_revoked_at.is_(None))
        .values(access_revoked_at=now)
    )
    connection.execute(
        update(_TOKENS)
        .where(_TOKENS.c.grant_id == grant_id, _TOKENS.c.refresh_revoked_at.is_(None))
        .values(refresh_revoked_at=now)
    )
    hashes = connection.scalars(select(_TOKENS.c.access_hash).where(_TOKENS.c.grant_id == grant_id))
    return list(hashes)
