"""Diagnostics for the technician: recent logs, the previous boot's last lines (where a crash
left its cause) and a play journal summary, written to the stick.

Read-only towards the kiosk (the play journal is opened with SQLite's read-only mode), and
nothing secret leaves: no key, no credentials file, no Wi-Fi passphrase; tokens that might
appear in a log line are masked.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from contract.files import write_all
from device import FIRMWARE_VERSION
from device.platform.boot_log import previous_boot_lines
from device.platform.logs import scrub as redact

__all__ = ["journal_summary", "recent_logs", "redact", "write_diagnostics"]

log = logging.getLogger(__name__)

LOG_UNITS = ("jukebox.service", "jukebox-firstboot.service", "jukebox-stick@*.service")
PREVIOUS_BOOT_LINES = 1000  # a stick has room: more than the 200 a remote diagnostics sends


def recent_logs(lines: int = 3000) -> str:
    """The kiosk's units in the systemd journal, newest last."""
    command = ["journalctl", "--no-pager", "-o", "short-iso", "-n", str(lines)]
    for unit in LOG_UNITS:
        command += ["-u", unit]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(journalctl unavailable: {exc})\n"
    return done.stdout or f"(journalctl: {done.stderr.strip()})\n"


def journal_summary(journal_path: Path, last: int = 50) -> str:
    """Counts by end reason and the last plays, from the play journal (read-only)."""
    if not journal_path.exists():
        return f"no play journal at {journal_path}\n"
    try:
        conn = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return f"play journal {journal_path} unreadable: {exc}\n"
    try:
        rows = conn.execute(
            "SELECT coalesce(end_reason, 'open'), count(*), sum(listened_ms) FROM plays "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        recent = conn.execute(
            "SELECT seq, started_wall_ms, clock_synced, playlist_id, track_id, listened_ms, "
            "coalesce(end_reason, 'open'), coalesce(error, '') FROM plays "
            "ORDER BY seq DESC LIMIT ?",
            (last,),
        ).fetchall()
    except sqlite3.Error as exc:
        return f"play journal {journal_path} unreadable: {exc}\n"
    finally:
        conn.close()
    out = ["plays by outcome (count, listened s):"]
    out += [f"  {reason:<12} {count:>7} {int(ms or 0) / 1000:>10.0f}" for reason, count, ms in rows]
    out.append(f"last {len(recent)} plays (newest first):")
    for seq, wall_ms, synced, playlist, track, listened, reason, error in recent:
        when = datetime.fromtimestamp(wall_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        clock = "" if synced else " (clock not synced)"
        extra = f" {error}" if error else ""
        out.append(
            f"  #{seq} {when}{clock} {playlist}/{track} {listened / 1000:.1f} s {reason}{extra}"
        )
    return "\n".join(out) + "\n"


def write_diagnostics(
    folder: Path,
    state_dir: Path,
    device_id: str,
    logs: Callable[[], str] = recent_logs,
    now: datetime | None = None,
    previous_boot: Callable[[], list[str]] = lambda: previous_boot_lines(PREVIOUS_BOOT_LINES),
) -> Path:
    """Write diagnostics into `folder/<device>-<UTC time>/`; return that folder.

    Files: summary.txt, logs.txt (the kiosk's units), previous-boot.txt (every unit and the
    kernel, up to the end of the boot before this one)."""
    when = now or datetime.now(UTC)
    target = folder / f"{device_id}-{when.strftime('%Y%m%dT%H%M%SZ')}"
    target.mkdir(parents=True, exist_ok=True)
    facts = {
        "device_id": device_id,
        "firmware_version": FIRMWARE_VERSION,
        "written_at": when.isoformat(),
        "uptime_s": _uptime(),
        "state_files": sorted(
            p.name for p in state_dir.iterdir() if p.is_file() and not _secret(p.name)
        )
        if state_dir.is_dir()
        else [],
    }
    summary = json.dumps(facts, indent=1) + "\n\n" + journal_summary(state_dir / "journal.sqlite3")
    site = state_dir / "site.toml"  # the applied site settings: secrets were removed from it
    if site.exists():
        summary += "\napplied site.toml:\n" + redact(site.read_text(errors="replace"))
    _write(target / "summary.txt", summary.encode("utf-8"))
    _write(target / "logs.txt", redact(logs()).encode("utf-8"))
    earlier = "".join(f"{line}\n" for line in previous_boot())
    _write(target / "previous-boot.txt", redact(earlier).encode("utf-8"))
    log.info("diagnostics written to %s", target)
    return target


def _write(path: Path, data: bytes) -> None:
    """A plain write and fsync: a FAT stick has no modes to set and the folder is new."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _secret(name: str) -> bool:
    return any(word in name for word in ("key", "credential", "token", "secret", "wpa"))


def _uptime() -> float | None:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
