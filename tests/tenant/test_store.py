"""The data-access layer stays portable: its schema compiles for PostgreSQL as it is."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from tenant.store.schema import metadata


def test_the_schema_compiles_for_postgresql() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "CREATE TABLE" in ddl
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=dialect))


def test_every_table_is_keyed_by_tenant() -> None:
    for table in metadata.sorted_tables:
        # audit_log: append-only, keyed by one sequence (an autoincrement key must be alone
        # on SQLite); its rows still name their tenant, and its indexes start with it.
        if table.name in ("tenants", "admin_tokens", "access_tokens", "audit_log"):
            assert "tenant" in table.c or table.name == "tenants"
            continue
        assert table.primary_key.columns.keys()[0] == "tenant", table.name
