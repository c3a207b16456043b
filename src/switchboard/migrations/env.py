"""Alembic environment: runs on a connection handed in by switchboard's migrate step."""

from __future__ import annotations

from alembic import context

from switchboard.adapters.postgres.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
