"""The system clock: monotonic for durations, wall time for reports, and whether NTP synced."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from pathlib import Path

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")


class SystemClock:
    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(name, use_errno=True) if name else None

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_time_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def is_synced(self) -> bool:
        """Asks the kernel (adjtimex), which knows whether NTP disciplined the clock."""
        if TIMESYNCD_FLAG.exists():
            return True
        if self._libc is None:
            return False
        buffer = ctypes.create_string_buffer(512)  # larger than struct timex on every arch
        state = int(self._libc.adjtimex(buffer))
        return state not in (-1, TIME_ERROR)
