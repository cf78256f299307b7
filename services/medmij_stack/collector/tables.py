"""The collector's database tables (SQLAlchemy 2).

One table: every delivered record once, under its delivery id (sender, sequence), with the
columns a report selects on and the record itself. Schema changes go through Alembic
(``collector/migrations``); a test checks that the migrations and these models agree. Times
are stored as naive UTC and read back as aware UTC, so that SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from medmij_stack.runtime.database import NAMING_CONVENTION, UtcDateTime

__all__ = ["ID_LENGTH", "Base", "DeliveredRecord", "UtcDateTime"]

ID_LENGTH = 255
"""The longest host name, session id or trace id the collector keeps (a DNS name is at most
253 characters; MedMij's ids are UUIDs)."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DeliveredRecord(Base):
    """One ketenlog record as a participant delivered it.

    ``id`` is the collector's own order of arrival (the read API pages on it);
    (``sender``, ``sequence``) is the delivery id, unique: a redelivery stores nothing.
    ``record`` is the record's JSON as delivered, members sorted, unknown members kept.
    """

    __tablename__ = "ketenlog"
    __table_args__ = (UniqueConstraint("sender", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(ID_LENGTH))
    sequence: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    location: Mapped[str] = mapped_column(String(ID_LENGTH))
    session_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    trace_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    record: Mapped[str] = mapped_column(Text)
