"""Remote defaults: the tenant's desired state, the calendar, and the public default playlist.

The desired state (device/core/desired.py has its rules) brings volume limits, opening hours,
a schedule, a featured playlist, and site settings over the configuration (screen language,
autoplay, idle timeout). This controller applies it, re-checks the calendar every
CALENDAR_CHECK_S, and when the public default changes follows it while nobody is listening:
an idle kiosk selects (and autoplays) the new default; a kiosk playing what autoplay chose
stops at closing time or switches at the end of the track; a visitor's choice stands.
A plain object called on the core's thread; it reaches the other controllers through `core`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from contract.hours import WeeklyWindow, open_at
from contract.languages import Language
from device.core.accounting import Play
from device.core.desired import (
    ALWAYS_OPEN,
    Calendar,
    DesiredState,
    calendar_for,
    default_playlist,
    describe_calendar,
)
from device.core.opening import describe_moment, next_opening
from device.core.status import Mode
from device.core.volume import VolumeRules
from device.domain import EndReason, Playlist, PlaylistId, StartedBy

if TYPE_CHECKING:
    from device.config import KioskConfig
    from device.core.kiosk import Kiosk

log = logging.getLogger(__name__)

CALENDAR_CHECK_S = 5.0  # opening hours and schedule are minute-grained: a cheap re-check
DEFAULT_STARTS = (StartedBy.AUTOPLAY, StartedBy.SCHEDULE)  # plays nobody asked for

DefaultsKey = tuple[PlaylistId | None, StartedBy, bool, bool]


class DefaultsController:
    def __init__(self, core: Kiosk) -> None:
        self.core = core
        self.clock = core.clock
        self.desired: DesiredState | None = None  # the tenant's, through device/remote
        self.calendar: Calendar = ALWAYS_OPEN
        self._calendar_due = float("-inf")
        self._checked: DefaultsKey | None = None  # the key at the last calendar check

    # ------------------------------------------------------------------ queries

    def default(self) -> tuple[Playlist | None, StartedBy]:
        """The public default: scheduled, else pushed featured, else the document's featured."""
        return default_playlist(self.core.library, self.desired, self.calendar)

    def featured_playlist(self) -> Playlist | None:
        return self.default()[0]

    def featured_id(self) -> PlaylistId | None:
        playlist = self.featured_playlist()
        return playlist.id if playlist else None

    def may_autoplay(self) -> bool:
        """Autoplay (configured or pushed) only while open; visitors may press play any time."""
        return self.autoplay() and self.calendar.is_open

    def autoplay(self) -> bool:
        pushed = self.desired.autoplay if self.desired is not None else None
        return self.core.config.playback.autoplay if pushed is None else pushed

    def language(self) -> Language:
        pushed = self.desired.language if self.desired is not None else None
        return pushed or self.core.config.display.language

    def idle_timeout_s(self) -> float:
        pushed = self.desired.idle_timeout_s if self.desired is not None else None
        return self.core.config.visitor.idle_timeout_s if pushed is None else pushed

    def is_default(self, play: Play) -> bool:
        """The play is what the kiosk would start by itself now."""
        return (
            play.started_by in DEFAULT_STARTS
            and play.playlist.id == self.featured_id()
            and self.may_autoplay()
        )

    def key(self) -> DefaultsKey:
        """What decides the kiosk's own starts: the default, how it is reported, whether
        autoplay may run, and whether the default playlist is within its own hours."""
        featured, started_by = self.default()
        offered = featured is None or self.offered(featured)
        return (featured.id if featured else None, started_by, self.may_autoplay(), offered)

    # ------------------------------------------------------------------ changes

    def apply(self, state: DesiredState) -> None:
        """The tenant's settings take over at once: limits clamp the volume now, a new default
        playlist starts when nobody is listening."""
        if state == self.desired:
            return  # the same state posted again (saved state at boot): nothing to redo
        before = self.key()
        self.desired = state
        rules = self.volume_rules()
        self.core.mixer.limit(rules)
        self.calendar = self._calendar_now()
        self._calendar_due = self.clock.monotonic() + CALENDAR_CHECK_S
        log.info(
            "desired state %d applied: volume %d-%d, %s, language %s, autoplay %s, idle %.0f s",
            state.version,
            rules.minimum,
            rules.maximum,
            describe_calendar(self.calendar),
            self.language(),
            "on" if self.autoplay() else "off",
            self.idle_timeout_s(),
        )
        self.changed(before)

    def volume_rules(self) -> VolumeRules:
        """The configured rules, under the tenant's limits when it set some."""
        rules = VolumeRules.from_config(self.core.config.audio)
        volume = self.desired.volume if self.desired is not None else None
        if volume is not None:
            rules = rules.limited(volume.minimum, volume.maximum)
        return rules

    def reconfigure(self, config: KioskConfig) -> None:
        """New kiosk settings (a technician stick) taken at once, under the tenant's: volume
        rules clamp now, buttons and knob act as newly bound, the screen speaks the new
        language, a new autoplay or idle timeout holds from now. What only the adapters read
        (pins, display driver, sound backend) waits for a restart; the stick says so."""
        core = self.core
        before = self.key()
        core.config = config
        core.mixer.limit(self.volume_rules())
        core.visitor.rebind()
        core.playback.config = config.playback
        core.outputs.audio = config.audio
        log.info("kiosk settings changed (%s)", config.source)
        self.changed(before)

    def deadline(self) -> float | None:
        """The next calendar check, while hours (the site's or a playlist's) matter."""
        if self.desired is not None and self.desired.uses_clock:
            return self._calendar_due
        if any(p.hours for p in self.core.library.playlists):
            return self._calendar_due
        return None

    def tick(self, now: float) -> None:
        if self._checked is None:  # the first turn of the loop: what later checks compare with
            self._checked = self.key()
        if now >= self._calendar_due:
            self._check_calendar()

    def _calendar_now(self) -> Calendar:
        desired = self.desired
        local = self.local_now() if desired is not None and desired.uses_clock else None
        return calendar_for(self.desired, local)

    def local_now(self) -> datetime | None:
        """The site's wall time (the pushed time zone, else the kiosk's); None while the clock
        is not synced, when nothing may depend on the time of day."""
        if not self.clock.is_synced():
            return None
        desired = self.desired
        zone = ZoneInfo(desired.timezone) if desired and desired.timezone else self.core.timezone
        return datetime.fromtimestamp(self.clock.wall_time_ms() / 1000, zone)

    def refusal(self, playlist: Playlist) -> tuple[str, str] | None:
        """Why a visitor may not start `playlist` now, as a toast's title and detail: the site
        is closed and refuses plays then (`when_closed`), or the playlist is outside its own
        hours; None when it may play (always, while the clock is not synced)."""
        words = self.core.texts
        refuse_closed = self.desired is not None and self.desired.when_closed == "refuse"
        if refuse_closed and not self.calendar.is_open and not self.calendar.clock_unsynced:
            assert self.desired is not None
            return words.closed, self._back(self.desired.opening_hours, words.back_at, "")
        if playlist.hours:
            now = self.local_now()
            if now is not None and not open_at(playlist.hours, now):
                detail = self._back(playlist.hours, words.available_from, playlist.title)
                return words.not_available_now, detail
        return None

    def offered(self, playlist: Playlist) -> bool:
        """A playlist visitors may pick now (inside its own hours, or it has none)."""
        if not playlist.hours:
            return True
        now = self.local_now()
        return now is None or open_at(playlist.hours, now)

    def _back(self, windows: tuple[WeeklyWindow, ...], template: str, title: str) -> str:
        now = self.local_now()
        moment = next_opening(windows, now) if now is not None else None
        if now is None or moment is None:
            return self.core.texts.ask_staff
        return template.format(when=describe_moment(self.core.texts, moment, now), playlist=title)

    def _check_calendar(self) -> None:
        self._calendar_due = self.clock.monotonic() + CALENDAR_CHECK_S
        calendar = self._calendar_now()
        before = self._checked if self._checked is not None else self.key()
        if calendar != self.calendar:
            self.calendar = calendar
            log.info("calendar: %s", describe_calendar(calendar))
        if self.key() != before:  # opening hours, or the default playlist's own, turned
            self.changed(before)
        self._checked = self.key()

    def changed(self, before: DefaultsKey) -> None:
        """Follow new public defaults when nobody is listening; a visitor's choice stands.

        Idle: select (and autoplay) the new default. Playing what autoplay chose: stop now if
        autoplay may no longer run (closing time), else switch at the end of the track.
        """
        core = self.core
        self._checked = self.key()
        if not core.running:
            return  # applied before start (the saved state at boot): start() autoplays right
        if self.key() == before or core.visitor.visitor_present or core.revoked:
            return
        playback = core.playback
        current = playback.current
        if playback.mode is Mode.IDLE:
            self.reset_to_featured()
        elif playback.mode is Mode.PLAYING and current is not None:
            if current.started_by not in DEFAULT_STARTS:
                return
            if not self.may_autoplay():
                log.info("outside opening hours: autoplay stops")
                playback.reset_pending = False
                playback.end_current(EndReason.STOPPED)
                playback.go_idle()
            elif current.playlist.id != self.featured_id():
                playback.stop_after_current()  # the new default starts after this track

    def reset_to_featured(self) -> None:
        """Select the public default, and start it if autoplay may run now."""
        playback = self.core.playback
        playback.selected = self.featured_id()
        playback.go_idle(keep_selection=True)
        featured, started_by = self.default()
        if self.may_autoplay() and featured is not None:
            playback.start_playlist(featured, started_by)
