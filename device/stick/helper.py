"""The privileged half of the technician stick: mount, apply site settings, diagnostics, unmount.

Run as root by systemd/jukebox-stick@.service (`jukebox stick attach sda1`) when udev sees
a USB partition with a filesystem; the sandboxed daemon can neither mount nor write the
Wi-Fi settings, so this small helper does exactly that and no more:

1. mount the partition read-only (``ro,nosuid,nodev,noexec``) at ``STICK_ROOT/<name>``;
   a stick without a ``jukebox/`` folder is unmounted again and left alone;
2. check everything on it (device/stick/contents.py) and refuse the whole stick if anything
   is wrong, else apply its site.toml exactly as first boot does, and keep its kiosk.toml
   as STATE/kiosk.toml (the daemon lays it over its configuration at once);
3. publish the verdict (``STICK_ROOT/<name>.json``) and, when the stick carries a content
   pack, wait for the daemon to import it (``STATE_DIR/stick/<name>.done``);
4. if asked, remount read-write and write the diagnostics; unmount; verdict state "done".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from contract.files import atomic_write
from contract.site import SiteConfig, SiteConfigError
from device.display.texts import Phrase, phrase
from device.firstboot.apply import apply_kiosk_settings, apply_site_config, check_site_config
from device.identity.credentials import load_credentials
from device.stick.contents import StickRefused, inspect_stick, is_technician_stick
from device.stick.diagnostics import recent_logs, write_diagnostics
from device.stick.layout import (
    DIAGNOSTICS_DIR,
    MOUNT_OPTIONS,
    STICK_ROOT,
    Verdict,
    ack_path,
    mount_point,
    phrases,
    valid_kernel_name,
    verdict_path,
)

__all__ = [
    "ALLOWED_FILESYSTEMS",
    "Mounter",
    "SystemMounter",
    "attach",
    "settings_lines",
    "site_lines",
]

log = logging.getLogger(__name__)

ALLOWED_FILESYSTEMS = ("vfat", "exfat", "ext4", "ext3", "ext2")
_FAT = ("vfat", "exfat")


class Mounter(Protocol):
    def fs_type(self, node: Path) -> str: ...

    def mount(self, node: Path, point: Path, fs_type: str, options: str) -> None: ...

    def remount(self, point: Path, options: str) -> None: ...

    def unmount(self, point: Path) -> None: ...


class SystemMounter:
    """mount(8), umount(8) and blkid(8); raises OSError with their message."""

    def fs_type(self, node: Path) -> str:
        done = self._run(["blkid", "-o", "value", "-s", "TYPE", str(node)], check=False)
        return done.stdout.strip()

    def mount(self, node: Path, point: Path, fs_type: str, options: str) -> None:
        self._run(["mount", "-t", fs_type, "-o", options, str(node), str(point)])

    def remount(self, point: Path, options: str) -> None:
        self._run(["mount", "-o", f"remount,{options}", str(point)])

    def unmount(self, point: Path) -> None:
        self._run(["umount", str(point)])

    @staticmethod
    def _run(command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OSError(f"{command[0]}: {exc}") from exc
        if check and done.returncode != 0:
            raise OSError(f"{' '.join(command)}: {done.stderr.strip() or done.returncode}")
        return done


def _options(fs_type: str, read_only: bool, owner: tuple[int, int]) -> str:
    """FAT has no owners: give the files to the daemon's group, readable, never executable."""
    base = MOUNT_OPTIONS if read_only else MOUNT_OPTIONS.replace("ro,", "rw,", 1)
    if fs_type in _FAT:
        base += f",uid=0,gid={owner[1]},fmask=0137,dmask=0027"
    return base


def site_lines(site: SiteConfig) -> tuple[Phrase, ...]:
    wifi = phrase("wifi_line", ssid=site.wifi.ssid) if site.wifi else phrase("wired_network")
    return (
        phrase("site_line", site=site.site, name=site.device_name),
        phrase("tenant_line", url=site.tenant_url),
        wifi,
        phrase("restart_to_use"),
    )


def settings_lines(document: Mapping[str, Any]) -> tuple[Phrase, ...]:
    """What a kiosk.toml sets, one line per section (as contract's describe_kiosk_document)."""
    lines = []
    for name in sorted(document):
        value = document[name]
        if isinstance(value, list):
            lines.append(phrase("settings_count", section=name, count=len(value)))
        elif isinstance(value, dict) and value:
            given = ", ".join(f"{key} = {value[key]!r}" for key in sorted(value))
            lines.append(phrase("settings_values", section=name, values=given))
        elif isinstance(value, dict):
            lines.append(phrase("settings_defaults", section=name))
    return tuple(lines)


def attach(
    device: str,
    *,
    state_dir: Path,
    stick_root: Path = STICK_ROOT,
    dev_dir: Path = Path("/dev"),
    mounter: Mounter | None = None,
    logs: Callable[[], str] = recent_logs,
    ack_timeout_s: float = 1800.0,
    poll_s: float = 0.25,
) -> Verdict | None:
    """Handle the partition `device` (a kernel name like "sda1"); None if it is no stick of ours."""
    if not valid_kernel_name(device):
        raise ValueError(f"not a kernel device name: {device!r}")
    mounter = mounter or SystemMounter()
    node = dev_dir / device
    fs_type = mounter.fs_type(node)
    if fs_type not in ALLOWED_FILESYSTEMS:
        log.info("%s: filesystem %r is not one a stick may use; left alone", node, fs_type)
        return None
    state = state_dir.stat()
    owner = (state.st_uid, state.st_gid)
    stick_root.mkdir(mode=0o750, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(stick_root, 0, owner[1])
    with contextlib.suppress(FileNotFoundError):  # an earlier stick's, by the same name
        verdict_path(stick_root, device).unlink()
    point = mount_point(stick_root, device)
    point.mkdir(mode=0o750, exist_ok=True)
    try:
        mounter.mount(node, point, fs_type, _options(fs_type, True, owner))
    except OSError as exc:
        log.error("%s: cannot mount it read-only: %s", node, exc)
        point.rmdir()
        return None
    verdict: Verdict | None = None
    try:
        if not is_technician_stick(point):
            log.info("%s: no jukebox/ folder, not a technician stick", node)
            return None
        verdict = _handle(device, point, state_dir, stick_root, mounter, fs_type, owner, logs,
                          ack_timeout_s, poll_s)  # fmt: skip
    finally:
        _unmount(mounter, point)
        if verdict is not None:  # "refused" or "done": either way it can be pulled out now
            _publish(stick_root, verdict, owner)
    return verdict


def _handle(
    device: str,
    point: Path,
    state_dir: Path,
    stick_root: Path,
    mounter: Mounter,
    fs_type: str,
    owner: tuple[int, int],
    logs: Callable[[], str],
    ack_timeout_s: float,
    poll_s: float,
) -> Verdict:
    credentials = load_credentials(state_dir)
    try:
        contents = inspect_stick(point, credentials)
        if contents.site is not None:
            check_site_config(contents.site, state_dir, str(point / "jukebox" / "site.toml"))
    except (StickRefused, SiteConfigError) as exc:
        found = exc.problems if isinstance(exc, StickRefused) else (str(exc),)
        problems = [p.replace(f"{point}/", "") for p in found]  # "jukebox/site.toml: …"
        log.error("stick %s refused, nothing changed: %s", device, "; ".join(problems))
        return Verdict(device, "refused", problems=tuple(problems))
    site: tuple[Phrase, ...] = ()
    if contents.site is not None:
        written = apply_site_config(contents.site, state_dir, str(contents.folder / "site.toml"))
        site = site_lines(contents.site) if written else (phrase("site_unchanged"),)
        log.info("stick %s: site settings applied (%d file(s) written)", device, len(written))
    settings: tuple[Phrase, ...] = ()
    if contents.kiosk is not None:
        written = apply_kiosk_settings(contents.kiosk, state_dir)
        described = settings_lines(contents.kiosk_document or {})
        settings = described if written else (phrase("kiosk_unchanged"),)
        log.info("stick %s: kiosk settings kept (%d file(s) written)", device, len(written))
    verdict = Verdict(
        device,
        "ready",
        site=site,
        settings=settings,
        pack=contents.pack is not None,
        diagnostics=contents.diagnostics,
    )
    _publish(stick_root, verdict, owner)
    notes: tuple[Phrase, ...] = ()
    if contents.pack is not None:
        notes = _wait_for_daemon(ack_path(state_dir, device), ack_timeout_s, poll_s)
    if contents.diagnostics:
        device_id = credentials.device_id if credentials else "kiosk"
        try:
            mounter.remount(point, _options(fs_type, False, owner))
            written_to = write_diagnostics(
                contents.folder / DIAGNOSTICS_DIR, state_dir, device_id, logs
            )
            mounter.remount(point, _options(fs_type, True, owner))
            where = written_to.relative_to(point)
            verdict = replace(verdict, written=phrase("diagnostics_in", path=where))
        except OSError as exc:
            log.error("stick %s: diagnostics not written: %s", device, exc)
            verdict = replace(verdict, written=phrase("diagnostics_not_written", error=exc))
    with contextlib.suppress(FileNotFoundError):
        ack_path(state_dir, device).unlink()
    return replace(verdict, state="done", notes=notes)


def _publish(stick_root: Path, verdict: Verdict, owner: tuple[int, int]) -> None:
    path = verdict_path(stick_root, verdict.device)
    atomic_write(path, verdict.to_json(), mode=0o640)
    if os.geteuid() == 0:
        os.chown(path, 0, owner[1])


def _wait_for_daemon(path: Path, timeout_s: float, poll_s: float) -> tuple[Phrase, ...]:
    """The daemon's answer once it imported the pack (or gave up), or that it did not answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            answer = json.loads(path.read_bytes())
            return phrases(answer.get("lines", []))
        except (FileNotFoundError, ValueError, AttributeError, RecursionError):
            time.sleep(poll_s)
    log.warning("the kiosk did not take the content pack within %.0f s", timeout_s)
    return (phrase("kiosk_no_answer"),)


def _unmount(mounter: Mounter, point: Path) -> None:
    for attempt in range(10):
        try:
            mounter.unmount(point)
            break
        except OSError as exc:
            if attempt == 9:
                log.error("cannot unmount %s: %s", point, exc)
                return
            time.sleep(0.5)  # the daemon may still be closing a file
    with contextlib.suppress(OSError):
        point.rmdir()
