"""Initial store schema: endpoints, resources, search tokens, shared access, patients,
qualification tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "endpoint",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("zorgaanbieder", sa.String(length=255), nullable=False),
        sa.Column("gegevensdienst", sa.String(length=30), nullable=False),
        sa.Column("fhir_version", sa.String(length=8), nullable=False),
        sa.Column("dataset_version", sa.String(length=255), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoint")),
        sa.UniqueConstraint(
            "zorgaanbieder",
            "gegevensdienst",
            name=op.f("uq_endpoint_zorgaanbieder_gegevensdienst"),
        ),
    )
    op.create_table(
        "patient",
        sa.Column("endpoint_id", _PK, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=True),
        sa.Column("has_data", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoint.id"],
            name=op.f("fk_patient_endpoint_id_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "patient_id", name=op.f("pk_patient")),
    )
    op.create_index("ix_patient_bsn", "patient", ["endpoint_id", "bsn"])
    op.create_table(
        "qualification_token",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", _PK, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoint.id"],
            name=op.f("fk_qualification_token_endpoint_id_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_qualification_token")),
    )
    op.create_table(
        "resource",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", _PK, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("patient_key", sa.String(length=64), nullable=True),
        sa.Column("lastn_code", sa.Text(), nullable=True),
        sa.Column("effective", sa.String(length=32), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoint.id"],
            name=op.f("fk_resource_endpoint_id_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_resource")),
        sa.UniqueConstraint(
            "endpoint_id",
            "resource_type",
            "fhir_id",
            name=op.f("uq_resource_endpoint_id_resource_type_fhir_id"),
        ),
    )
    op.create_index(
        "ix_resource_patient_search",
        "resource",
        ["endpoint_id", "patient_key", "resource_type", "position"],
    )
    op.create_table(
        "search_token",
        sa.Column("resource_pk", _PK, nullable=False),
        sa.Column("param", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_pk"],
            ["resource.pk"],
            name=op.f("fk_search_token_resource_pk_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "resource_pk", "param", "code", "system", name=op.f("pk_search_token")
        ),
    )
    op.create_table(
        "shared_access",
        sa.Column("endpoint_id", _PK, nullable=False),
        sa.Column("patient_key", sa.String(length=64), nullable=False),
        sa.Column("resource_pk", _PK, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoint.id"],
            name=op.f("fk_shared_access_endpoint_id_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "endpoint_id", "patient_key", "resource_pk", name=op.f("pk_shared_access")
        ),
    )


def downgrade() -> None:
    op.drop_table("shared_access")
    op.drop_table("search_token")
    op.drop_index("ix_resource_patient_search", table_name="resource")
    op.drop_table("resource")
    op.drop_table("qualification_token")
    op.drop_index("ix_patient_bsn", table_name="patient")
    op.drop_table("patient")
    op.drop_table("endpoint")
