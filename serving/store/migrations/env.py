"""Alembic environment of the operational store, run programmatically by `upgrade_to_head`.

The caller hands over an open connection in ``config.attributes["connection"]``; there is no
alembic.ini and no URL read from the environment here.
"""

from __future__ import annotations

from alembic import context

from serving.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations through serving.store.upgrade_to_head(url)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
