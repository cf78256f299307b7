"""Alembic environment of the collector.

Run through ``medmij_stack.runtime.database.migrate``, which hands over the connection.
"""

from __future__ import annotations

from alembic import context

from medmij_stack.collector.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through medmij_stack.runtime.database.migrate")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
