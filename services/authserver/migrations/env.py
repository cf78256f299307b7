"""Alembic environment of the authorisation server; run through ``authserver.db.migrate``."""

from __future__ import annotations

from alembic import context

from authserver.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through authserver.db.migrate(engine)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
