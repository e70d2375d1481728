"""Alembic owns the schema: old databases upgrade in place, keep every row, and the revisions
at head are exactly tenant/store/schema.py (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
)

from tenant.broker.process import free_port
from tenant.broker.settings import BrokerAccount, BrokerSettings, save_broker_settings
from tenant.cli import EX_CONFIG
from tenant.store import TenantStore
from tenant.store.migrate import BASELINE, SchemaOutOfDate, head_revision, upgrade
from tenant.store.schema import metadata
from tests.tenant.pre_alembic_schema import before_staff as old_schema  # revision 0001
from tests.tenant.pre_alembic_schema import metadata as just_before_alembic

TENANT = "lib-a"
ROWS = 40
PLAYS = 500


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def jukebox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukebox", "tenant", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def value(table: Table, column: str, n: int) -> Any:
    col = table.c[column]
    if column == "tenant" or (table.name == "tenants" and column == "slug"):
        return TENANT
    if column == "role":  # staff_users
        return "network-admin"
    if isinstance(col.type, Boolean):
        return n % 2 == 0
    if isinstance(col.type, BigInteger):  # times in ms
        return 1_700_000_000_000 + n
    if isinstance(col.type, Integer):
        return n
    if isinstance(col.type, Float):
        return n / 4
    if isinstance(col.type, Text):
        return "[]"
    length = getattr(col.type, "length", None) or 64
    return f"{column[:4]}-{table.name[:4]}-{n}"[:length]


def fill_old_database(engine: Engine, schema: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    """Rows in every table of the old schema, as the old code could have written them."""
    with engine.begin() as conn:
        for table in schema.sorted_tables:
            one_per_tenant = len(table.primary_key.columns) == 1  # tenants, tenant_rules
            count = 1 if one_per_tenant else PLAYS if table.name == "plays" else ROWS
            rows = [{c.name: value(table, c.name, n) for c in table.columns} for n in range(count)]
            conn.execute(table.insert(), rows)
    return all_rows(engine, schema)


def all_rows(engine: Engine, schema: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(t.select())) for t in schema.sorted_tables
        }


def test_the_revisions_at_head_are_exactly_the_schema(engine: Engine) -> None:
    """A table or column added to tenant/store/schema.py without a revision fails here."""
    assert upgrade(engine).after == head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], "tenant/store/schema.py differs from tenant/migrations at head"


@pytest.mark.parametrize(
    "made_by", ["create_all before staff accounts", "create_all before Alembic", "revision 0001"]
)
def test_an_old_database_is_refused_then_upgraded_in_place_with_every_row_kept(
    engine: Engine, database_url: str, tmp_path: Path, made_by: str
) -> None:
    schema = just_before_alembic if made_by == "create_all before Alembic" else old_schema
    if made_by.startswith("create_all"):  # before Alembic: no alembic_version table
        schema.create_all(engine)
    else:
        upgrade(engine, BASELINE)
    before = fill_old_database(engine, schema)
    data = tmp_path / "tenant"

    with pytest.raises(SchemaOutOfDate, match="jukebox tenant migrate"):
        TenantStore(database_url)
    port = str(free_port())
    refused = jukebox("serve", "--data", str(data), "--database-url", database_url, "--port", port)
    assert refused.returncode == EX_CONFIG, refused.stderr
    assert f"run: jukebox tenant migrate --data {data} --database-url URL" in refused.stderr
    assert f"this version needs {head_revision()}" in refused.stderr

    migrated = jukebox("migrate", "--data", str(data), "--database-url", database_url)
    again = jukebox("migrate", "--data", str(data), "--database-url", database_url)

    assert migrated.returncode == 0, migrated.stderr
    assert f"-> {head_revision()}" in migrated.stdout
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr
    assert all_rows(engine, schema) == before
    store = TenantStore(database_url)  # no longer refused
    try:
        assert store.count_plays(TENANT) == PLAYS
        assert len(store.play_rows(TENANT)) == PLAYS
        assert len(store.list_devices(TENANT)) == ROWS
        assert len(store.list_tracks(TENANT)) == ROWS
        assert len(store.list_playlists(TENANT)) == ROWS
        tenant = store.get_tenant(TENANT)
        assert tenant is not None and tenant.name == value(old_schema.tables["tenants"], "name", 0)
        if "staff_users" in schema.tables:
            staff = store.list_users(TENANT)
            assert len(staff) == ROWS and staff[0].role == "network-admin"
    finally:
        store.close()


def test_the_ingester_refuses_a_database_to_migrate_with_the_code_its_unit_does_not_restart(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    upgrade(engine, BASELINE)
    data = tmp_path / "tenant"
    account = BrokerAccount("ingester", "broker-pw")  # never reached: the database comes first
    save_broker_settings(data, BrokerSettings("127.0.0.1", free_port(), account, account))

    refused = jukebox("ingest", "--data", str(data), "--database-url", database_url)

    assert refused.returncode == EX_CONFIG, refused.stderr
    assert f"schema revision {BASELINE}, this version needs {head_revision()}" in refused.stderr
    assert f"run: jukebox tenant migrate --data {data} --database-url URL" in refused.stderr


def test_an_empty_database_is_created_at_head_by_the_first_to_open_it(
    engine: Engine, database_url: str
) -> None:
    TenantStore(database_url).close()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()


def test_a_table_in_the_schema_without_a_revision_is_named_when_the_store_opens(
    database_url: str,
) -> None:
    extra = Table(
        "made_without_a_revision", metadata, Column("tenant", String(64), primary_key=True)
    )
    try:
        with pytest.raises(SchemaOutOfDate, match="no migration creates: made_without_a_revision"):
            TenantStore(database_url)
    finally:
        metadata.remove(extra)
    TenantStore(database_url).close()  # the same database, created at head, opens
