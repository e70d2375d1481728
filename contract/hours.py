"""The weekly-hours grammar: ``mon-sat 10:00-19:00``, as tenant and kiosk both read it.

One window is three strings, as the contract sends them (``{"days": "mon-sat", "from":
"10:00", "to": "19:00"}``) or as a technician types them (``mon-sat 10:00-19:00``):

- days: ``mon``, ``mon-fri``, ``sat,sun``, ``tue,thu-sat``; a range may wrap over the week-end
  (``fri-mon``);
- times: ``HH:MM`` from ``00:00`` to ``23:59``, and ``24:00`` as an end; ``to`` before ``from``
  runs overnight (``fri 22:00-02:00`` covers Friday night until 2 in the morning on Saturday),
  and the window's days are the days on which it starts; ``to`` ``00:00`` means midnight.

Pure functions of a local `datetime`: the caller decides in which zone and whether the clock can
be trusted; this module only answers "is this wall time inside".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_DAYS = re.compile(rf"{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*")
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")


class WindowError(ValueError):
    """A window that cannot be understood; the message starts with the field (``days: …``)."""


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
        """Every day spelled out: ``mon,tue,wed 10:00-19:00`` (for logs and status)."""
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {clock(self.start)}-{clock(self.end)}"

    def format(self) -> str:
        """The shortest spec that parses back to this window: ``mon-sat 10:00-19:00``."""
        return f"{format_days(self.days)} {clock(self.start)}-{clock(self.end)}"

    def as_json(self) -> dict[str, str]:
        """The contract's form, ``{"days", "from", "to"}``."""
        return {"days": format_days(self.days), "from": clock(self.start), "to": clock(self.end)}


def parse_days(text: object) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``fri-mon`` (a range may wrap over the week-end)."""
    if not isinstance(text, str) or not _DAYS.fullmatch(text):
        shown = repr(text[:40]) if isinstance(text, str) else repr(text)
        raise WindowError(f"expected days like 'mon-sat' or 'sat,sun', got {shown}")
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = DAY_NAMES.index(first)
        stop = DAY_NAMES.index(last) if last else start
        days.update((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return frozenset(days)


def parse_time(text: object) -> int:
    """``HH:MM`` (``24:00`` allowed as an end) in minutes since midnight."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        shown = repr(text[:40]) if isinstance(text, str) else repr(text)
        raise WindowError(f"expected a time HH:MM, got {shown}")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def window_problems(days: object, start: object, end: object) -> list[str]:
    """Everything wrong with one window, each as ``field: problem``; empty when it is fine."""
    problems: list[str] = []
    for name, value, parse in (
        ("days", days, parse_days),
        ("from", start, parse_time),
        ("to", end, parse_time),
    ):
        try:
            parse(value)
        except WindowError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        return problems
    if start == "24:00":
        return ["from: 24:00 can only end a window; start it at 00:00"]
    if start == end:
        return [f"from and to are both {start}: the window would be empty"]
    return []


def parse_window(days: object, start: object, end: object) -> WeeklyWindow:
    """One window from its three strings; a WindowError's message names the field first."""
    problems = window_problems(days, start, end)
    if problems:
        raise WindowError(problems[0])
    first, last = parse_time(start), parse_time(end)
    if last == 0:
        last = MINUTES_PER_DAY  # "22:00-00:00" ends at midnight, not overnight
    return WeeklyWindow(parse_days(days), first, last)


def parse_spec(spec: str) -> WeeklyWindow:
    """``mon-sat 10:00-19:00``, as typed on a command line."""
    days, _, span = spec.strip().partition(" ")
    start, dash, end = span.strip().partition("-")
    if not (days and dash and start and end):
        raise WindowError(f"expected 'DAYS HH:MM-HH:MM' like 'mon-sat 10:00-19:00', got {spec!r}")
    return parse_window(days, start.strip(), end.strip())


def open_at(windows: Iterable[WeeklyWindow], local: datetime) -> bool:
    """Inside any of the windows at the local wall time; no window at all means always open."""
    listed = tuple(windows)
    return not listed or any(w.contains(local) for w in listed)


def format_days(days: Iterable[int]) -> str:
    """The shortest day list: ``mon-sat``, ``sat,sun``, ``fri-mon``, ``mon,wed``."""
    chosen = set(days)
    if len(chosen) == 7:
        return "mon-sun"
    if not chosen:
        raise ValueError("no days")
    first_gap = next(d for d in range(7) if d not in chosen)
    runs: list[list[int]] = []
    for step in range(1, 8):  # one turn of the week, starting after a day that is not chosen
        day = (first_gap + step) % 7
        if day not in chosen:
            continue
        if runs and (runs[-1][-1] + 1) % 7 == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in sorted(runs, key=lambda r: r[0]):
        names = [DAY_NAMES[d] for d in run]
        parts.append(f"{names[0]}-{names[-1]}" if len(names) > 2 else ",".join(names))
    return ",".join(parts)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02}:{minutes % 60:02}"
