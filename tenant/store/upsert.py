"""INSERT … ON CONFLICT, for the databases the store runs on (SQLite and PostgreSQL).

Both speak the same clause and SQLAlchemy has it for each dialect; a single statement keeps
idempotent writes race-free between several ingesters without reading first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"INSERT … ON CONFLICT is not written for {name} databases yet")


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rows whose primary key is not taken yet; leave the others as they are."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(), list(rows))


def upsert(
    conn: Connection, table: Table, values: Mapping[str, Any], update: Mapping[str, Any]
) -> None:
    """Insert `values`, or apply `update` to the row with the same primary key.

    `update` may use the table's columns (the stored row) in SQL expressions.
    """
    keys = [c.name for c in table.primary_key.columns]
    statement = _insert(conn, table).values(dict(values))
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=dict(update)))


def upsert_many(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], replace: Sequence[str]
) -> None:
    """Insert the rows, or overwrite the `replace` columns of those already there, in one
    statement. The rows' primary keys must be distinct (PostgreSQL refuses to update a row
    twice in one statement)."""
    upsert_many_with(conn, table, rows, lambda offered: {n: offered[n] for n in replace})


def upsert_many_with(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    update: Callable[[Any], Mapping[str, Any]],
) -> None:
    """`upsert_many` where `update(offered)` builds the new values in SQL from the row offered
    (`offered.column`, the dialect's ``excluded``) and the stored row (the table's columns)."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    statement = _insert(conn, table)
    set_ = dict(update(statement.excluded))
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=set_), list(rows))
