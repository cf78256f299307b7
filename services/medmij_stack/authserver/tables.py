"""The authorisation server's database tables (SQLAlchemy 2).

Everything a restart must not lose lives here (docs/architecture.md#storage): browser sessions and
the flows in them, DigiD artifacts, consents (``grants``), authorization codes, tokens and
the ketenlog. Codes and tokens are stored as SHA-256 hashes only, so a copy of the
database opens nothing. Schema changes go through Alembic (``authserver/migrations``);
a test checks that the migrations and these models agree.

Times are stored as naive UTC and read back as aware UTC (:class:`UtcDateTime`), so that
SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from medmij_stack.runtime.database import NAMING_CONVENTION, UtcDateTime

__all__ = [
    "AuthorizationCode",
    "Base",
    "BrowserSession",
    "DigidArtifact",
    "Flow",
    "Grant",
    "KetenlogEntry",
    "Token",
    "UtcDateTime",
]

HASH = 64  # hex SHA-256
UUID = 36


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BrowserSession(Base):
    """A browser, known by a random cookie; ``id`` is the session id people and logs see."""

    __tablename__ = "browser_sessions"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    cookie_hash: Mapped[str] = mapped_column(String(HASH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Flow(Base):
    """One authorization request on its way through the DVA screens."""

    __tablename__ = "authorization_flows"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("browser_sessions.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # useless without the cookie
    query: Mapped[str] = mapped_column(Text)  # the authorization request, as received
    client_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    zorgaanbieder: Mapped[str] = mapped_column(String(64))
    gegevensdiensten: Mapped[str] = mapped_column(String(255))  # requested, space-separated
    request_id: Mapped[str] = mapped_column(String(UUID))
    trace_id: Mapped[str] = mapped_column(String(UUID), index=True)
    step: Mapped[str] = mapped_column(String(16))
    bsn: Mapped[str | None] = mapped_column(String(9))
    beschikbaar: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DigidArtifact(Base):
    """The outcome of one DigiD (simulator) login, until the server resolves it once."""

    __tablename__ = "digid_artifacts"

    artifact_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("authorization_flows.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    bsn: Mapped[str | None] = mapped_column(String(9))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Grant(Base):
    """A toestemming: what a person allowed one PGO to fetch from one zorgaanbieder."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    flow_id: Mapped[str | None] = mapped_column(String(UUID))
    session_id: Mapped[str | None] = mapped_column(String(UUID))
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    bsn: Mapped[str] = mapped_column(String(9), index=True)
    zorgaanbieder: Mapped[str] = mapped_column(String(64))
    gegevensdiensten: Mapped[str] = mapped_column(String(255))  # granted, space-separated
    scope: Mapped[str] = mapped_column(Text)  # as the token response states it
    langdurig: Mapped[bool] = mapped_column(Boolean)
    trace_id: Mapped[str] = mapped_column(String(UUID))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    spent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Token(Base):
    """An access token, with the refresh token issued beside it (langdurige toestemming)."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(Text)
    access_hash: Mapped[str] = mapped_column(String(HASH), unique=True)
    refresh_hash: Mapped[str | None] = mapped_column(String(HASH), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    access_revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refresh_revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refresh_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # RFC 8705 3.1: the thumbprint of the client certificate the token was issued over.
    cnf_x5t_s256: Mapped[str | None] = mapped_column(String(43))


class KetenlogEntry(Base):
    """One ketenlog record (medmij_stack.protocol.ketenlog.Record) with the columns reports select
    on."""

    __tablename__ = "ketenlog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    location: Mapped[str] = mapped_column(String(255))
    session_id: Mapped[str | None] = mapped_column(String(UUID), index=True)
    trace_id: Mapped[str] = mapped_column(String(UUID), index=True)
    request_id: Mapped[str | None] = mapped_column(String(UUID))
    record: Mapped[str] = mapped_column(Text)  # the whole record, JSON
