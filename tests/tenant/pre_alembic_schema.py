"""Test data: the tables `metadata.create_all` made just before Alembic owned the schema.

tenant/store/schema.py at f6f612a^, frozen here (never the live code): revision 0001's tables,
themselves a frozen copy of that file before the staff accounts, and the staff accounts' three
tables, which came by create_all (0b94ede) before any revision existed.
"""

from __future__ import annotations

import importlib

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SLUG = 64
HASH = 64
TEXT = 300

before_staff: MetaData = importlib.import_module("tenant.migrations.versions.0001_initial").metadata
metadata = MetaData()
for table in before_staff.sorted_tables:
    table.to_metadata(metadata)

Table(
    "staff_users",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("username", String(SLUG), primary_key=True),
    Column("password_hash", String(TEXT), nullable=False),
    Column("role", String(32), nullable=False),
    Column("sites", Text, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant"], ["tenants.slug"]),
)
Table(
    "staff_tokens",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("token_id", String(32), primary_key=True),
    Column("token_hash", String(HASH), nullable=False, unique=True),
    Column("username", String(SLUG), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger),
    Column("revoked_ms", BigInteger),
    Column("last_used_ms", BigInteger),
    ForeignKeyConstraint(["tenant", "username"], ["staff_users.tenant", "staff_users.username"]),
    Index("staff_tokens_user", "tenant", "username"),
)
Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(SLUG), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(TEXT), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(TEXT), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Index("audit_log_time", "tenant", "at_ms"),
    Index("audit_log_actor", "tenant", "actor", "at_ms"),
    Index("audit_log_object", "tenant", "object_type", "object_id"),
)
