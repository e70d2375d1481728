"""Weekly time windows ("mon-fri 10:00-19:00") and what they say about a local wall time.

Pure functions of a local `datetime`: the core decides when the clock may be trusted and in
which zone, this module only answers "is this instant inside". A window whose end is before its
start runs overnight (``fri 22:00-02:00`` covers Friday night until 2 in the morning on
Saturday); its days are the days on which it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_DAYS = re.compile(rf"{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*")
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")


class WindowError(ValueError):
    """A window that cannot be understood; the message says which part and why."""


@dataclass(frozen=True)
class WeeklyWindow:
    """Days of the week (0 = Monday) and minutes since midnight, `end` exclusive."""

    days: frozenset[int]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end < self.start

    def contains(self, local: datetime) -> bool:
        day, minute = local.weekday(), local.hour * 60 + local.minute
        if not self.overnight:
            return day in self.days and self.start <= minute < self.end
        return (day in self.days and minute >= self.start) or (
            (day - 1) % 7 in self.days and minute < self.end
        )

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {_clock(self.start)}-{_clock(self.end)}"


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``fri-mon`` (a range may wrap over the week-end)."""
    if not _DAYS.fullmatch(text):
        raise WindowError(f"expected days like 'mon-sat' or 'sat,sun', got {text[:40]!r}")
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = DAY_NAMES.index(first)
        stop = DAY_NAMES.index(last) if last else start
        days.update((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return frozenset(days)


def parse_time(text: str) -> int:
    """``HH:MM`` (``24:00`` allowed as an end) in minutes since midnight."""
    if not _TIME.fullmatch(text):
        raise WindowError(f"expected a time HH:MM, got {text[:40]!r}")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_window(days: str, start: str, end: str) -> WeeklyWindow:
    """One window from its three strings; the message of a WindowError names the field."""
    try:
        day_set = parse_days(days)
    except WindowError as exc:
        raise WindowError(f"days: {exc}") from None
    minutes = []
    for name, value in (("from", start), ("to", end)):
        try:
            minutes.append(parse_time(value))
        except WindowError as exc:
            raise WindowError(f"{name}: {exc}") from None
    first, last = minutes
    if first == MINUTES_PER_DAY:
        raise WindowError("from: 24:00 can only end a window; start it at 00:00")
    if first == last:
        raise WindowError(f"from and to are both {start}: the window would be empty")
    if last == 0:
        last = MINUTES_PER_DAY  # "22:00-00:00" ends at midnight, not overnight
    return WeeklyWindow(day_set, first, last)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02}:{minutes % 60:02}"
