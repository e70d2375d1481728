"""The retained status and the periodic heartbeat: what the tenant sees of a kiosk's health.

Platform readings (CPU temperature, under-voltage, free disk) come from /sys and statvfs and
are omitted when the platform does not expose them: a laptop running the simulator has no
``rpi_volt`` sensor, and the heartbeat says nothing rather than "no under-voltage".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.protocol import encode
from device.core.kiosk import KioskStatus, Mode

__all__ = [
    "HeartbeatSource",
    "cpu_temperature_c",
    "free_disk_mb",
    "status_payload",
    "undervoltage",
]

log = logging.getLogger(__name__)

THERMAL_ROOT = Path("/sys/class/thermal")
HWMON_ROOT = Path("/sys/class/hwmon")
# Raspberry Pi firmware's under-voltage flag, exposed by Debian's kernel as a hwmon sensor.
RPI_VOLT_SENSOR = "rpi_volt"
TEXT_MAX = 300  # the schema's bound on titles
ID_MAX = 200  # and on playlist and track ids


def status_payload(
    online: bool, *, firmware_version: str, boot_id: str, reason: str | None = None
) -> bytes:
    data: dict[str, Any] = {
        "v": 1,
        "online": online,
        "firmware_version": firmware_version,
        "boot_id": boot_id,
    }
    if reason is not None:
        data["reason"] = reason
    return encode("status", data)


def cpu_temperature_c(root: Path = THERMAL_ROOT) -> float | None:
    """The CPU's temperature in °C (the "cpu-thermal" zone, else the first zone), or None."""
    zones = sorted(root.glob("thermal_zone*"))
    if not zones:
        return None
    preferred = [z for z in zones if _read(z / "type") in ("cpu-thermal", "cpu_thermal")]
    for zone in preferred + zones:
        raw = _read(zone / "temp")
        try:
            return round(int(raw or "") / 1000, 1)
        except ValueError:
            continue
    return None


def undervoltage(root: Path = HWMON_ROOT) -> bool | None:
    """True while the supply is below its threshold; None when there is no rpi_volt sensor."""
    for sensor in sorted(root.glob("hwmon*")):
        if _read(sensor / "name") != RPI_VOLT_SENSOR:
            continue
        alarm = _read(sensor / "in0_lcrit_alarm")
        if alarm in ("0", "1"):
            return alarm == "1"
    return None


def free_disk_mb(path: Path) -> int | None:
    """Space left for an unprivileged writer on the file system holding `path`."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize // (1024 * 1024)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class HeartbeatSource:
    """Gathers one heartbeat from the kiosk's status snapshot and the platform.

    Every reader is a callable so that the link can be built before the kiosk and tests can
    point the /sys roots at a fake tree.
    """

    firmware_version: str
    state_dir: Path
    status: Callable[[], KioskStatus | None] = lambda: None
    outbox: Callable[[], int | None] = lambda: None
    desired_version: Callable[[], int | None] = lambda: None
    update: Callable[[], dict[str, Any]] = dict
    # "ok" or "missing" for the display panel, None where the kiosk has none by design
    panel: Callable[[], str | None] = lambda: None
    audio_ok: Callable[[], bool] = lambda: True  # False: no output plays (the tenant alerts)
    thermal_root: Path = THERMAL_ROOT
    hwmon_root: Path = HWMON_ROOT
    monotonic: Callable[[], float] = time.monotonic

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": 1,
            # CLOCK_MONOTONIC counts from boot: the kiosk's uptime, right even before NTP.
            "uptime_s": int(self.monotonic()),
            "firmware_version": self.firmware_version,
        }
        status = self._safely(self.status)
        if status is not None:
            data["playing"] = _playing(status)
            data["volume"] = max(0, min(100, status.volume))
            if status.output and self._safely(self.audio_ok) is not False:
                data["output"] = status.output[:200]  # absent: no audio (an alert at the tenant)
        panel = self._safely(self.panel)
        if panel in ("ok", "missing"):
            data["panel"] = panel
        content = _content(status, self._safely(self.desired_version))
        if content:
            data["content"] = content
        readings = {
            "outbox": self._safely(self.outbox),
            "free_disk_mb": free_disk_mb(self.state_dir),
            "cpu_temp_c": cpu_temperature_c(self.thermal_root),
            "undervoltage": undervoltage(self.hwmon_root),
        }
        data.update({key: value for key, value in readings.items() if value is not None})
        update = self._safely(self.update)
        if update:
            data["update"] = update
        return data

    def encoded(self) -> bytes:
        return encode("heartbeat", self.payload())

    @staticmethod
    def _safely(reader: Callable[[], Any]) -> Any:
        try:
            return reader()
        except Exception:
            log.exception("heartbeat: a reading failed and is omitted")
            return None


def _playing(status: KioskStatus) -> dict[str, Any] | None:
    if status.mode == Mode.IDLE or not status.track_id or not status.playlist_id:
        return None
    playing: dict[str, Any] = {
        "playlist_id": status.playlist_id[:ID_MAX],
        "track_id": status.track_id[:ID_MAX],
        "position_ms": max(0, status.position_ms),
    }
    if status.title:
        playing["title"] = status.title[:TEXT_MAX]
    if status.artist:
        playing["artist"] = status.artist[:TEXT_MAX]
    return playing


def _content(status: KioskStatus | None, desired_version: int | None) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if status is not None:
        content["playlists"] = max(0, status.playlists)
        content["tracks"] = max(0, status.tracks)
        if status.sync_state:
            content["sync"] = status.sync_state[:100]
    if desired_version is not None:
        content["desired_version"] = desired_version
    return content
