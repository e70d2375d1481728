"""The play journal on real SQLite files: plays are recorded durably and finalised exactly once."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.domain import DurationMs, EndReason, EventId, PlaylistId, StartedBy, TrackId
from device.journal.outbox import (
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalError,
    JournalLockedError,
    JournalStats,
    PlayJournal,
    migrate,
)
from device.journal.report import JournalIdentity, PlayReport

IDENTITY = JournalIdentity(
    tenant="mediatheques-nimes",
    site="carre-d-art",
    device_id="kiosk-0042",
    firmware_version="0.1.0",
    boot_id="6f1c0a4e-boot-one",
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite3"


@pytest.fixture
def journal(path: Path) -> Iterator[PlayJournal]:
    j = PlayJournal(path, IDENTITY)
    yield j
    j.close()


def start(journal: PlayJournal, track: str = "sha256:ab", **overrides: object) -> EventId:
    fields: dict[str, object] = {
        "playlist_id": PlaylistId("festival"),
        "playlist_revision": "3f2a9c1b0d4e",
        "track_id": TrackId(track),
        "isrc": "FRZ032600001",
        "track_duration_ms": DurationMs(215_000),
        "started_by": StartedBy.VISITOR,
        "started_wall_ms": 1_780_000_000_000,
        "clock_synced": True,
        "started_uptime_ms": 42_000,
    }
    fields.update(overrides)
    return journal.open_play(**fields)  # type: ignore[arg-type]


def test_every_field_of_a_play_round_trips_through_the_file(path: Path) -> None:
    with PlayJournal(path, IDENTITY) as journal:
        event_id = journal.open_play(
            playlist_id=PlaylistId("festival"),
            playlist_revision="3f2a9c1b0d4e",
            track_id=TrackId("sha256:" + "a" * 64),
            isrc=None,
            track_duration_ms=None,
            started_by=StartedBy.SCHEDULE,
            started_wall_ms=1_000,
            clock_synced=False,
            started_uptime_ms=7_500,
        )
        journal.record_progress(event_id, DurationMs(1_200))
        assert journal.close_play(
            event_id,
            listened_ms=DurationMs(2_500),
            reason=EndReason.ERROR,
            ended_wall_ms=4_000,
            error="mpv: cannot decode",
        )
    with PlayJournal(path, IDENTITY) as reopened:
        assert reopened.plays() == [
            PlayReport(
                event_id=event_id,
                seq=1,
                tenant="mediatheques-nimes",
                site="carre-d-art",
                device_id="kiosk-0042",
                firmware_version="0.1.0",
                boot_id="6f1c0a4e-boot-one",
                playlist_id=PlaylistId("festival"),
                playlist_revision="3f2a9c1b0d4e",
                track_id=TrackId("sha256:" + "a" * 64),
                isrc=None,
                track_duration_ms=None,
                started_by=StartedBy.SCHEDULE,
                started_wall_ms=1_000,
                clock_synced=False,
                started_uptime_ms=7_500,
                listened_ms=DurationMs(2_500),
                end_reason=EndReason.ERROR,
                ended_wall_ms=4_000,
                error="mpv: cannot decode",
            )
        ]


def test_an_open_play_is_recorded_before_it_ends(journal: PlayJournal) -> None:
    event_id = start(journal)
    [play] = journal.plays()
    assert play.event_id == event_id
    assert play.is_open and play.end_reason is None and play.ended_wall_ms is None
    assert play.listened_ms == 0
    assert (play.isrc, play.track_duration_ms, play.clock_synced) == ("FRZ032600001", 215_000, True)


def test_event_ids_are_uuid4(journal: PlayJournal) -> None:
    import uuid

    assert uuid.UUID(start(journal)).version == 4


def test_a_report_serialises_to_json_with_plain_strings(journal: PlayJournal) -> None:
    event_id = start(journal)
    journal.close_play(
        event_id, listened_ms=DurationMs(9), reason=EndReason.SKIPPED, ended_wall_ms=5
    )
    data = json.loads(json.dumps(journal.plays()[0].to_dict()))
    assert data["end_reason"] == "skipped" and data["started_by"] == "visitor"
    assert data["event_id"] == event_id and data["seq"] == 1


def test_the_file_and_its_directory_are_created_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "does" / "not" / "exist" / "journal.sqlite3"
    with PlayJournal(path, IDENTITY) as journal:
        start(journal)
    assert path.is_file()


def test_wal_and_synchronous_full_are_in_effect(journal: PlayJournal, path: Path) -> None:
    assert journal.pragma("journal_mode") == "wal"
    assert journal.pragma("synchronous") == 2  # FULL
    assert journal.pragma("user_version") == SCHEMA_VERSION
    # WAL is a property of the file: any other connection sees it too.
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_seq_is_strictly_increasing_across_reopen(path: Path) -> None:
    with PlayJournal(path, IDENTITY) as journal:
        start(journal, "t1")
        start(journal, "t2")
    with PlayJournal(path, IDENTITY) as journal:
        start(journal, "t3")
        seqs = [p.seq for p in journal.plays()]
    assert seqs == [1, 2, 3]


def test_seq_is_never_reused_after_the_newest_rows_are_deleted(path: Path) -> None:
    with PlayJournal(path, IDENTITY) as journal:
        ids = [start(journal, f"t{i}") for i in range(3)]
        for event_id in ids:
            journal.close_play(
                event_id, listened_ms=DurationMs(1), reason=EndReason.FINISHED, ended_wall_ms=2
            )
        assert journal.delete_finished(ids) == 3
        assert journal.plays() == []
    # Even rows deleted behind the journal's back do not free their numbers.
    with PlayJournal(path, IDENTITY) as journal:
        start(journal, "t3")
    raw = sqlite3.connect(path)
    raw.execute("DELETE FROM plays")
    raw.commit()
    raw.close()
    with PlayJournal(path, IDENTITY) as journal:
        start(journal, "t4")
        assert [p.seq for p in journal.plays()] == [5]
        assert journal.stats().last_seq == 5


def test_recover_interrupted_finalises_open_plays_exactly_once(journal: PlayJournal) -> None:
    done = start(journal, "done")
    journal.close_play(
        done, listened_ms=DurationMs(100), reason=EndReason.FINISHED, ended_wall_ms=1
    )
    cut = start(journal, "cut")
    journal.record_progress(cut, DurationMs(30_500))

    assert journal.recover_interrupted(ended_wall_ms=99_000) == 1
    assert journal.recover_interrupted(ended_wall_ms=123_000) == 0

    finished, interrupted = journal.plays()
    assert (finished.end_reason, finished.ended_wall_ms) == (EndReason.FINISHED, 1)
    assert interrupted.end_reason == EndReason.INTERRUPTED
    assert interrupted.listened_ms == 30_500
    assert interrupted.ended_wall_ms == 99_000
    assert not journal.close_play(
        cut, listened_ms=DurationMs(40_000), reason=EndReason.FINISHED, ended_wall_ms=5
    )


def test_closing_a_play_twice_finalises_it_once(journal: PlayJournal) -> None:
    event_id = start(journal)
    first = journal.close_play(
        event_id, listened_ms=DurationMs(31_000), reason=EndReason.SKIPPED, ended_wall_ms=10
    )
    second = journal.close_play(
        event_id, listened_ms=DurationMs(99_000), reason=EndReason.FINISHED, ended_wall_ms=20
    )
    assert (first, second) == (True, False)
    [play] = journal.plays()
    assert (play.end_reason, play.listened_ms, play.ended_wall_ms) == (
        EndReason.SKIPPED,
        31_000,
        10,
    )


def test_progress_on_a_closed_or_unknown_play_changes_nothing(journal: PlayJournal) -> None:
    event_id = start(journal)
    assert journal.record_progress(event_id, DurationMs(5_000))
    journal.close_play(
        event_id, listened_ms=DurationMs(6_000), reason=EndReason.STOPPED, ended_wall_ms=1
    )
    assert not journal.record_progress(event_id, DurationMs(7_000))
    assert not journal.record_progress(EventId("no-such-play"), DurationMs(7_000))
    assert not journal.close_play(
        EventId("no-such-play"),
        listened_ms=DurationMs(0),
        reason=EndReason.STOPPED,
        ended_wall_ms=1,
    )
    assert journal.plays()[0].listened_ms == 6_000


def test_negative_listened_time_is_refused(journal: PlayJournal) -> None:
    event_id = start(journal)
    with pytest.raises(ValueError, match="must not be negative"):
        journal.record_progress(event_id, DurationMs(-1))


def test_stats_count_open_and_finished_plays(journal: PlayJournal) -> None:
    assert journal.stats() == JournalStats(0, 0, 0, None, None)
    a, b, c = (start(journal, t) for t in "abc")
    journal.close_play(b, listened_ms=DurationMs(1), reason=EndReason.FINISHED, ended_wall_ms=1)
    journal.close_play(c, listened_ms=DurationMs(1), reason=EndReason.FINISHED, ended_wall_ms=1)
    assert journal.stats() == JournalStats(
        open=1, finished=2, total=3, oldest_finished_seq=2, last_seq=3
    )
    assert [p.event_id for p in journal.plays(finished_only=True)] == [b, c]
    assert [p.event_id for p in journal.plays(limit=2)] == [a, b]


def test_open_plays_are_never_deleted(journal: PlayJournal) -> None:
    playing = start(journal)
    assert journal.delete_finished([playing]) == 0
    assert journal.stats().open == 1


def test_a_publisher_shares_the_file_and_sees_the_same_truth(
    journal: PlayJournal, path: Path
) -> None:
    publisher = PlayJournal(path, IDENTITY, exclusive=False)
    try:
        event_id = start(journal)
        assert publisher.plays(finished_only=True) == []
        journal.close_play(
            event_id, listened_ms=DurationMs(3), reason=EndReason.FINISHED, ended_wall_ms=4
        )
        [play] = publisher.plays(finished_only=True)
        assert publisher.delete_finished([play.event_id]) == 1
        assert journal.stats().total == 0
        with pytest.raises(JournalError, match="only the exclusive owner"):
            publisher.recover_interrupted(ended_wall_ms=0)
    finally:
        publisher.close()


def test_finished_after_skips_open_plays_and_pages_in_seq_order(journal: PlayJournal) -> None:
    ids = [start(journal, f"sha256:{i:02x}") for i in range(5)]
    for event_id in (ids[0], ids[2], ids[3], ids[4]):  # ids[1] is still playing
        journal.close_play(
            event_id, listened_ms=DurationMs(1), reason=EndReason.FINISHED, ended_wall_ms=2
        )
    first = journal.finished_after(0, 2)
    assert [p.event_id for p in first] == [ids[0], ids[2]]
    rest = journal.finished_after(first[-1].seq, 10)
    assert [p.event_id for p in rest] == [ids[3], ids[4]]
    assert journal.finished_after(rest[-1].seq, 10) == []


def test_threads_may_share_one_journal(journal: PlayJournal) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                event_id = start(journal)
                journal.record_progress(event_id, DurationMs(1))
                journal.close_play(
                    event_id, listened_ms=DurationMs(2), reason=EndReason.FINISHED, ended_wall_ms=3
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.seq for p in journal.plays()] == list(range(1, 81))


def test_a_second_exclusive_opener_is_refused_until_the_first_closes(
    journal: PlayJournal, path: Path
) -> None:
    with pytest.raises(JournalLockedError) as refused:
        PlayJournal(path, IDENTITY)
    assert str(path) in str(refused.value)
    assert "already in use by another process" in str(refused.value)
    journal.close()
    PlayJournal(path, IDENTITY).close()


def test_a_closed_journal_says_so(journal: PlayJournal) -> None:
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="already closed"):
        journal.stats()


CRASHING_DAEMON = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from device.domain import DurationMs, PlaylistId, StartedBy, TrackId
    from device.journal.outbox import PlayJournal
    from device.journal.report import JournalIdentity

    journal = PlayJournal(Path(sys.argv[1]), JournalIdentity("t", "s", "d", "0.1.0", "boot-1"))
    play = journal.open_play(
        playlist_id=PlaylistId("festival"), playlist_revision="r1", track_id=TrackId("x"),
        isrc=None, track_duration_ms=None, started_by=StartedBy.AUTOPLAY,
        started_wall_ms=1000, clock_synced=False, started_uptime_ms=500,
    )
    journal.record_progress(play, DurationMs(12_345))
    print(play, flush=True)
    sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_daemon_leaves_a_play_that_restart_finalises_as_interrupted(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_DAEMON, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        event_id = child.stdout.readline().strip()
        assert event_id, "the child died before opening its play"
        with pytest.raises(JournalLockedError, match=f"pid {child.pid}"):
            PlayJournal(path, IDENTITY)
        child.stdin.write("crash\n")
        child.stdin.flush()
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:  # pragma: no cover - only when the test already failed
            child.kill()
            child.wait()

    with PlayJournal(path, IDENTITY) as journal:
        assert journal.recover_interrupted(ended_wall_ms=2_000) == 1
        [play] = journal.plays()
    assert play.event_id == event_id
    assert play.listened_ms == 12_345
    assert (play.end_reason, play.ended_wall_ms) == (EndReason.INTERRUPTED, 2_000)
    assert play.boot_id == "boot-1"  # the boot it started in, not the one that recovered it


def test_a_garbage_file_is_reported_and_left_untouched(path: Path) -> None:
    path.parent.mkdir(parents=True)
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(JournalError) as error:
        PlayJournal(path, IDENTITY)
    message = str(error.value)
    assert str(path) in message and "file is not a database" in message
    assert path.read_bytes() == garbage
    PlayJournal(path.with_name("fresh.sqlite3"), IDENTITY).close()  # the lock was released


def test_an_unrelated_sqlite_database_is_not_taken_over(path: Path) -> None:
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE recipes (name TEXT)")
    other.commit()
    other.close()
    with pytest.raises(JournalError, match="not a play journal"):
        PlayJournal(path, IDENTITY)


def test_a_directory_in_place_of_the_file_is_reported(path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(JournalError, match="not a regular file"):
        PlayJournal(path, IDENTITY)


def _add_rating(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE plays ADD COLUMN rating INTEGER")


def test_a_later_migration_adds_a_column_and_keeps_the_plays(path: Path) -> None:
    with PlayJournal(path, IDENTITY) as journal:
        event_id = start(journal)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, path, (*MIGRATIONS, _add_rating)) == SCHEMA_VERSION
        assert migrate(conn, path, (*MIGRATIONS, _add_rating)) == SCHEMA_VERSION + 1  # no-op
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT event_id, rating FROM plays").fetchall() == [(event_id, None)]
    finally:
        conn.close()
    # Firmware rolled back to this version still records into the newer, additive schema.
    with PlayJournal(path, IDENTITY) as journal:
        start(journal, "after-rollback")
        assert journal.stats().total == 2


def test_a_newer_schema_missing_a_needed_column_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE plays (seq INTEGER PRIMARY KEY, event_id TEXT)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=r"lacks column\(s\) boot_id, clock_synced"):
        PlayJournal(path, IDENTITY)


def test_the_wire_form_is_the_report_as_json_made_by_sqlite(journal: PlayJournal) -> None:
    """finished_wire_after's JSON (SQLite's json_object) is to_dict's, value for value."""
    texts = [
        None,
        'quote " backslash \\ newline \n tab \t nul-ish \x01 end',
        "é ü 日本 🎵 " * 3,
        "x" * 499,
        "y" * 500,
        "z" * 501,
        "ü" * 800,
    ]
    ids = []
    for i, error in enumerate(texts):
        event_id = start(
            journal,
            f"sha256:{i:02x}",
            isrc=None if i % 2 else "FRZ032600001",
            track_duration_ms=None if i % 3 else DurationMs(215_000),
            clock_synced=bool(i % 2),
            started_by=list(StartedBy)[i % len(StartedBy)],
        )
        reason = EndReason.ERROR if error is not None else EndReason.FINISHED
        journal.close_play(
            event_id, listened_ms=DurationMs(i), reason=reason, ended_wall_ms=7, error=error
        )
        ids.append(event_id)
    start(journal, "sha256:open")  # still playing: never on the wire

    wire = journal.finished_wire_after(0, 100, error_max=500)

    assert [(w.seq, w.event_id) for w in wire] == [(p.seq, p.event_id) for p in journal.plays()[:7]]
    for sent, report in zip(wire, journal.plays(), strict=False):
        expected = report.to_dict()
        if isinstance(expected["error"], str) and len(expected["error"]) > 500:
            expected["error"] = expected["error"][:499] + "…"
        assert json.loads(sent.json) == expected
    lengths = [len(json.loads(w.json)["error"] or "") for w in wire]
    assert lengths == [min(len(text or ""), 500) for text in texts]
    assert journal.finished_wire_after(wire[2].seq, 2, error_max=500) == wire[3:5]
