"""Firmware rollouts: which kiosks get a version, and when a rollout stops by itself.

A rollout names a version and its kiosks (a site, a list, or a percentage of the network);
each kiosk's desired state then carries the `firmware` entry and its reported state says how
it went (`update.phase`). `pause_verdict` is the safety rule: once more than
`max_rollback_percent` of the kiosks that reached a verdict came back on their old slot (or
refused the bundle), the rollout pauses, so a bad version stops spreading with no one
watching. Pure functions over counts; integers only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

MAX_ROLLBACK_PERCENT = 10  # the default share of rollbacks that pauses a rollout
FAILED_PHASES = frozenset({"rolled_back", "refused"})
DONE_PHASES = frozenset({"committed"})


@dataclass(frozen=True)
class Tally:
    """Where the rollout's kiosks are: committed, failed (rolled back or refused), pending."""

    committed: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        return self.committed + self.failed


def tally(phases: Iterable[str | None]) -> Tally:
    """Count each targeted kiosk's last reported `update.phase` (None: nothing reported yet)."""
    committed = failed = pending = 0
    for phase in phases:
        if phase in DONE_PHASES:
            committed += 1
        elif phase in FAILED_PHASES:
            failed += 1
        else:
            pending += 1
    return Tally(committed, failed, pending)


@dataclass(frozen=True)
class PauseVerdict:
    pause: bool
    reason: str


def pause_verdict(counts: Tally, max_rollback_percent: int = MAX_ROLLBACK_PERCENT) -> PauseVerdict:
    """Pause when failed / decided is above the share (compared as integers: no rounding)."""
    if not 0 <= max_rollback_percent <= 100:
        raise ValueError(f"max_rollback_percent: {max_rollback_percent} is not 0 to 100")
    share = f"{counts.failed} of {counts.decided} kiosks rolled back or refused"
    if counts.failed * 100 > max_rollback_percent * counts.decided:
        return PauseVerdict(True, f"{share}: above {max_rollback_percent} %, rollout paused")
    return PauseVerdict(False, f"{share}: within {max_rollback_percent} %")


def in_percent(device_id: str, version: str, percent: int) -> bool:
    """Whether a kiosk is in a `--percent N` rollout: a stable hash of device and version, so
    raising N only adds kiosks and each version picks its own first kiosks."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent: {percent} is not 0 to 100")
    digest = hashlib.sha256(f"{version}\0{device_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent
