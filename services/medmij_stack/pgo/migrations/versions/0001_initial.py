"""Initial schema: accounts, sessions, attempts and their queries, records, consents,
funnel events and ketenlog.

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
        "accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("gebruikersnaam", sa.String(length=64), nullable=False),
        sa.Column("naam", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("gebruikersnaam", name=op.f("uq_accounts_gebruikersnaam")),
    )
    op.create_table(
        "funnel_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("person", sa.String(length=36), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnel_events")),
    )
    with op.batch_alter_table("funnel_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funnel_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_funnel_events_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_funnel_events_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_funnel_events_person"), ["person"], unique=False)

    op.create_table(
        "ketenlog",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("trace_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ketenlog")),
    )
    with op.batch_alter_table("ketenlog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ketenlog_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ketenlog_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ketenlog_trace_id"), ["trace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ketenlog_type"), ["type"], unique=False)

    op.create_table(
        "login_throttle",
        sa.Column("gebruikersnaam", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("gebruikersnaam", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "rejected_callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("flow_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("situation", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_callbacks")),
    )
    with op.batch_alter_table("rejected_callbacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejected_callbacks_at"), ["at"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("initiator", sa.String(length=8), nullable=False),
        sa.Column("device", sa.String(length=8), nullable=False),
        sa.Column("zorgaanbieder", sa.String(length=64), nullable=True),
        sa.Column("gegevensdiensten", sa.String(length=255), nullable=False),
        sa.Column("granted", sa.String(length=255), nullable=True),
        sa.Column("retry_of", sa.String(length=36), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("via_consent", sa.Boolean(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=True),
        sa.Column("state_expires_at", sa.DateTime(), nullable=True),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("token_endpoint", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("step", sa.String(length=32), nullable=True),
        sa.Column("situation", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_attempts_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("flow_id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_attempts_state_hash")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempts_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempts_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempts_stage"), ["stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempts_started_at"), ["started_at"], unique=False)

    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("zorgaanbieder", sa.String(length=64), nullable=False),
        sa.Column("gegevensdiensten", sa.String(length=255), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_endpoint", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.Column("lapses_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=True),
        sa.Column("busy_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_consents_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consents_status"), ["status"], unique=False)

    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("zorgaanbieder", sa.String(length=64), nullable=False),
        sa.Column("gegevensdienst", sa.String(length=30), nullable=False),
        sa.Column("query_name", sa.String(length=128), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_records_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_source", ["account_id", "zorgaanbieder", "gegevensdienst"], unique=False
        )

    op.create_table(
        "sources",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("zorgaanbieder", sa.String(length=64), nullable=False),
        sa.Column("gegevensdienst", sa.String(length=30), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sources_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "zorgaanbieder", "gegevensdienst", name=op.f("pk_sources")
        ),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("cookie_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("device", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("search_flow_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_web_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("cookie_hash", name=op.f("uq_web_sessions_cookie_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "attempt_services",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("gegevensdienst", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["attempts.flow_id"], name=op.f("fk_attempt_services_flow_id_attempts")
        ),
        sa.PrimaryKeyConstraint("flow_id", "gegevensdienst", name=op.f("pk_attempt_services")),
    )
    op.create_table(
        "query_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("gegevensdienst", sa.String(length=30), nullable=False),
        sa.Column("query_name", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("failure", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("elapsed_seconds", sa.Float(), nullable=False),
        sa.Column("resource_count", sa.Integer(), nullable=False),
        sa.Column("resources", sa.Text(), nullable=True),
        sa.Column("retrieved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["attempts.flow_id"], name=op.f("fk_query_outcomes_flow_id_attempts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_outcomes")),
    )
    with op.batch_alter_table("query_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_query_outcomes_flow_id"), ["flow_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("query_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_query_outcomes_flow_id"))

    op.drop_table("query_outcomes")
    op.drop_table("attempt_services")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_account_id"))

    op.drop_table("web_sessions")
    op.drop_table("sources")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_source")

    op.drop_table("records")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_status"))
        batch_op.drop_index(batch_op.f("ix_consents_account_id"))

    op.drop_table("consents")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_started_at"))
        batch_op.drop_index(batch_op.f("ix_attempts_stage"))
        batch_op.drop_index(batch_op.f("ix_attempts_session_id"))
        batch_op.drop_index(batch_op.f("ix_attempts_account_id"))

    op.drop_table("attempts")
    with op.batch_alter_table("rejected_callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_callbacks_at"))

    op.drop_table("rejected_callbacks")
    op.drop_table("login_throttle")
    with op.batch_alter_table("ketenlog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ketenlog_type"))
        batch_op.drop_index(batch_op.f("ix_ketenlog_trace_id"))
        batch_op.drop_index(batch_op.f("ix_ketenlog_session_id"))
        batch_op.drop_index(batch_op.f("ix_ketenlog_occurred_at"))

    op.drop_table("ketenlog")
    with op.batch_alter_table("funnel_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funnel_events_person"))
        batch_op.drop_index(batch_op.f("ix_funnel_events_name"))
        batch_op.drop_index(batch_op.f("ix_funnel_events_flow_id"))
        batch_op.drop_index(batch_op.f("ix_funnel_events_at"))

    op.drop_table("funnel_events")
    op.drop_table("accounts")
