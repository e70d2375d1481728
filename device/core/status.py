"""The kiosk's read-only status snapshot, rebuilt by the core after every event and tick.

`KioskStatus` is what the control socket, the heartbeats, remote diagnostics and tests read
from other threads: a frozen value, so handing it across threads needs no lock.
`status_after` is a pure function of the previous snapshot and the core's state now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from device.core.accounting import Play
from device.display.texts import EN, Texts
from device.domain import PlaylistId
from device.events import EnrollmentChanged, SyncProgress


class Mode(StrEnum):
    IDLE = "idle"
    PLAYING = "playing"
    PAUSED = "paused"


@dataclass(frozen=True)
class KioskStatus:
    """A read-only snapshot for the control socket, heartbeats and tests."""

    mode: Mode = Mode.IDLE
    playlist_id: str | None = None
    playlist: str | None = None
    track_id: str | None = None
    title: str | None = None
    artist: str | None = None
    position_ms: int = 0
    volume: int = 0
    screen: str = "BootScreen"
    display_asleep: bool = False
    plays_started: int = 0
    errors: tuple[str, ...] = ()
    tenant_state: str | None = None
    claim_code: str | None = None
    sync_state: str | None = None
    output: str | None = None  # the active audio output, as the technician screen names it
    playlists: int = 0  # in the library now
    tracks: int = 0  # of those, available (verified in the cache)
    selftest: str | None = None  # the last self-test's result (device/core/selftest.py)


def status_after(
    previous: KioskStatus,
    *,
    mode: Mode,
    current: Play | None,
    selected: PlaylistId | None,
    volume: int,
    screen: str,
    asleep: bool,
    plays_started: int,
    errors: tuple[str, ...],
    enrollment: EnrollmentChanged | None,
    sync: SyncProgress | None,
    output: str,
    selftest: str | None = None,
) -> KioskStatus:
    """The snapshot now; the library counts are kept from `previous` (set on library updates)."""
    return replace(
        previous,
        mode=mode,
        playlist_id=current.playlist.id if current else selected,
        playlist=current.playlist.title if current else None,
        track_id=current.track.id if current else None,
        title=current.track.title if current else None,
        artist=current.track.artist if current else None,
        position_ms=current.position_ms if current else 0,
        volume=volume,
        screen=screen,
        display_asleep=asleep,
        plays_started=plays_started,
        errors=errors,
        tenant_state=enrollment.state if enrollment else None,
        claim_code=enrollment.claim_code if enrollment else None,
        sync_state=describe_sync(sync) if sync else None,
        output=output,
        selftest=selftest,
    )


def describe_sync(sync: SyncProgress, words: Texts = EN) -> str:
    """English for the status and logs; the technician screen passes the kiosk's words."""
    if sync.state == "downloading" and sync.bytes_total:
        percent = 100 * sync.bytes_done // sync.bytes_total
        return words.sync_files.format(
            done=sync.files_done, total=sync.files_total, percent=percent
        )
    state = {
        "checking": words.sync_checking,
        "downloading": words.sync_downloading,
        "complete": words.sync_complete,
        "failed": words.sync_failed,
        "offline": words.sync_offline,
    }.get(sync.state, sync.state)
    return f"{state} {sync.detail}".strip()
