"""What the update machinery knows, kept as small JSON files under ``STATE_DIR/update/``.

Three writers, one file each, so no file has two writers:

- ``request.json``: the daemon (unprivileged) asks for an install of a downloaded bundle;
- ``install.json``: the root installer (`jukebox update install`, jukebox-update.service)
  says how far it got and why it stopped, with the slots as RAUC sees them;
- ``health.json``: the health gate (`jukebox update health`, root, every boot) says whether
  the booted slot was committed or rolled back, and why.

`update_report` merges them into the ``update`` object of the reported state and heartbeat
(contract/protocol/schemas). Unreadable files count as absent: a report never fails.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from contract.files import atomic_write

log = logging.getLogger(__name__)

FOLDER = "update"
REQUEST = "request.json"
INSTALL = "install.json"
HEALTH = "health.json"

# Phases, in the order an update goes through them (reported as `update.phase`).
DOWNLOADING = "downloading"
DOWNLOADED = "downloaded"
INSTALLING = "installing"
INSTALLED = "installed"  # in the other slot; the reboot waits for a safe moment
REBOOTING = "rebooting"
COMMITTED = "committed"
ROLLED_BACK = "rolled_back"
FAILED = "failed"  # download or install failed; retried
REFUSED = "refused"  # bundle refused (signature, tenant, version): not retried
PHASES = (DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, REBOOTING, COMMITTED, ROLLED_BACK,
          FAILED, REFUSED)  # fmt: skip
MAX_TEXT = 300


def folder(state_dir: Path) -> Path:
    return Path(state_dir) / FOLDER


def read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("%s: unreadable, ignored: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, data: dict[str, Any]) -> None:
    """Atomically, readable by the daemon when root writes it (0644 in the kiosk's folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, sort_keys=True).encode(), mode=0o644)


def update_report(state_dir: Path, daemon: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``update`` object: slots and booted slot, then the latest phase and result.

    `daemon` is the client's own phase (downloading…), newer than an install record only when
    it names another target.
    """
    base = folder(state_dir)
    install, health = read(base / INSTALL), read(base / HEALTH)
    report: dict[str, Any] = {}
    for record in (health, install):
        if record and isinstance(record.get("slots"), list):
            report["slots"] = [_slot(s) for s in record["slots"][:4] if isinstance(s, dict)]
            if isinstance(record.get("booted"), str):
                report["booted"] = record["booted"][:8]
            break
    latest = _latest(install, health, daemon)
    if latest is not None:
        if latest.get("phase") in PHASES:
            report["phase"] = latest["phase"]
        if isinstance(latest.get("target"), str):
            report["target"] = latest["target"][:64]
        progress = latest.get("progress")
        if isinstance(progress, int) and not isinstance(progress, bool) and 0 <= progress <= 100:
            report["progress"] = progress
        if isinstance(latest.get("result"), str):
            report["result"] = latest["result"][:MAX_TEXT]
    return report


def _latest(*records: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record with the highest sequence number (`seq`: one more than any on disk when it
    was written; the wall clock is unreliable before NTP)."""
    present = [r for r in records if r]
    return max(present, key=lambda r: r.get("seq", 0) if isinstance(r.get("seq"), int) else 0,
               default=None)  # fmt: skip


def next_seq(state_dir: Path) -> int:
    """One more than any record's sequence number."""
    base = folder(state_dir)
    seqs = [0]
    for name in (REQUEST, INSTALL, HEALTH):
        record = read(base / name)
        if record and isinstance(record.get("seq"), int):
            seqs.append(record["seq"])
    return max(seqs) + 1


def judged_seq(health: dict[str, Any]) -> int:
    """The sequence number of the last install record the health gate had seen when it wrote
    its verdict (``install_seq``; older records: the verdict's own ``seq``). An install record
    newer than that is news to the gate, even if the verdict was written after it: the gate
    reads install.json when it starts and may wait minutes for RAUC before it writes."""
    value = health.get("install_seq", health.get("seq", 0))
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def booted_version(record: dict[str, Any]) -> str | None:
    """The booted slot's bundle version in a record with slots (what RAUC installed there):
    the version the kiosk runs, as updates count it; None for a slot from the card's image."""
    booted = record.get("booted")
    for slot in record.get("slots") or []:
        if isinstance(slot, dict) and slot.get("name") == booted:
            version = slot.get("version")
            return version if isinstance(version, str) else None
    return None


def _slot(data: dict[str, Any]) -> dict[str, Any]:
    slot: dict[str, Any] = {"name": str(data.get("name", "?"))[:8]}
    for key in ("version", "state"):
        if isinstance(data.get(key), str):
            slot[key] = data[key][:64]
    return slot
