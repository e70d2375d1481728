"""Backups of the tenant's database, and restoring one (`jukebox tenant backup/restore`).

SQLite: the online backup API (a consistent copy while the service and ingesters write; the
WAL is included). PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore --clean`;
both run with the server's own tools and see one consistent snapshot. The media folder and
`secret.key` are files: back them up with the data directory (docs/tenant-production.md).
Restoring replaces the database's content (stop the service and the ingesters first), then
analyses it, so the planner has statistics before the fleet's plays arrive.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import URL, make_url

from tenant.store.postgres import PostgresError, postgres_bin_dir

__all__ = ["BackupError", "backup", "restore"]


class BackupError(RuntimeError):
    """The backup or the restore failed; says which database or file, and why."""


def backup(database_url: str, output: Path) -> int:
    """Writes a backup of the database to `output`; returns its size in bytes."""
    url = make_url(database_url)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(url), partial)
    elif url.get_backend_name() == "postgresql":
        _pg_tool("pg_dump", url, ["--format=custom", "--file", str(partial)])
    else:
        raise BackupError(f"{_shown(url)}: no backup for {url.get_backend_name()} databases")
    os.replace(partial, output)
    return output.stat().st_size


def restore(backup_file: Path, database_url: str) -> None:
    """Replaces the database's content by the backup's (the service stopped)."""
    url = make_url(database_url)
    if not Path(backup_file).is_file():
        raise BackupError(f"{backup_file}: no such backup file")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(Path(backup_file), _sqlite_path(url))
    elif url.get_backend_name() == "postgresql":
        _pg_tool("pg_restore", url, ["--clean", "--if-exists", "--no-owner", "--single-transaction",
                                     str(backup_file)])  # fmt: skip
    else:
        raise BackupError(f"{_shown(url)}: no restore for {url.get_backend_name()} databases")
    _analyze(url)


def _analyze(url: URL) -> None:
    """Gives the restored tables their statistics at once: pg_restore brings none, and until
    autovacuum's first ANALYZE PostgreSQL's planner looks each group's play owners up by
    scanning the tenant's plays (docs/tenant-production.md, Figures)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    except SQLAlchemyError as exc:
        raise BackupError(f"{_shown(url)}: restored, but ANALYZE failed: {exc}") from exc
    finally:
        engine.dispose()


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError(f"{_shown(url)}: not a SQLite file")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's backup API: page by page, consistent even while others write to `source`."""
    if not source.is_file():
        raise BackupError(f"{source}: no such SQLite database")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} -> {target}: {exc}") from exc


def _pg_tool(tool: str, url: URL, arguments: list[str]) -> None:
    """Runs pg_dump or pg_restore on the database of `url` (password in the environment)."""
    try:
        path = str(postgres_bin_dir() / tool)
    except PostgresError:
        found = shutil.which(tool)
        if found is None:
            raise BackupError(f"{tool} not found: install PostgreSQL's client tools") from None
        path = found
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    connection = ["--dbname", str(url.database)]
    if url.host:
        connection += ["--host", url.host]
    if url.port:
        connection += ["--port", str(url.port)]
    if url.username:
        connection += ["--username", url.username]
    result = subprocess.run(
        [path, *connection, "--no-password", *arguments],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BackupError(f"{tool} {_shown(url)}: {result.stderr.strip() or result.returncode}")
