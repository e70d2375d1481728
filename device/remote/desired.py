"""From a `state/desired` payload (already checked against its schema) to a `DesiredState`.

The schema checks types and formats; this adds what a schema cannot say (min not above max, a
window that is not empty, a featured or scheduled playlist that is among the assigned ones),
each problem naming its key like the schema's messages do.
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from pathlib import Path
from typing import Any

from contract.protocol import PayloadError, decode
from contract.protocol.payloads import MAX_PAYLOAD_BYTES
from device.core.desired import DesiredState, ScheduledPlaylist, VolumeLimits
from device.core.schedule import WeeklyWindow, WindowError, parse_window
from device.domain import PlaylistId, Sha256
from device.update.target import FirmwareTarget
from device.update.versions import parse_version

log = logging.getLogger(__name__)

STATE_FILE = "desired-state.json"  # in the state directory: the last applied desired state


class DesiredStateError(ValueError):
    """A desired state that fits the schema but cannot be applied; the message names the key."""


def desired_from_payload(data: dict[str, Any]) -> DesiredState:
    playlists = tuple(PlaylistId(p) for p in data["playlists"])
    assigned = set(playlists)
    featured = data.get("featured")
    if featured is not None and featured not in assigned:
        raise DesiredStateError(f"featured: {featured!r} is not one of the assigned playlists")
    volume = None
    if "volume" in data:
        low, high = data["volume"]["min"], data["volume"]["max"]
        if low > high:
            raise DesiredStateError(f"volume: min ({low}) is above max ({high})")
        volume = VolumeLimits(low, high)
    hours = tuple(
        _window(f"opening_hours[{i}]", entry)
        for i, entry in enumerate(data.get("opening_hours", []))
    )
    schedule = []
    for i, entry in enumerate(data.get("schedule", [])):
        if entry["playlist"] not in assigned:
            raise DesiredStateError(
                f"schedule[{i}].playlist: {entry['playlist']!r} is not an assigned playlist"
            )
        schedule.append(
            ScheduledPlaylist(PlaylistId(entry["playlist"]), _window(f"schedule[{i}]", entry))
        )
    timezone = data.get("timezone")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            problem = f"timezone: {timezone!r} is not a time zone this kiosk knows"
            raise DesiredStateError(problem) from None
    idle_timeout_s = data.get("idle_timeout_s")
    return DesiredState(
        language=data.get("language"),
        autoplay=data.get("autoplay"),
        idle_timeout_s=float(idle_timeout_s) if idle_timeout_s is not None else None,
        version=data["version"],
        playlists=playlists,
        featured=PlaylistId(featured) if featured is not None else None,
        volume=volume,
        opening_hours=hours,
        schedule=tuple(schedule),
        timezone=timezone,
        when_closed=data.get("when_closed"),
    )


def firmware_from_payload(data: dict[str, Any]) -> FirmwareTarget | None:
    """The `firmware` entry (schema-checked), or None when the tenant names none."""
    entry = data.get("firmware")
    if entry is None:
        return None
    try:
        parse_version(entry["version"], what="firmware.version")
    except ValueError as exc:
        raise DesiredStateError(str(exc)) from None
    if ".." in entry["path"].split("/"):
        raise DesiredStateError(f"firmware.path: {entry['path']!r} climbs out of the tenant")
    return FirmwareTarget(
        version=entry["version"],
        path=entry["path"],
        sha256=Sha256(entry["sha256"]),
        size=entry["size"],
        allow_downgrade=entry.get("allow_downgrade", False),
    )


def _window(key: str, entry: dict[str, Any]) -> WeeklyWindow:
    try:
        return parse_window(entry["days"], entry["from"], entry["to"])
    except WindowError as exc:
        raise DesiredStateError(f"{key}.{exc}") from None


SavedState = tuple[DesiredState, FirmwareTarget | None]


def load_saved(path: Path) -> SavedState | None:
    """The desired state saved last time and its firmware entry; None when there is none.

    A broken or unreadable file is logged and ignored: the kiosk plays without it. Read by
    remote administration and, before the link has started, by the daemon (device/daemon.py),
    so that the very first autoplay already follows it.
    """
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("cannot read the saved desired state %s: %s", path, exc)
        return None
    try:
        data = decode("desired-state", payload)
        return desired_from_payload(data), firmware_from_payload(data)
    except (PayloadError, DesiredStateError) as exc:
        log.error("ignoring the saved desired state %s: %s", path, exc)
        return None


def peek(payload: bytes, key: str) -> object:
    """`key` of a payload that failed its checks, if it is a JSON object at all (else None).

    Used only to echo a request id or a version in the answer to a refused message; an
    oversized payload is not even parsed.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are both
        return None
    return data.get(key) if isinstance(data, dict) else None
