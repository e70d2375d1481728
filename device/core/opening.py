"""When a set of weekly windows opens next, and how the screen says it ("back at 10:00").

Windows are read in local wall time (the site's time zone), so a window starting at 10:00
opens at 10:00 on both sides of a daylight-saving change; a start that does not exist that
day (02:30 on the last Sunday of March in Paris) is taken as the moment after the gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from contract.hours import MINUTES_PER_DAY, WeeklyWindow, clock
from device.display.texts import Texts

DAYS_AHEAD = 8  # every weekly window starts within a week


def next_opening(windows: Iterable[WeeklyWindow], now: datetime) -> datetime | None:
    """The first window start after `now` (aware, in the zone of the windows); None if none."""
    zone = now.tzinfo
    best: datetime | None = None
    for offset in range(DAYS_AHEAD):
        day = now.date() + timedelta(days=offset)
        for window in windows:
            if day.weekday() not in window.days or window.start >= MINUTES_PER_DAY:
                continue
            hour, minute = divmod(window.start, 60)
            wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            moment = wall.astimezone(UTC).astimezone(zone)  # a wall time in a DST gap moves on
            if moment > now and (best is None or moment < best):
                best = moment
    return best


def describe_moment(texts: Texts, moment: datetime, now: datetime) -> str:
    """ "10:00" today, "tue 10:00" within the week, in the screen's language."""
    at = clock(moment.hour * 60 + moment.minute)
    if moment.date() == now.date():
        return at
    return f"{texts.weekdays.split()[moment.weekday()]} {at}"
