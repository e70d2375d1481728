"""The tenant's desired state as the core sees it, and the pure rules that apply it.

Remote administration (device/remote/) turns a checked `state/desired` payload into a
`DesiredState`; the core keeps the last one and asks these functions which playlist is the
public default (schedule, then the pushed featured playlist, then the synced document's) and
whether autoplay may run now (opening hours). It may also set the screens' language, autoplay
and the idle timeout, over the kiosk's configuration. Wall-clock rules are only applied with a
synced clock: the `Calendar` says when they were ignored, for the technician screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contract.languages import Language
from device.core.schedule import WeeklyWindow
from device.display.texts import EN, Texts
from device.domain import Library, Playlist, PlaylistId, StartedBy


@dataclass(frozen=True)
class VolumeLimits:
    minimum: int
    maximum: int


@dataclass(frozen=True)
class ScheduledPlaylist:
    """A playlist that is the public default during a weekly window."""

    playlist: PlaylistId
    window: WeeklyWindow


@dataclass(frozen=True)
class DesiredState:
    """Everything a `state/desired` push sets; `version` grows by one with every push."""

    version: int
    playlists: tuple[PlaylistId, ...]
    featured: PlaylistId | None = None  # None: the synced document's featured playlist
    volume: VolumeLimits | None = None  # None: the configured limits
    opening_hours: tuple[WeeklyWindow, ...] = ()  # empty: always open
    schedule: tuple[ScheduledPlaylist, ...] = ()
    timezone: str | None = None  # IANA name of hours and schedule; None: the kiosk's zone
    # Site settings over the kiosk's configuration; None: the configured value.
    language: Language | None = None  # of the screens
    autoplay: bool | None = None
    idle_timeout_s: float | None = None
    when_closed: str | None = None  # a visitor's play outside opening hours: allow, refuse

    @property
    def uses_clock(self) -> bool:
        return bool(self.opening_hours or self.schedule)

    def calendar_at(self, local: datetime) -> Calendar:
        """Opening hours and the scheduled playlist at the local wall time `local`."""
        is_open = not self.opening_hours or any(w.contains(local) for w in self.opening_hours)
        scheduled = next((s.playlist for s in self.schedule if s.window.contains(local)), None)
        return Calendar(is_open=is_open, scheduled=scheduled)


@dataclass(frozen=True)
class Calendar:
    """What the wall clock says now; `clock_unsynced` means the hours and schedule were ignored."""

    is_open: bool = True
    scheduled: PlaylistId | None = None
    clock_unsynced: bool = False


ALWAYS_OPEN = Calendar()


def calendar_for(desired: DesiredState | None, local: datetime | None) -> Calendar:
    """`local` is None while the clock is not synced: then nothing depends on the time of day."""
    if desired is None or not desired.uses_clock:
        return ALWAYS_OPEN
    if local is None:
        return Calendar(clock_unsynced=True)
    return desired.calendar_at(local)


def default_playlist(
    library: Library, desired: DesiredState | None, calendar: Calendar
) -> tuple[Playlist | None, StartedBy]:
    """The playlist autoplay and idle resets return to, and how such a start is reported.

    A scheduled or pushed playlist that is not in the library yet (still downloading) gives
    way to the next rule, so the kiosk never falls silent waiting for it.
    """
    if calendar.scheduled is not None:
        scheduled = library.find(calendar.scheduled)
        if scheduled is not None:
            return scheduled, StartedBy.SCHEDULE
    if desired is not None and desired.featured is not None:
        featured = library.find(desired.featured)
        if featured is not None:
            return featured, StartedBy.AUTOPLAY
    return library.featured_playlist(), StartedBy.AUTOPLAY


def describe_calendar(calendar: Calendar, words: Texts = EN) -> str:
    """The calendar in the technician's words: English in logs, the kiosk's on its screen."""
    if calendar.clock_unsynced:
        return words.clock_unsynced
    state = words.calendar_open if calendar.is_open else words.calendar_closed
    if calendar.scheduled:
        return words.calendar_scheduled.format(state=state, playlist=calendar.scheduled)
    return state
