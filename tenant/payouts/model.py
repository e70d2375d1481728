"""The inputs of a payout computation: plain frozen values a store (or a test) builds.

Nothing here reads a database or a clock. Every value checks itself when built and raises
`PayoutInputError` naming what is wrong (`track t-1: shares add up to 99.50 %, not 100 %`),
so a statement is never computed from bad input. Money is integer minor units; shares are
integer basis points (1/100 of a percent, 10,000 = 100 %); no float anywhere.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from tenant.payouts.currencies import is_currency

StartedBy = Literal["visitor", "autoplay", "schedule"]
EndReason = Literal["finished", "skipped", "stopped", "error", "interrupted"]
SplitMethod = Literal["plays", "listened"]

STARTED_BY: frozenset[str] = frozenset({"visitor", "autoplay", "schedule"})
END_REASONS: frozenset[str] = frozenset({"finished", "skipped", "stopped", "error", "interrupted"})
SPLIT_METHODS: frozenset[str] = frozenset({"plays", "listened"})
FULL_SHARE_BP = 10_000


class PayoutInputError(ValueError):
    """Bad input to a payout computation; the message names the item and the problem."""


@dataclass(frozen=True, slots=True)
class RightsHolder:
    """A label, producer or self-released artist. Payment details stay out of repr and logs."""

    id: str
    name: str
    contact: str = ""
    payment_details: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise PayoutInputError(f"rights holder {self.name!r}: id: must not be empty")


@dataclass(frozen=True, slots=True)
class Share:
    holder_id: str
    basis_points: int  # 1/100 of a percent: 10,000 = 100 %


@dataclass(frozen=True, slots=True)
class Track:
    """A track and who holds its rights. No shares = no known rights holder (unattributed)."""

    id: str
    isrc: str = ""
    artist: str = ""
    title: str = ""
    shares: tuple[Share, ...] = ()

    def __post_init__(self) -> None:
        if not self.shares:
            return
        holders = [share.holder_id for share in self.shares]
        if len(set(holders)) != len(holders):
            raise PayoutInputError(f"track {self.id}: shares: a rights holder is named twice")
        for share in self.shares:
            if isinstance(share.basis_points, bool) or not isinstance(share.basis_points, int):
                raise PayoutInputError(
                    f"track {self.id}: share of {share.holder_id}: basis points must be an integer"
                )
            if share.basis_points <= 0:
                raise PayoutInputError(
                    f"track {self.id}: share of {share.holder_id}: must be more than 0 %"
                )
        total = sum(share.basis_points for share in self.shares)
        if total != FULL_SHARE_BP:
            raise PayoutInputError(
                f"track {self.id}: shares add up to {total // 100}.{total % 100:02d} %, not 100 %"
            )


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span of play start times [start_ms, end_ms), in UTC milliseconds."""

    name: str
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise PayoutInputError(f"period {self.name}: ends before it starts")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """The calendar month in UTC, named `YYYY-MM` (the default period)."""
        start = datetime(year, month, 1, tzinfo=UTC)
        days = calendar.monthrange(year, month)[1]
        end_ms = int(start.timestamp() * 1000) + days * 86_400_000
        return cls(f"{year:04d}-{month:02d}", int(start.timestamp() * 1000), end_ms)

    def contains(self, played_ms: int) -> bool:
        return self.start_ms <= played_ms < self.end_ms


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a library (one site or a group of sites) pays for one period."""

    library: str
    sites: frozenset[str]
    period: str  # Period.name
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        where = f"subscription {self.library} ({self.period})"
        if not self.sites:
            raise PayoutInputError(f"{where}: sites: a library has at least one site")
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise PayoutInputError(f"{where}: amount: must be an integer in minor units")
        if self.amount_minor < 0:
            raise PayoutInputError(f"{where}: amount: {self.amount_minor} is negative")
        if not is_currency(self.currency):
            raise PayoutInputError(
                f"{where}: currency: {self.currency!r} is not an ISO 4217 currency code"
            )


@dataclass(frozen=True, slots=True)
class PayoutRules:
    """What counts as a paid stream and how a library's money is split; frozen per period."""

    counted_stream_ms: int = 30_000
    counted_started_by: frozenset[str] = frozenset({"visitor"})
    count_error_ended: bool = False
    split: SplitMethod = "plays"

    def __post_init__(self) -> None:
        if self.counted_stream_ms < 0:
            raise PayoutInputError("rules: counted_stream_ms: must not be negative")
        unknown = sorted(set(self.counted_started_by) - STARTED_BY)
        if unknown:
            raise PayoutInputError(
                f"rules: counted_started_by: unknown {', '.join(unknown)} "
                f"(expected some of {', '.join(sorted(STARTED_BY))})"
            )
        if self.split not in SPLIT_METHODS:
            raise PayoutInputError(
                f"rules: split: {self.split!r} is not one of {', '.join(sorted(SPLIT_METHODS))}"
            )

    def counts(self, play: CountedPlay) -> bool:
        """Whether `play` is a paid stream under these rules."""
        return (
            play.listened_ms >= self.counted_stream_ms
            and play.started_by in self.counted_started_by
            and (self.count_error_ended or play.end_reason != "error")
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "counted_stream_ms": self.counted_stream_ms,
            "counted_started_by": sorted(self.counted_started_by),
            "count_error_ended": self.count_error_ended,
            "split": self.split,
        }


@dataclass(frozen=True, slots=True)
class CountedPlay:
    """One play as the tenant stored it: a candidate, which the rules may or may not count.

    `played_ms` (when it started, wall time) chooses its period; `received_ms` (when the tenant
    stored it) tells whether it arrived before or after that period was closed.
    """

    event_id: str
    site: str
    track_id: str
    started_by: str
    end_reason: str
    listened_ms: int
    played_ms: int
    received_ms: int

    def problem(self) -> str | None:
        """What is wrong with this play, or None (checked while computing, not per build)."""
        if self.started_by not in STARTED_BY:
            return f"started_by: {self.started_by!r} is not one of {', '.join(sorted(STARTED_BY))}"
        if self.end_reason not in END_REASONS:
            return f"end_reason: {self.end_reason!r} is not one of {', '.join(sorted(END_REASONS))}"
        if self.listened_ms < 0:
            return f"listened_ms: {self.listened_ms} is negative"
        return None
