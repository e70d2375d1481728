"""The play journal: every play written to SQLite before anyone hears it, finalised exactly once.

Plays are facts that artists are paid from, so the journal favours durability over speed:
WAL, ``synchronous=FULL`` and one transaction per state change, so a power cut loses at most the
progress since the last `record_progress`. On restart `recover_interrupted` finalises whatever
was still open as *interrupted*, keeping the listened time last recorded.

The journal is also the publisher's outbox. The publisher opens the same file with its own
`PlayJournal(..., exclusive=False)`, reads finished plays in ``seq`` order and deletes them only
once the tenant has acknowledged them. Nothing is kept in memory that the database does not
hold, so any number of readers see the same truth.

Schema changes go through `MIGRATIONS` (``PRAGMA user_version`` counts those applied). A
migration may only add tables, or columns that are nullable or have a default, so that a
firmware rolled back after an update can still write to the newer file.

Example (the kiosk core's side)::

    journal = PlayJournal(config.device.journal_path, identity)
    journal.recover_interrupted(ended_wall_ms=clock.wall_time_ms())
    play = journal.open_play(playlist_id=..., track_id=..., started_by=StartedBy.VISITOR, ...)
    journal.record_progress(play, DurationMs(30_000))
    journal.close_play(play, listened_ms=..., reason=EndReason.FINISHED, ended_wall_ms=...)

Size: over 500 lines on purpose: every statement that touches the journal's file sits beside
the others, so the exactly-once rules can be checked in one reading.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from device.domain import DurationMs, EndReason, EventId, PlaylistId, StartedBy, TrackId
from device.journal.report import JournalIdentity, PlayReport

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "JournalError",
    "JournalIdentity",
    "JournalLockedError",
    "JournalStats",
    "PlayJournal",
    "WirePlay",
    "migrate",
]

log = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]


class JournalError(Exception):
    """The journal cannot be used; the message names the file and what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"play journal {path}: {problem}")


class JournalLockedError(JournalError):
    """Another process already owns the journal: two daemons must never record into one file."""


@dataclass(frozen=True)
class JournalStats:
    open: int  # plays started and not yet finalised
    finished: int  # finalised plays waiting for the tenant's acknowledgement
    total: int
    oldest_finished_seq: int | None  # how far behind the publisher is
    last_seq: int | None  # the highest sequence number ever issued, even if since deleted


def _schema_v1(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT (not a plain rowid) so that seq is never reused after the publisher deletes
    # the newest rows: SQLite keeps the high-water mark in sqlite_sequence.
    conn.execute(
        """
        CREATE TABLE plays (
            seq               INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id          TEXT    NOT NULL UNIQUE,
            tenant            TEXT    NOT NULL,
            site              TEXT    NOT NULL,
            device_id         TEXT    NOT NULL,
            firmware_version  TEXT    NOT NULL,
            boot_id           TEXT    NOT NULL,
            playlist_id       TEXT    NOT NULL,
            playlist_revision TEXT    NOT NULL,
            track_id          TEXT    NOT NULL,
            isrc              TEXT,
            track_duration_ms INTEGER CHECK (track_duration_ms >= 0),
            started_by        TEXT    NOT NULL
                              CHECK (started_by IN ('visitor', 'autoplay', 'schedule')),
            started_wall_ms   INTEGER NOT NULL,
            clock_synced      INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
            started_uptime_ms INTEGER NOT NULL,
            listened_ms       INTEGER NOT NULL DEFAULT 0 CHECK (listened_ms >= 0),
            end_reason        TEXT    CHECK (end_reason IN
                              ('finished', 'skipped', 'stopped', 'error', 'interrupted')),
            ended_wall_ms     INTEGER,
            error             TEXT,
            CHECK ((end_reason IS NULL) = (ended_wall_ms IS NULL))
        )
        """
    )
    conn.execute("CREATE INDEX plays_open ON plays (seq) WHERE end_reason IS NULL")


MIGRATIONS: tuple[Migration, ...] = (_schema_v1,)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "event_id",
    "seq",
    "tenant",
    "site",
    "device_id",
    "firmware_version",
    "boot_id",
    "playlist_id",
    "playlist_revision",
    "track_id",
    "isrc",
    "track_duration_ms",
    "started_by",
    "started_wall_ms",
    "clock_synced",
    "started_uptime_ms",
    "listened_ms",
    "end_reason",
    "ended_wall_ms",
    "error",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM plays"


def _wire_value(column: str) -> str:
    if column == "clock_synced":  # stored 0/1, a JSON boolean on the wire
        return "json(CASE clock_synced WHEN 0 THEN 'false' ELSE 'true' END)"
    if column == "error":  # the schema's bound: cut, marked with an ellipsis
        return (
            "CASE WHEN length(error) > :error_max"
            " THEN substr(error, 1, :error_max - 1) || '…' ELSE error END"
        )
    return column


# A finished play as the play-batch payload carries it (PlayReport.to_dict's keys and values),
# built by SQLite's json_object: the publisher's batches cost the interpreter ~1 ms per 250
# plays instead of ~7 ms through PlayReport objects, while a visitor may be pressing.
_SELECT_WIRE = (
    "SELECT seq, event_id, json_object("
    + ", ".join(f"'{column}', {_wire_value(column)}" for column in _COLUMNS)
    + ") FROM plays WHERE seq > :seq AND end_reason IS NOT NULL ORDER BY seq LIMIT :limit"
)


@dataclass(frozen=True)
class WirePlay:
    """A finished play ready for the wire: its JSON object as text, with seq and event id."""

    seq: int
    event_id: EventId
    json: str


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Apply the migrations the file has not seen, in one transaction; return the old version.

    A file from a newer firmware is left as it is (migrations are additive, see module doc).
    `conn` must be in autocommit mode (``isolation_level=None``).
    """
    target = len(migrations)
    version = _user_version(conn)
    if version >= target:
        if version > target:
            log.warning(
                "play journal %s has schema version %d, this firmware knows %d; using it as is",
                path,
                version,
                target,
            )
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _user_version(conn)  # another process may have migrated meanwhile
        if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise JournalError(path, "is an SQLite database but not a play journal (no version)")
        for number in range(version, target):
            migrations[number](conn)
        conn.execute(f"PRAGMA user_version = {target:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if version < target:
        log.info("play journal %s: schema version %d -> %d", path, version, target)
    return version


def _user_version(conn: sqlite3.Connection) -> int:
    value = conn.execute("PRAGMA user_version").fetchone()[0]
    assert isinstance(value, int)
    return value


class PlayJournal:
    """The SQLite play journal at `path` (created with its directory if missing).

    With ``exclusive=True`` (the kiosk daemon) an exclusive ``flock`` on ``<path>.lock`` is held
    until `close`, so a second daemon is refused with `JournalLockedError`. The publisher passes
    ``exclusive=False``: it may read and delete finished plays but not recover open ones.
    Safe to share between threads; every method is one short transaction.
    """

    def __init__(
        self,
        path: Path,
        identity: JournalIdentity,
        *,
        exclusive: bool = True,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.identity = identity
        self.exclusive = exclusive
        self._mutex = threading.Lock()
        self._lock_fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(self.path, f"cannot create its directory: {exc}") from exc
        if exclusive:
            self._lock_fd = _acquire_lock(self.path)
        try:
            self._conn: sqlite3.Connection | None = self._connect(busy_timeout_s)
        except BaseException:
            self._release_lock()
            raise

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        if self.path.exists() and not self.path.is_file():
            raise JournalError(self.path, "is not a regular file")
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise JournalError(self.path, f"cannot open: {exc}") from exc
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(self.path, f"cannot use write-ahead logging (mode {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
            migrate(conn, self.path)
            missing = set(_COLUMNS) - {row[1] for row in conn.execute("PRAGMA table_info(plays)")}
            if missing:
                raise JournalError(
                    self.path, f"plays table lacks column(s) {', '.join(sorted(missing))}"
                )
        except sqlite3.OperationalError as exc:  # locked, read-only, I/O error...
            conn.close()
            raise JournalError(self.path, f"cannot open: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # not a database, or a corrupt one
            conn.close()
            raise JournalError(
                self.path,
                f"unreadable ({exc}); the file was left untouched, move it aside to start anew",
            ) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    # ------------------------------------------------------------------ writing

    def open_play(
        self,
        *,
        playlist_id: PlaylistId,
        playlist_revision: str,
        track_id: TrackId,
        isrc: str | None,
        track_duration_ms: int | None,
        started_by: StartedBy,
        started_wall_ms: int,
        clock_synced: bool,
        started_uptime_ms: int,
    ) -> EventId:
        """Record that a play started (with nothing listened yet); return its new event id."""
        event_id = EventId(str(uuid.uuid4()))
        who = self.identity
        with self._transaction("open a play") as conn:
            conn.execute(
                """
                INSERT INTO plays (event_id, tenant, site, device_id, firmware_version, boot_id,
                    playlist_id, playlist_revision, track_id, isrc, track_duration_ms,
                    started_by, started_wall_ms, clock_synced, started_uptime_ms, listened_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
                """,
                (
                    event_id,
                    who.tenant,
                    who.site,
                    who.device_id,
                    who.firmware_version,
                    who.boot_id,
                    playlist_id,
                    playlist_revision,
                    track_id,
                    isrc,
                    track_duration_ms,
                    StartedBy(started_by).value,
                    started_wall_ms,
                    int(bool(clock_synced)),
                    started_uptime_ms,
                ),
            )
        log.debug("play %s opened: %s/%s", event_id, playlist_id, track_id)
        return event_id

    def record_progress(self, event_id: EventId, listened_ms: int) -> bool:
        """Checkpoint the listened time of an open play; False if it is closed or unknown."""
        _check_listened(listened_ms)
        with self._transaction("record progress") as conn:
            cursor = conn.execute(
                "UPDATE plays SET listened_ms = ? WHERE event_id = ? AND end_reason IS NULL",
                (listened_ms, event_id),
            )
        if cursor.rowcount == 0:
            log.debug("progress for play %s ignored: it is not open", event_id)
        return cursor.rowcount == 1

    def close_play(
        self,
        event_id: EventId,
        *,
        listened_ms: int,
        reason: EndReason,
        ended_wall_ms: int,
        error: str | None = None,
    ) -> bool:
        """Finalise an open play. A play is finalised once: closing it again returns False."""
        _check_listened(listened_ms)
        with self._transaction("close a play") as conn:
            cursor = conn.execute(
                """
                UPDATE plays SET listened_ms = ?, end_reason = ?, ended_wall_ms = ?, error = ?
                WHERE event_id = ? AND end_reason IS NULL
                """,
                (listened_ms, EndReason(reason).value, ended_wall_ms, error, event_id),
            )
        if cursor.rowcount == 0:
            log.warning("play %s already finalised or unknown; not closed again", event_id)
            return False
        log.debug("play %s closed: %s after %d ms", event_id, reason, listened_ms)
        return True

    def recover_interrupted(self, ended_wall_ms: int) -> int:
        """Finalise every open play as interrupted (at start-up, before any new play).

        Returns how many were finalised; the listened time last recorded is kept. Only the
        exclusive owner may do this: anyone else could cut a play that is really playing.
        """
        if not self.exclusive:
            raise JournalError(self.path, "only the exclusive owner may recover open plays")
        with self._transaction("recover interrupted plays") as conn:
            cursor = conn.execute(
                "UPDATE plays SET end_reason = ?, ended_wall_ms = ? WHERE end_reason IS NULL",
                (EndReason.INTERRUPTED.value, ended_wall_ms),
            )
        if cursor.rowcount:
            log.warning("%d interrupted play(s) finalised from %s", cursor.rowcount, self.path)
        return cursor.rowcount

    def delete_finished(self, event_ids: Iterable[EventId]) -> int:
        """Forget finalised plays the tenant has acknowledged; open plays are never deleted."""
        ids = [(event_id,) for event_id in event_ids]
        with self._transaction("delete acknowledged plays") as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM plays WHERE event_id = ? AND end_reason IS NOT NULL", ids)
            return conn.total_changes - before

    # ------------------------------------------------------------------ reading

    def plays(self, limit: int | None = None, *, finished_only: bool = False) -> list[PlayReport]:
        """Plays in ``seq`` order (oldest first), at most `limit` of them."""
        where = " WHERE end_reason IS NOT NULL" if finished_only else ""
        with self._reading("list plays") as conn:
            rows = conn.execute(
                f"{_SELECT}{where} ORDER BY seq LIMIT ?", (-1 if limit is None else limit,)
            ).fetchall()
        return [_report(row) for row in rows]

    def finished_after(self, seq: int, limit: int) -> list[PlayReport]:
        """Finalised plays with a ``seq`` above `seq`, oldest first: the publisher's next batch.

        One range scan of the primary key, so polling it every second costs next to nothing.
        """
        with self._reading("list finished plays") as conn:
            rows = conn.execute(
                f"{_SELECT} WHERE seq > ? AND end_reason IS NOT NULL ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [_report(row) for row in rows]

    def finished_wire_after(self, seq: int, limit: int, *, error_max: int) -> list[WirePlay]:
        """`finished_after`, each play already JSON (an error text cut to `error_max`)."""
        with self._reading("list finished plays") as conn:
            rows = conn.execute(
                _SELECT_WIRE, {"seq": seq, "limit": limit, "error_max": error_max}
            ).fetchall()
        return [WirePlay(row[0], EventId(row[1]), row[2]) for row in rows]

    def play(self, event_id: EventId) -> PlayReport | None:
        with self._reading("read a play") as conn:
            row = conn.execute(f"{_SELECT} WHERE event_id = ?", (event_id,)).fetchone()
        return _report(row) if row else None

    def stats(self) -> JournalStats:
        with self._reading("count plays") as conn:
            total, open_, oldest = conn.execute(
                """
                SELECT count(*), count(*) FILTER (WHERE end_reason IS NULL),
                       min(seq) FILTER (WHERE end_reason IS NOT NULL)
                FROM plays
                """
            ).fetchone()
            last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'plays'").fetchone()
        return JournalStats(
            open=open_,
            finished=total - open_,
            total=total,
            oldest_finished_seq=oldest,
            last_seq=last[0] if last else None,
        )

    def pragma(self, name: str) -> object:
        """Read a PRAGMA of this connection (``journal_mode``, ``synchronous``), for diagnostics."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._reading("read a pragma") as conn:
            row = conn.execute(f"PRAGMA {name}").fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the database and release the lock; safe to call twice."""
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._release_lock()

    def __enter__(self) -> PlayJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._mutex, self._errors(what):
            yield self._connection()

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed (and fsynced) on success, rolled back otherwise."""
        with self._mutex, self._errors(what):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise JournalError(self.path, f"cannot {what}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(self.path, "already closed")
        return self._conn

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def _acquire_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise JournalError(path, f"cannot open its lock file {lock_path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise JournalLockedError(
            path,
            f"already in use by another process (pid {holder}, lock {lock_path}); "
            "only one kiosk daemon may record plays into a journal",
        ) from None
    except OSError as exc:
        os.close(fd)
        raise JournalError(path, f"cannot lock {lock_path}: {exc}") from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _check_listened(listened_ms: int) -> None:
    if listened_ms < 0:
        raise ValueError(f"listened_ms must not be negative, got {listened_ms}")


def _report(row: Sequence[object]) -> PlayReport:
    values = dict(zip(_COLUMNS, row, strict=True))
    end_reason = values["end_reason"]
    return PlayReport(
        event_id=EventId(str(values["event_id"])),
        seq=_int(values["seq"]),
        tenant=str(values["tenant"]),
        site=str(values["site"]),
        device_id=str(values["device_id"]),
        firmware_version=str(values["firmware_version"]),
        boot_id=str(values["boot_id"]),
        playlist_id=PlaylistId(str(values["playlist_id"])),
        playlist_revision=str(values["playlist_revision"]),
        track_id=TrackId(str(values["track_id"])),
        isrc=_opt_str(values["isrc"]),
        track_duration_ms=(
            None
            if values["track_duration_ms"] is None
            else DurationMs(_int(values["track_duration_ms"]))
        ),
        started_by=StartedBy(str(values["started_by"])),
        started_wall_ms=_int(values["started_wall_ms"]),
        clock_synced=bool(values["clock_synced"]),
        started_uptime_ms=_int(values["started_uptime_ms"]),
        listened_ms=DurationMs(_int(values["listened_ms"])),
        end_reason=None if end_reason is None else EndReason(str(end_reason)),
        ended_wall_ms=None if values["ended_wall_ms"] is None else _int(values["ended_wall_ms"]),
        error=_opt_str(values["error"]),
    )


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer column, got {value!r}")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
