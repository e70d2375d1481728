"""Alembic's environment: runs the revisions on the connection tenant/store/migrate.py gives."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from tenant.store.schema import metadata

config = context.config
connection: Connection | None = config.attributes.get("connection")


def run(conn: Connection) -> None:
    # Batch mode: SQLite alters a table by copying it, which Alembic does for us.
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # the alembic command line, with sqlalchemy.url in its .ini
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        run(conn)
