"""The schema's version: Alembic's revisions (tenant/migrations/) applied, checked, reported.

A new, empty database is created at head by whoever opens it first (`tenant init`, or a
service started on it). A database with tables at an older revision is never changed behind
the operator's back: the store refuses it (SchemaOutOfDate, which names the command to run)
until `jukebox tenant migrate` upgrades it in place. Databases made by `metadata.create_all`
before migrations existed have no alembic_version table; they hold revision 0001's tables, or
0002's once the staff accounts had come (PRE_ALEMBIC), and are marked as that revision before
the upgrade.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

import tenant.migrations
from tenant.store.schema import metadata

__all__ = ["BASELINE", "Migrated", "SchemaOutOfDate", "check_schema", "head_revision", "upgrade"]

log = logging.getLogger(__name__)

BASELINE = "0001"  # the first revision: the tables before the staff accounts
# What metadata.create_all made before Alembic owned the schema: the revision whose tables a
# database without alembic_version holds, newest first, each known by a table it added.
PRE_ALEMBIC = (("0002", "staff_users"), (BASELINE, "tenants"))
MIGRATE_COMMAND = "jukebox tenant migrate"


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this version of the service needs; says what to do."""


@dataclass(frozen=True)
class Migrated:
    before: str | None  # None: the database was empty
    after: str


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(tenant.migrations.__file__).parent))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "tenant/migrations has no revision"
    return head


def _known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def _state(conn: Connection) -> tuple[str | None, set[str]]:
    """(the recorded revision, the database's tables other than alembic_version)."""
    revision = MigrationContext.configure(conn).get_current_revision()
    return revision, set(inspect(conn).get_table_names()) - {"alembic_version"}


def _pre_alembic_revision(tables: set[str], where: str) -> str:
    """The revision a database made by create_all (no alembic_version) is at."""
    for revision, marker in PRE_ALEMBIC:
        if marker in tables:
            return revision
    shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
    raise SchemaOutOfDate(
        f"database {where}: has tables ({shown}) but neither a schema revision nor the "
        "tenant's `tenants` table: is it a jukebox tenant database?"
    )


def check_schema(engine: Engine) -> None:
    """Creates an empty database at head; raises SchemaOutOfDate for any other revision."""
    with engine.connect() as conn:
        revision, tables = _state(conn)
    missing = sorted(set(metadata.tables) - tables)
    if revision == head_revision():
        if missing:  # a developer's mistake, said plainly rather than as "no such table" later
            raise SchemaOutOfDate(
                f"tenant/store/schema.py has tables that no migration creates: "
                f"{', '.join(missing)}: add a revision in tenant/migrations/versions/ "
                "(tests/tenant/test_migrations.py checks it)"
            )
        return
    if revision is None and not tables:
        upgrade(engine)
        check_schema(engine)  # now at head: only says whether schema.py outran the revisions
        return
    where = engine.url.render_as_string(hide_password=True)
    if revision is not None and revision not in _known_revisions():
        raise SchemaOutOfDate(
            f"database {where}: schema revision {revision} is newer than this version of jukebox "
            f"knows (head {head_revision()}): upgrade jukebox"
        )
    raise SchemaOutOfDate(
        f"database {where}: schema revision {revision or 'none (made before migrations)'}, "
        f"this version needs {head_revision()}: back it up, then run `{MIGRATE_COMMAND}`"
    )


def upgrade(engine: Engine, target: str = "head") -> Migrated:
    """Upgrades the database in place (one transaction where the database allows DDL in one)."""
    with engine.begin() as conn:
        before, tables = _state(conn)
        config = _config(conn)
        if before is None and tables:
            found = _pre_alembic_revision(tables, engine.url.render_as_string(hide_password=True))
            log.info("database made before schema revisions: marking it %s", found)
            command.stamp(config, found)
        command.upgrade(config, target)
        after = MigrationContext.configure(conn).get_current_revision()
    assert after is not None
    log.info("database schema: %s -> %s", before or "empty", after)
    return Migrated(before, after)
