"""The `diagnostics` command's answer: recent log lines, a summary of the kiosk's state, and
the last lines of the boot before this one (device/platform/boot_log.py).

Everything is turned into plain JSON values and scrubbed of secrets (the log lines already are,
by RecentLogs), and the answer is cut to fit one MQTT payload: the oldest lines go first.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.protocol.payloads import MAX_PAYLOAD_BYTES
from device.platform.logs import scrub

# Room left for the envelope (request id, command...) inside the protocol's payload limit.
RESULT_BUDGET_BYTES = MAX_PAYLOAD_BYTES - 8 * 1024


def plain(value: object, depth: int = 0) -> Any:
    """A JSON value for `value`: dataclasses and mappings become objects, enums their value,
    anything unknown its text. Strings are scrubbed of anything that looks like a secret."""
    if depth > 8:
        return "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value, depth + 1)
    if isinstance(value, str):
        return scrub(value).encode("utf-8", "replace").decode()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, Path):
        return str(value)
    return plain(str(value), depth + 1)


def versions(firmware_version: str) -> dict[str, str]:
    return {
        "firmware": firmware_version,
        "protocol": "1",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def fit(
    log: list[str],
    state: dict[str, Any],
    budget: int = RESULT_BUDGET_BYTES,
    previous_boot: list[str] | None = None,
) -> dict[str, Any]:
    """`{"log": [...], "state": {...}, "previous_boot": [...]}` no larger than `budget` bytes
    of JSON, dropping the oldest lines first (the state summary is small and always kept).
    The previous boot's lines take at most a third of the room: this boot's come first."""
    room = budget - len(json.dumps(state, ensure_ascii=False).encode()) - 64
    earlier: list[str] = []
    if previous_boot is not None:
        earlier, used = _tail(previous_boot, room // 3)
        room -= used + 64
    kept, _ = _tail(log, room)
    result: dict[str, Any] = {"log": kept, "state": state}
    if len(kept) < len(log):
        result["log_dropped"] = len(log) - len(kept)
    if previous_boot is not None:
        result["previous_boot"] = earlier
        if len(earlier) < len(previous_boot):
            result["previous_boot_dropped"] = len(previous_boot) - len(earlier)
    return result


def _tail(lines: list[str], room: int) -> tuple[list[str], int]:
    """The newest `lines` whose JSON fits in `room` bytes, and the bytes they take."""
    used = 0
    start = len(lines)
    while start > 0:
        size = len(json.dumps(lines[start - 1], ensure_ascii=False).encode()) + 1
        if used + size > room:
            break
        used += size
        start -= 1
    return lines[start:], used
