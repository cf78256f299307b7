"""The PGO's database tables (SQLAlchemy 2).

What a restart must not lose lives here: accounts, browser sessions, every retrieval
attempt with its per-query outcome, the records per patient and source, the long-term
consents (refresh tokens, sealed), and the PGO's measurement record (funnel events and
ketenlog). Schema changes go through Alembic (``pgo/migrations``); a test checks that the
migrations and these models agree.

Secrets are never stored as they are: passwords as scrypt hashes
(:mod:`medmij_stack.pgo.passwords`), session cookies and ``state`` values as SHA-256
digests, refresh tokens sealed with AES-GCM (:mod:`medmij_stack.pgo.sealing`). Times are
stored as naive UTC and read back as aware UTC, so that SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from medmij_stack.runtime.database import NAMING_CONVENTION, UtcDateTime

__all__ = [
    "Account",
    "Attempt",
    "AttemptService",
    "Base",
    "Consent",
    "FunnelEntry",
    "KetenlogEntry",
    "LoginThrottle",
    "QueryOutcome",
    "Record",
    "RejectedCallback",
    "Source",
    "UtcDateTime",
    "WebSession",
]

HASH = 64  # hex SHA-256
UUID = 36
NAAM = 64  # a Zorgaanbiedernaam is at most 57 characters
DIENSTEN = 255  # space-separated GegevensdienstIds


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- people ------------------------------------------------------------------------------


class Account(Base):
    """A PGO account. ``id`` is random and is the pseudonymous ``person`` of funnel events."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    gebruikersnaam: Mapped[str] = mapped_column(String(64), unique=True)  # normalised
    naam: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    """Wrong passwords per user name, known or not (so the lock-out reveals no accounts)."""

    __tablename__ = "login_throttle"

    gebruikersnaam: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A browser, known by a random cookie; ``id`` is the session id of the ketenlog."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    cookie_hash: Mapped[str] = mapped_column(String(HASH), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    device: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # The attempt opened by "gegevens ophalen" that has not yet chosen a zorgaanbieder.
    search_flow_id: Mapped[str | None] = mapped_column(String(UUID))


# --- retrieval attempts ---------------------------------------------------------------------


class Attempt(Base):
    """One retrieval attempt (Verzamelen): ``flow_id`` is its X-Correlation-ID.

    ``stage`` moves zoeken → bij-dva → ophalen → klaar (or straight to klaar); ``outcome``,
    ``reason`` and ``step`` are set once, with the attempt's one ``verzamelen.flow-end``.
    """

    __tablename__ = "attempts"

    flow_id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(UUID), index=True)
    initiator: Mapped[str] = mapped_column(String(8))
    device: Mapped[str] = mapped_column(String(8))
    zorgaanbieder: Mapped[str | None] = mapped_column(String(NAAM))
    gegevensdiensten: Mapped[str] = mapped_column(String(DIENSTEN))  # chosen
    granted: Mapped[str | None] = mapped_column(String(DIENSTEN))  # in the token response
    retry_of: Mapped[str | None] = mapped_column(String(UUID))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    via_consent: Mapped[bool] = mapped_column(Boolean)  # refresh token, no DVA login
    state_hash: Mapped[str | None] = mapped_column(String(HASH), unique=True)
    state_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    token_endpoint: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    situation: Mapped[str | None] = mapped_column(String(32))  # what the person is told
    detail: Mapped[str | None] = mapped_column(Text)


class AttemptService(Base):
    """One gegevensdienst of one attempt: what became of it."""

    __tablename__ = "attempt_services"

    flow_id: Mapped[str] = mapped_column(ForeignKey("attempts.flow_id"), primary_key=True)
    gegevensdienst: Mapped[str] = mapped_column(String(30), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    record_count: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class QueryOutcome(Base):
    """One FHIR request of an attempt. ``resources`` keeps what a query brought when its
    service failed as a whole, so that a retry needs to ask only what failed."""

    __tablename__ = "query_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("attempts.flow_id"), index=True)
    gegevensdienst: Mapped[str] = mapped_column(String(30))
    query_name: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(UUID))
    status: Mapped[int | None] = mapped_column(Integer)
    failure: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    elapsed_seconds: Mapped[float] = mapped_column(Float)
    resource_count: Mapped[int] = mapped_column(Integer)
    resources: Mapped[str | None] = mapped_column(Text)
    retrieved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # of staged resources


class RejectedCallback(Base):
    """A callback that belonged to no attempt of this browser (missing, forged, replayed
    ``state``): refused, and recorded with its failure reason."""

    __tablename__ = "rejected_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    session_id: Mapped[str | None] = mapped_column(String(UUID))
    account_id: Mapped[str | None] = mapped_column(String(UUID))
    flow_id: Mapped[str | None] = mapped_column(String(UUID))  # the attempt the state named
    reason: Mapped[str] = mapped_column(String(32))
    situation: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


# --- what was retrieved ---------------------------------------------------------------------


class Source(Base):
    """The complete set of records one zorgaanbieder's gegevensdienst gave one account."""

    __tablename__ = "sources"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    zorgaanbieder: Mapped[str] = mapped_column(String(NAAM), primary_key=True)
    gegevensdienst: Mapped[str] = mapped_column(String(30), primary_key=True)
    retrieved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    flow_id: Mapped[str] = mapped_column(String(UUID))
    record_count: Mapped[int] = mapped_column(Integer)


class Record(Base):
    """One FHIR resource of a source, with the query that brought it."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_source", "account_id", "zorgaanbieder", "gegevensdienst"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    zorgaanbieder: Mapped[str] = mapped_column(String(NAAM))
    gegevensdienst: Mapped[str] = mapped_column(String(30))
    query_name: Mapped[str] = mapped_column(String(128))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(Text)  # JSON
    retrieved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    flow_id: Mapped[str] = mapped_column(String(UUID))


class Consent(Base):
    """A langdurige toestemming: the refresh token one zorgaanbieder gave for one account."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    zorgaanbieder: Mapped[str] = mapped_column(String(NAAM))
    gegevensdiensten: Mapped[str] = mapped_column(String(DIENSTEN))  # granted
    refresh_token: Mapped[str | None] = mapped_column(Text)  # sealed; gone once ended
    token_endpoint: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    flow_id: Mapped[str] = mapped_column(String(UUID))  # the attempt that gave it
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lapses_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_reason: Mapped[str | None] = mapped_column(Text)
    busy_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # one refresh at a time


# --- measurement ----------------------------------------------------------------------------


class FunnelEntry(Base):
    """One funnel event (medmij_stack.protocol.funnel.FunnelEvent)."""

    __tablename__ = "funnel_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(48), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    flow_id: Mapped[str] = mapped_column(String(UUID), index=True)
    person: Mapped[str] = mapped_column(String(UUID), index=True)
    event: Mapped[str] = mapped_column(Text)  # the whole event, JSON


class KetenlogEntry(Base):
    """One ketenlog record (medmij_stack.protocol.ketenlog.Record)."""

    __tablename__ = "ketenlog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    session_id: Mapped[str | None] = mapped_column(String(UUID), index=True)
    trace_id: Mapped[str] = mapped_column(String(UUID), index=True)
    request_id: Mapped[str | None] = mapped_column(String(UUID))
    record: Mapped[str] = mapped_column(Text)  # the whole record, JSON
