"""Weekly time windows ("mon-fri 10:00-19:00") for the core: the contract's grammar.

The grammar and its rules (overnight windows, ``24:00``) live in `contract.hours`, shared with
the tenant and the playlists document; the core uses them under these names.
"""

from __future__ import annotations

from contract.hours import (
    DAY_NAMES,
    MINUTES_PER_DAY,
    WeeklyWindow,
    WindowError,
    open_at,
    parse_days,
    parse_time,
    parse_window,
)

__all__ = [
    "DAY_NAMES",
    "MINUTES_PER_DAY",
    "WeeklyWindow",
    "WindowError",
    "open_at",
    "parse_days",
    "parse_time",
    "parse_window",
]
