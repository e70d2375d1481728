"""The `diagnostics` command's answer: recent log lines and a summary of the kiosk's state.

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


def fit(log: list[str], state: dict[str, Any], budget: int = RESULT_BUDGET_BYTES) -> dict[str, Any]:
    """`{"log": [...], "state": {...}}` no larger than `budget` bytes of JSON, dropping the
    oldest lines first (the state summary is small and always kept)."""
    sizes = [len(json.dumps(line, ensure_ascii=False).encode()) + 1 for line in log]
    room = budget - len(json.dumps(state, ensure_ascii=False).encode()) - 64
    kept = len(log)
    total = sum(sizes)
    while kept and total > room:
        kept -= 1
        total -= sizes[len(log) - kept - 1]
    result: dict[str, Any] = {"log": log[len(log) - kept :], "state": state}
    if kept < len(log):
        result["log_dropped"] = len(log) - kept
    return result
