"""The resource server's ketenlog (``zorgaanbieder.eventlog``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ketenlog",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ketenlog")),
    )
    op.create_index(op.f("ix_ketenlog_type"), "ketenlog", ["type"])
    op.create_index(op.f("ix_ketenlog_occurred_at"), "ketenlog", ["occurred_at"])
    op.create_index(op.f("ix_ketenlog_trace_id"), "ketenlog", ["trace_id"])


def downgrade() -> None:
    op.drop_table("ketenlog")
