"""RFC 3339 UTC text <-> integer milliseconds, the only time formats of the API and the store.

Only moments that are inside years 0001 to 9999 once in UTC are accepted: Python's datetime
cannot show any other, so `0001-01-01T00:00:00+14:00` (year 0 in UTC) or the end of the day
`9999-12-31` (year 10000) would be stored and then fail every answer that shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FIRST_MS", "LAST_MS", "OutOfCalendar", "check_ms", "parse_rfc3339", "rfc3339", "to_ms"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
LAST_MS = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


class OutOfCalendar(ValueError):
    """A moment before 0001-01-01T00:00:00Z or after 9999-12-31T23:59:59Z."""


def check_ms(ms: int, text: str | None = None) -> int:
    """`ms` itself, or OutOfCalendar naming `text` (what the user wrote) when it cannot be shown."""
    if not FIRST_MS <= ms <= LAST_MS:
        raise _out_of_calendar(text if text is not None else f"{ms} ms")
    return ms


def _out_of_calendar(text: str) -> OutOfCalendar:
    return OutOfCalendar(
        f"{text} is outside the years 0001 to 9999 in UTC "
        "(0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
    )


def to_ms(moment: datetime) -> int:
    """A datetime (naive ones are taken as UTC) to whole-second milliseconds; OutOfCalendar."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - _EPOCH) // timedelta(seconds=1)  # floors, also before 1970
    return check_ms(seconds * 1000, moment.isoformat())


def rfc3339(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"  # year 1 as 0001


def parse_rfc3339(text: str) -> int:
    """`2026-07-01`, `2026-07-01T10:00`, `…Z` or `…+02:00` to milliseconds (naive = UTC).

    Raises ValueError for text that is not such a moment, OutOfCalendar (one) past the years
    0001 to 9999 in UTC.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return to_ms(datetime.fromisoformat(value))
    except OutOfCalendar:
        raise _out_of_calendar(text.strip()) from None
