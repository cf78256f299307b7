"""The resource server's database schema (SQLAlchemy 2 declarative models).

docs/architecture.md#storage: FHIR resources are stored as JSON text exactly as the data source gave
them, beside the columns the supported searches need, and tokens only as hashes. The
tables are laid out so that the cost of a search depends on the size of one patient's
record, never on how many patients an endpoint holds
(docs/architecture.md#performance-budgets): every hot query starts from the index (endpoint,
patient, resource type).

The schema is owned by the Alembic revisions in `migrations/`; change both together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "NO_SYSTEM",
    "Base",
    "EndpointRow",
    "KetenlogRow",
    "PatientRow",
    "QualificationTokenRow",
    "ResourceRow",
    "SearchTokenRow",
    "SharedAccessRow",
]

#: The `system` column of a token without a system (a plain `code` element such as
#: status). An empty string rather than NULL keeps the token key a plain primary key.
NO_SYSTEM = ""

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
_PK = BigInteger().with_variant(Integer(), "sqlite")

_NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class EndpointRow(Base):
    """One ResourceEndpointuri's dataset: which one is loaded, and its FHIR version."""

    __tablename__ = "endpoint"
    __table_args__ = (UniqueConstraint("zorgaanbieder", "gegevensdienst"),)

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    zorgaanbieder: Mapped[str] = mapped_column(String(255))
    gegevensdienst: Mapped[str] = mapped_column(String(30))
    fhir_version: Mapped[str] = mapped_column(String(8))
    dataset_version: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResourceRow(Base):
    """One FHIR resource of an endpoint's dataset.

    `patient_key` is the id of the Patient whose compartment holds the resource (for a
    Patient: its own id); NULL for a shared resource (Organization, Practitioner, …).
    `lastn_code` and `effective` serve Observation/$lastn: the canonical set of the
    Observation's codings, and its effective time normalised to a sortable UTC string.
    """

    __tablename__ = "resource"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "resource_type", "fhir_id"),
        Index(
            "ix_resource_patient_search", "endpoint_id", "patient_key", "resource_type", "position"
        ),
    )

    pk: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoint.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # order in the dataset: results keep it
    resource_type: Mapped[str] = mapped_column(String(64))
    fhir_id: Mapped[str] = mapped_column(String(64))
    patient_key: Mapped[str | None] = mapped_column(String(64))
    lastn_code: Mapped[str | None] = mapped_column(Text)
    effective: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)  # the FHIR JSON as given, never reformatted


class SearchTokenRow(Base):
    """One token a resource answers to for one search parameter (`system|code`)."""

    __tablename__ = "search_token"

    resource_pk: Mapped[int] = mapped_column(
        ForeignKey("resource.pk", ondelete="CASCADE"), primary_key=True
    )
    param: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String, primary_key=True)
    system: Mapped[str] = mapped_column(String, primary_key=True)


class SharedAccessRow(Base):
    """A shared resource that a patient's data references (directly or through other
    shared resources): the only shared resources that patient's token may read."""

    __tablename__ = "shared_access"

    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoint.id", ondelete="CASCADE"), primary_key=True
    )
    patient_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key: the rows go with their endpoint's (see Repository._clear), and a
    # key here would make PostgreSQL look up this table for every resource it deletes.
    resource_pk: Mapped[int] = mapped_column(_PK, primary_key=True)


class PatientRow(Base):
    """A person of a dataset: their Patient id, BSN (never served) and whether they have
    any data besides the Patient itself (the beschikbaarheidstoets answer)."""

    __tablename__ = "patient"
    __table_args__ = (Index("ix_patient_bsn", "endpoint_id", "bsn"),)

    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoint.id", ondelete="CASCADE"), primary_key=True
    )
    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bsn: Mapped[str | None] = mapped_column(String(9))
    has_data: Mapped[bool] = mapped_column(Boolean)


class QualificationTokenRow(Base):
    """A fixed qualification bearer token, by SHA-256 only, bound to one patient."""

    __tablename__ = "qualification_token"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoint.id", ondelete="CASCADE"))
    patient_id: Mapped[str] = mapped_column(String(64))


class KetenlogRow(Base):
    """One ketenlog record of the resource server (``medmij_stack.protocol.ketenlog.Record``),
    written by ``zorgaanbieder.eventlog``. The ascending ``id`` is the delivery sequence
    (``medmij_stack.runtime.ketenlog_delivery.TableOutbox`` reads this table by name)."""

    __tablename__ = "ketenlog"

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    trace_id: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)  # the whole record, JSON
