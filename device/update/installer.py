"""The root side of an install: `jukebox update install`, run by jukebox-update.service.

The daemon cannot install (it runs unprivileged in a sandbox); it downloads the bundle into
``STATE_DIR/update/`` and writes ``request.json`` there; jukebox-update.path sees it and
starts this. Steps: verify the bundle (`Updater.inspect`: signature and bytes), judge it
(`versions.check_bundle`: this network's, newer, or an allowed downgrade), `rauc install`
into the inactive slot, record each step in ``install.json``. The request is removed when the
bundle was installed, refused or failed (the daemon asks again after a while, so the path
unit does not loop); a power cut mid-install leaves it, so the unit starts again at boot
(the path unit sees it) and the install starts over into the same inactive slot, which RAUC
marked bad before writing to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.platform.info import boot_id
from device.update import status
from device.update.rauc import InstallFailed, Updater
from device.update.versions import UpdateRefused, check_bundle

log = logging.getLogger(__name__)


def run_install(
    state_dir: Path, updater: Updater, *, compatible: str, running: str
) -> dict[str, Any]:
    """One attempt at the pending request; the final record (also written to install.json)."""
    base = status.folder(state_dir)
    request = status.read(base / status.REQUEST)
    if request is None:
        log.info("no update request in %s", base)
        return {}
    target = str(request.get("version", ""))[:64]

    def record(phase: str, result: str = "", progress: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"phase": phase, "target": target, "seq": status.next_seq(state_dir)}
        data["boot_id"] = boot_id()  # a later boot knows it has booted the slot since
        if result:
            data["result"] = result[: status.MAX_TEXT]
        if progress is not None:
            data["progress"] = progress
        try:
            data.update(updater.slots().as_json())
        except InstallFailed as exc:
            log.warning("slots unknown: %s", exc)
        status.write(base / status.INSTALL, data)
        return data

    bundle = (base / str(request.get("bundle", ""))).resolve()
    inside = bundle.is_relative_to(base.resolve()) and not bundle.is_symlink()
    if not request.get("bundle") or not inside or not bundle.is_file():
        (base / status.REQUEST).unlink(missing_ok=True)
        return record(status.REFUSED, f"request.json: bundle {request.get('bundle')!r} not found")
    record(status.INSTALLING, "verifying the bundle", 0)
    try:
        booted = updater.slots()
        running = next(
            (s.version for s in booted.slots if s.name == booted.booted and s.version), running
        )  # a slot RAUC installed knows its bundle's version; the card's image does not
        info = updater.inspect(bundle)
        check_bundle(
            info,
            compatible=compatible,
            running=running,
            expected_version=target or None,
            allow_downgrade=request.get("allow_downgrade") is True,
        )
    except UpdateRefused as exc:
        log.error("update %s refused: %s", target, exc)
        (base / status.REQUEST).unlink(missing_ok=True)
        return record(status.REFUSED, str(exc))
    except InstallFailed as exc:
        (base / status.REQUEST).unlink(missing_ok=True)  # the daemon asks again later
        return record(status.FAILED, str(exc))
    last = [-1]

    def progress(percent: int, line: str) -> None:
        if percent >= last[0] + 10 or percent == 100:  # a record every 10 %: few SD writes
            last[0] = percent
            log.info("installing %s: %d%% %s", target, percent, line)
            record(status.INSTALLING, line, percent)

    try:
        updater.install(bundle, progress)
    except InstallFailed as exc:
        log.error("update %s: install failed: %s", target, exc)
        (base / status.REQUEST).unlink(missing_ok=True)  # no loop: the daemon asks again later
        return record(status.FAILED, str(exc))
    log.info("update %s installed in the other slot", target)
    # The record first (it asks `rauc status`: seconds on a slow card), then the request goes:
    # the daemon, seeing neither a request nor an `installed` record, would ask again, and its
    # reboot would come in the middle of that second install (found by ota-test good).
    done = record(status.INSTALLED, "installed in the other slot; reboot at a safe moment", 100)
    (base / status.REQUEST).unlink(missing_ok=True)
    bundle.unlink(missing_ok=True)  # the slot holds it now; the data partition needs the room
    return done


def read_compatible(system_conf: Path) -> str:
    """`compatible=` of RAUC's system.conf ([system] section)."""
    section = ""
    for raw in system_conf.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[system]" and line.startswith("compatible="):
            return line.split("=", 1)[1].strip()
    raise ValueError(f"{system_conf}: [system] has no compatible=")


Install = Callable[[Path, Updater], dict[str, Any]]
