"""Initial schema: sessions, flows, DigiD artifacts, grants, codes, tokens, ketenlog.

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
        "browser_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("cookie_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("cookie_hash", name=op.f("uq_browser_sessions_cookie_hash")),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=True),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=False),
        sa.Column("zorgaanbieder", sa.String(length=64), nullable=False),
        sa.Column("gegevensdiensten", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("langdurig", sa.Boolean(), nullable=False),
        sa.Column("trace_id", sa.String(length=36), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    op.create_index(op.f("ix_grants_bsn"), "grants", ["bsn"], unique=False)
    op.create_index(op.f("ix_grants_client_id"), "grants", ["client_id"], unique=False)

    op.create_table(
        "ketenlog",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("trace_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ketenlog")),
    )
    op.create_index(op.f("ix_ketenlog_occurred_at"), "ketenlog", ["occurred_at"], unique=False)
    op.create_index(op.f("ix_ketenlog_session_id"), "ketenlog", ["session_id"], unique=False)
    op.create_index(op.f("ix_ketenlog_trace_id"), "ketenlog", ["trace_id"], unique=False)
    op.create_index(op.f("ix_ketenlog_type"), "ketenlog", ["type"], unique=False)

    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("spent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_authorization_codes_grant_id_grants")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_authorization_codes")),
    )
    op.create_index(
        op.f("ix_authorization_codes_grant_id"), "authorization_codes", ["grant_id"], unique=False
    )

    op.create_table(
        "authorization_flows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("zorgaanbieder", sa.String(length=64), nullable=False),
        sa.Column("gegevensdiensten", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("trace_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=True),
        sa.Column("beschikbaar", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["browser_sessions.id"],
            name=op.f("fk_authorization_flows_session_id_browser_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_flows")),
    )
    op.create_index(
        op.f("ix_authorization_flows_session_id"),
        "authorization_flows",
        ["session_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_authorization_flows_trace_id"), "authorization_flows", ["trace_id"], unique=False
    )

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(), nullable=True),
        sa.Column("access_revoked_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_revoked_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_tokens_grant_id_grants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("access_hash", name=op.f("uq_tokens_access_hash")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_tokens_refresh_hash")),
    )
    op.create_index(op.f("ix_tokens_grant_id"), "tokens", ["grant_id"], unique=False)

    op.create_table(
        "digid_artifacts",
        sa.Column("artifact_hash", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["authorization_flows.id"],
            name=op.f("fk_digid_artifacts_flow_id_authorization_flows"),
        ),
        sa.PrimaryKeyConstraint("artifact_hash", name=op.f("pk_digid_artifacts")),
    )
    op.create_index(
        op.f("ix_digid_artifacts_flow_id"), "digid_artifacts", ["flow_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_digid_artifacts_flow_id"), table_name="digid_artifacts")

    op.drop_table("digid_artifacts")
    op.drop_index(op.f("ix_tokens_grant_id"), table_name="tokens")

    op.drop_table("tokens")
    op.drop_index(op.f("ix_authorization_flows_trace_id"), table_name="authorization_flows")
    op.drop_index(op.f("ix_authorization_flows_session_id"), table_name="authorization_flows")

    op.drop_table("authorization_flows")
    op.drop_index(op.f("ix_authorization_codes_grant_id"), table_name="authorization_codes")

    op.drop_table("authorization_codes")
    op.drop_index(op.f("ix_ketenlog_type"), table_name="ketenlog")
    op.drop_index(op.f("ix_ketenlog_trace_id"), table_name="ketenlog")
    op.drop_index(op.f("ix_ketenlog_session_id"), table_name="ketenlog")
    op.drop_index(op.f("ix_ketenlog_occurred_at"), table_name="ketenlog")

    op.drop_table("ketenlog")
    op.drop_index(op.f("ix_grants_client_id"), table_name="grants")
    op.drop_index(op.f("ix_grants_bsn"), table_name="grants")

    op.drop_table("grants")
    op.drop_table("browser_sessions")
