"""Tokens bound to the client certificate they were issued over (RFC 8705 section 3).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # x5t#S256: base64url SHA-256 of the certificate's DER, 43 characters. Tokens issued
    # before this revision have none, and stay unbound until they expire.
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("cnf_x5t_s256", sa.String(length=43), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("cnf_x5t_s256")
