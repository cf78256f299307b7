"""Initial schema: the delivered ketenlog records.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ketenlog",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("trace_id", sa.String(length=255), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ketenlog")),
        sa.UniqueConstraint("sender", "sequence", name=op.f("uq_ketenlog_sender")),
    )
    with op.batch_alter_table("ketenlog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ketenlog_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ketenlog_trace_id"), ["trace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ketenlog_type"), ["type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ketenlog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ketenlog_type"))
        batch_op.drop_index(batch_op.f("ix_ketenlog_trace_id"))
        batch_op.drop_index(batch_op.f("ix_ketenlog_occurred_at"))
    op.drop_table("ketenlog")
