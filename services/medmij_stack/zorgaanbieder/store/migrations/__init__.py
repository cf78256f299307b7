"""Alembic revisions of the resource server's store (run by `Repository.create`)."""
