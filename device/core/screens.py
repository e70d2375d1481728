"""What the screen shows: a pure function from a snapshot of the kiosk's state to a `Screen`.

The core gathers a `ScreenState` (and, only while the technician screen is open, a
`TechnicianState`) and calls `screen_for`; the display adapter draws the result
(device/display/render.py). Nothing here reads a clock, a journal or a network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.core.accounting import Play
from device.core.desired import Calendar, DesiredState, describe_calendar
from device.core.outputs import OutputChoice
from device.core.status import Mode, describe_sync
from device.core.volume import VolumeRules
from device.display.model import (
    AttractScreen,
    BootScreen,
    ClaimScreen,
    ErrorScreen,
    IdentifyScreen,
    NowPlayingScreen,
    RevokedScreen,
    Screen,
    TechnicianScreen,
)
from device.display.texts import Language, texts_for
from device.domain import Library, Playlist
from device.events import EnrollmentChanged, SyncProgress
from device.journal.outbox import JournalStats

# The attract screen moves its text around these offsets so the OLED does not burn in.
ATTRACT_OFFSETS = ((0, 0), (2, 1), (4, 2), (2, 3), (0, 2), (-2, 1), (-2, -1), (0, -2))

Rows = tuple[tuple[str, str], ...]


@dataclass
class KioskContext:
    """What the technician screen shows that the core does not own itself."""

    device_id: str = "unknown"
    firmware_version: str = "unknown"
    addresses: Callable[[], list[str]] = list
    problems: Callable[[], list[str]] = list
    test_tone: Path | None = None  # the self-test's tone, a verified cache path


@dataclass(frozen=True)
class ScreenState:
    """The part of the kiosk's state the screen depends on, in the order it decides."""

    technician: Rows | None  # the technician screen's rows while it is open
    identify: bool  # the tenant asked the kiosk to show its name
    device_name: str
    device_id: str
    firmware_version: str
    overlay: Screen | None  # a toast or the volume bar, until it expires
    enrollment: EnrollmentChanged | None
    mode: Mode
    current: Play | None
    selected: Playlist | None  # the playlist a press of play would start
    content_loaded: bool  # the library has been loaded at least once
    idle_for: float  # seconds since the kiosk went idle (or was last woken)
    dim_after_s: float
    move_every_s: float
    language: Language = "en"


@dataclass(frozen=True)
class TechnicianState:
    """What the technician screen lists, gathered by the core when the screen is open."""

    device_id: str
    firmware_version: str
    addresses: list[str]
    library: Library
    journal: JournalStats
    volume: int
    rules: VolumeRules
    enrollment: EnrollmentChanged | None
    sync: SyncProgress | None
    desired: DesiredState | None
    calendar: Calendar
    audio_output: OutputChoice
    problems: list[str]
    last_error: str | None
    language: Language = "en"
    self_test: str = ""  # the last self-test's result, or how to start one


def screen_for(state: ScreenState) -> Screen:
    """Technician, identify, overlays and the tenant link come before the music."""
    language = state.language
    words = texts_for(language)
    if state.technician is not None:
        return TechnicianScreen(state.technician, language)
    if state.identify:
        return IdentifyScreen(state.device_name, state.device_id, language)
    if state.overlay is not None:
        return state.overlay
    enrollment = state.enrollment
    if enrollment is not None and enrollment.state == "revoked":
        return RevokedScreen(enrollment.tenant_name, enrollment.claim_code, language)
    if (
        enrollment is not None
        and enrollment.state in ("pending", "unreachable")
        and enrollment.claim_code
        and state.mode is Mode.IDLE
    ):
        return ClaimScreen(enrollment.tenant_name, enrollment.claim_code, language=language)
    current = state.current
    if state.mode is not Mode.IDLE and current is not None:
        return NowPlayingScreen(
            playlist=current.playlist.title,
            title=current.track.title,
            artist=current.track.artist,
            elapsed_ms=current.position_ms // 1000 * 1000,
            duration_ms=current.duration_ms or current.track.duration_ms,
            paused=state.mode is Mode.PAUSED,
            language=language,
        )
    playlist = state.selected
    if playlist is None and not state.content_loaded:
        return BootScreen(state.firmware_version, words.loading_music, language)
    if playlist is None:
        return ErrorScreen(words.no_music, words.no_music_detail)
    idle_for = state.idle_for
    offset = ATTRACT_OFFSETS[int(idle_for // state.move_every_s) % len(ATTRACT_OFFSETS)]
    dim = idle_for >= state.dim_after_s
    return AttractScreen(playlist.title, playlist.note, offset, dim, language)


def technician_rows(state: TechnicianState) -> Rows:
    """Label and value rows, most basic first; optional parts only when there is something."""
    library, w = state.library, texts_for(state.language)
    content = w.content_value.format(
        playlists=len(library.playlists),
        available=library.available_tracks,
        total=library.total_tracks,
    )
    journal = w.journal_value.format(open=state.journal.open, finished=state.journal.finished)
    rows = [
        (w.row_device, state.device_id),
        (w.row_firmware, state.firmware_version),
        (w.row_ip, ", ".join(state.addresses) or w.no_network),
        (w.row_content, content),
        (w.row_journal, journal),
        (w.row_volume, f"{state.volume} ({state.rules.minimum}-{state.rules.maximum})"),
    ]
    if state.enrollment is not None:
        enrollment = {
            "enrolling": w.enrollment_enrolling,
            "pending": w.enrollment_pending,
            "active": w.enrollment_active,
            "revoked": w.enrollment_revoked,
            "unreachable": w.enrollment_unreachable,
        }.get(state.enrollment.state, state.enrollment.state)
        rows.append((w.row_tenant, f"{enrollment} {state.enrollment.detail}".strip()))
    if state.sync is not None:
        rows.append((w.row_sync, describe_sync(state.sync, w)))
    if state.desired is not None:
        calendar = describe_calendar(state.calendar, w)
        rows.append((w.row_remote, f"v{state.desired.version}, {calendar}"))
    output = state.audio_output
    audio = output.label if output.card else w.audio_builtin.format(output=output.device)
    rows.append((w.row_audio, audio))
    rows += [(w.row_problem, problem) for problem in state.problems]
    if state.last_error is not None:
        rows.append((w.row_last_error, state.last_error))
    if state.self_test:
        rows.append((w.row_self_test, state.self_test))
    return tuple(rows)
