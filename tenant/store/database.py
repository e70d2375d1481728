"""The engine and its transactions.

SQLite (WAL, synchronous=FULL) by default, any SQLAlchemy URL otherwise. The schema is
Alembic's (tenant/store/migrate.py): opening a database that needs migrating fails. On SQLite,
writes are serialised inside the process, so that a transaction that reads then writes never
fails to upgrade its lock; other databases handle concurrent writers themselves.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from tenant.store.migrate import check_schema


class Database:
    """An engine and its transactions: reads, and writes serialised on SQLite."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(database_url)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self._sqlite else None
        if self._sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            check_schema(self.engine)  # an empty database is created at head; an old one refused
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        lock = self._write_lock or contextlib.nullcontext()
        with lock, self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: each commit is on disk before it returns. The ingester acks plays after the
        # commit and the kiosk then deletes them, so an ack must survive a power cut; WAL with
        # NORMAL may lose the last commits then. Group commit pays this fsync once per group.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
