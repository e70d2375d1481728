"""RFC 3339 UTC text <-> integer milliseconds, the only time formats of the API and the store."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ms(moment: datetime) -> int:
    """A datetime (naive ones are taken as UTC) to whole-second milliseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000


def rfc3339(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> int:
    """`2026-07-01`, `2026-07-01T10:00`, `…Z` or `…+02:00` to milliseconds (naive = UTC)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    return to_ms(datetime.fromisoformat(value))
