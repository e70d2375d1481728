"""Sync progress reaches the screen a few times a second at most, state changes at once."""

from __future__ import annotations

from device.events import Event, SyncProgress
from device.sync.syncer import _Progress


def test_byte_counts_are_throttled_but_state_changes_are_not() -> None:
    posted: list[Event] = []
    progress = _Progress(posted.append, every_s=0.25)
    progress.post(SyncProgress("downloading", files_total=3, bytes_total=3000), force=True)
    for done in range(1, 3001):
        progress.post(SyncProgress("downloading", bytes_done=done, bytes_total=3000))
    progress.post(SyncProgress("complete"))
    progress.post(SyncProgress("complete"))
    states = [e.state for e in posted if isinstance(e, SyncProgress)]
    assert states == ["downloading", "complete"]
