"""The kiosk core: the one thread that owns the kiosk's state.

Adapters post events on `Kiosk.post` from their own threads; `run` takes them one at a time,
together with its own deadlines (holds, overlays, idle timeout, burn-in), and drives the
player, the display and the play journal. Nothing else changes state, so every behaviour can
be tested by feeding events and advancing a clock.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from device.config import KioskConfig
from device.core.accounting import Play, PlayAccounting
from device.core.desired import ALWAYS_OPEN, Calendar, DesiredState, calendar_for, default_playlist
from device.core.gestures import GestureDecoder
from device.core.outputs import OutputChoice, choose_output
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
    StickScreen,
    TechnicianScreen,
    VolumeScreen,
)
from device.domain import (
    EMPTY_LIBRARY,
    Action,
    EndReason,
    Library,
    PlayItem,
    Playlist,
    PlaylistId,
    StartedBy,
    Track,
)
from device.events import (
    ButtonDown,
    ButtonUp,
    DesiredStateReceived,
    EnrollmentChanged,
    Event,
    IdentifyRequested,
    LibraryUpdated,
    PlaybackEnded,
    PlaybackProgress,
    PlaybackStarted,
    Rotated,
    Shutdown,
    SoundCard,
    SoundCardsChanged,
    StickReport,
    StorageAttached,
    StorageDetached,
    SyncProgress,
)
from device.journal.outbox import PlayJournal
from device.ports import Clock, Display, Player

log = logging.getLogger(__name__)

START_TIMEOUT_S = 8.0  # an item mpv has not started by then is treated as failed
RESTART_THRESHOLD_MS = 3000  # "previous" after this far into a track restarts it
ERROR_TOAST_S = 3.0
STICK_TOAST_S = 10.0  # a technician reads it standing at the kiosk
MAX_WAIT_S = 5.0  # the loop wakes at least this often (the systemd watchdog rides on it)
CALENDAR_CHECK_S = 5.0  # opening hours and schedule are minute-grained: a cheap re-check
DEFAULT_STARTS = (StartedBy.AUTOPLAY, StartedBy.SCHEDULE)  # plays nobody asked for
ATTRACT_OFFSETS = ((0, 0), (2, 1), (4, 2), (2, 3), (0, 2), (-2, 1), (-2, -1), (0, -2))


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


@dataclass
class KioskContext:
    """What the technician screen shows that the core does not own itself."""

    device_id: str = "unknown"
    firmware_version: str = "unknown"
    addresses: Callable[[], list[str]] = list
    problems: Callable[[], list[str]] = list


@dataclass
class Kiosk:
    config: KioskConfig
    player: Player
    display: Display
    journal: PlayJournal
    clock: Clock
    library: Library = EMPTY_LIBRARY
    context: KioskContext = field(default_factory=KioskContext)
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    timezone: tzinfo | None = None  # of opening hours and schedule; None: the system's

    def __post_init__(self) -> None:
        self.gestures = GestureDecoder(self.config.buttons, self.config.combos)
        self.rules = VolumeRules.from_config(self.config.audio)
        self.volume = self.rules.default
        self.desired: DesiredState | None = None  # the tenant's, through device/remote
        self.calendar: Calendar = ALWAYS_OPEN
        self._calendar_due = float("-inf")
        self.identify_until: float | None = None
        self.mode = Mode.IDLE
        self.selected: PlaylistId | None = None
        self.current: Play | None = None
        self.preloaded: Play | None = None
        self.running = False
        self._tokens = 0
        self.accounting = PlayAccounting(
            self.journal, self.clock, self.config.playback.progress_checkpoint_s
        )
        self._failures = 0  # items in a row that failed before any sound
        now = self.clock.monotonic()
        self.last_activity = now
        self.idle_since = now
        self.visitor_present = False  # an action happened within the idle timeout
        self.reset_pending = False  # go back to defaults when the current track ends
        self.overlay: Screen | None = None
        self.overlay_until = 0.0
        self.technician = False
        self.asleep = False
        self._swallowed: set[str] = set()
        self._errors: list[str] = []
        self._last_screen: Screen | None = None
        self.status = KioskStatus()
        self.content_loaded = bool(self.library.playlists)
        self.enrollment: EnrollmentChanged | None = None
        self.sync: SyncProgress | None = None
        self.on_tick: Callable[[], None] | None = None  # e.g. the systemd watchdog keep-alive
        fallback = self.config.audio.output
        self.audio_output = OutputChoice(fallback, f"built-in ({fallback})")

    # ------------------------------------------------------------------ thread edge

    def post(self, event: Event) -> None:
        """Thread-safe: the only way other threads talk to the core."""
        self.events.put(event)

    def run(self) -> None:
        """Process events and deadlines until a Shutdown event arrives."""
        self.start()
        while self.running:
            now = self.clock.monotonic()
            deadline = self.next_deadline()
            wait = MAX_WAIT_S if deadline is None else min(MAX_WAIT_S, max(0.0, deadline - now))
            try:
                event: Event | None = self.events.get(timeout=wait)
            except queue.Empty:
                event = None
            try:
                if event is not None:
                    self.handle(event)
                self.tick()
            except Exception:
                # A bug must not silence the kiosk: log it and keep serving the next event.
                log.exception("kiosk core failed on %r", event)
            if self.on_tick is not None:
                self.on_tick()
        self.finish()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.running = True
        self.player.set_volume(self.volume)
        self.selected = self._featured_id()
        featured, started_by = self._default()
        if self._may_autoplay() and featured is not None:
            self._start_playlist(featured, started_by)
        self._refresh()

    def finish(self) -> None:
        """Close the open play as stopped: an orderly shutdown is not an interruption."""
        self._end_current(EndReason.STOPPED)
        self.player.stop()
        self.running = False

    # ------------------------------------------------------------------ events

    def handle(self, event: Event) -> None:
        match event:
            case ButtonDown(button=name, at=at):
                if self.asleep or name in self._swallowed:
                    self._swallowed.add(name)
                    self._wake()
                    return
                for action in self.gestures.down(name, at):
                    self.act(action)
            case ButtonUp(button=name, at=at):
                if name in self._swallowed:
                    self._swallowed.discard(name)
                    self.gestures.up(name, at)
                    return
                for action in self.gestures.up(name, at):
                    self.act(action)
            case Rotated(steps=steps):
                if self.asleep:
                    self._wake()
                    return
                rotary = self.config.rotary
                if rotary is not None:
                    action = rotary.clockwise if steps > 0 else rotary.counter_clockwise
                    for _ in range(abs(steps)):
                        self.act(action)
            case PlaybackStarted(token=token, duration_ms=duration):
                self._on_started(token, duration)
            case PlaybackProgress(token=token, position_ms=position):
                self._on_progress(token, position)
            case PlaybackEnded(token=token, outcome=outcome, error=error):
                self._on_ended(token, outcome, error)
            case LibraryUpdated(library=library):
                self._on_library(library)
            case EnrollmentChanged():
                self._on_enrollment(event)
            case SyncProgress():
                self.sync = event
            case SoundCardsChanged(cards=cards):
                self._on_sound_cards(cards)
            case StickReport():
                self._on_stick(event)
            case DesiredStateReceived(state=state):
                self._on_desired(state)
            case IdentifyRequested(seconds=seconds):
                log.info("identify requested: showing the name for %.0f s", seconds)
                self.identify_until = self.clock.monotonic() + seconds
                if self.asleep:
                    self._wake()
            case StorageAttached() | StorageDetached():
                log.info("storage: %r", event)
            case Shutdown(reason=reason):
                log.info("shutting down: %s", reason)
                self.running = False
        self._refresh()

    def act(self, action: Action) -> None:
        """A visitor (or technician) action; every one of them counts as presence."""
        now = self.clock.monotonic()
        self.last_activity = now
        self.visitor_present = True
        if self.reset_pending:
            self.reset_pending = False
            if self.current is not None and self.preloaded is None:
                self._preload_after(self.current)
        log.info("action %s in %s", action.value, self.mode.value)
        if action is not Action.TECHNICIAN:
            self.technician = False
            if self.revoked:
                self._toast("Kiosk withdrawn", "Ask the library staff.")
                self._refresh()
                return
        match action:
            case Action.PLAY_PAUSE:
                self._play_pause()
            case Action.NEXT:
                self._step(+1)
            case Action.PREVIOUS:
                self._step(-1)
            case Action.NEXT_PLAYLIST:
                self._next_playlist()
            case Action.VOLUME_UP | Action.VOLUME_DOWN:
                step = 1 if action is Action.VOLUME_UP else -1
                self._set_volume(self.rules.up(self.volume, step))
                self.overlay = VolumeScreen(self.volume, self.rules.minimum, self.rules.maximum)
                self.overlay_until = now + self.config.visitor.volume_display_s
            case Action.TECHNICIAN:
                self.technician = not self.technician
        self._refresh()

    # ------------------------------------------------------------------ deadlines

    def next_deadline(self) -> float | None:
        candidates = [self.gestures.next_deadline()]
        if self.overlay is not None:
            candidates.append(self.overlay_until)
        if self.identify_until is not None:
            candidates.append(self.identify_until)
        if self.desired is not None and self.desired.uses_clock:
            candidates.append(self._calendar_due)
        if self.visitor_present:
            candidates.append(self.last_activity + self.config.visitor.idle_timeout_s)
        if self.current is not None and not self.current.journaled:
            candidates.append(self.current.requested_at + START_TIMEOUT_S)
        if self.mode is Mode.IDLE and not self.asleep:
            display = self.config.display
            idle_for = self.clock.monotonic() - self.idle_since
            candidates.append(self.idle_since + display.sleep_after_s)
            if idle_for < display.dim_after_s:
                candidates.append(self.idle_since + display.dim_after_s)
            moves = int(idle_for // display.move_every_s) + 1
            candidates.append(self.idle_since + moves * display.move_every_s)
        return min((c for c in candidates if c is not None), default=None)

    def tick(self) -> None:
        now = self.clock.monotonic()
        for action in self.gestures.poll(now):
            self.act(action)
        if self.overlay is not None and now >= self.overlay_until:
            self.overlay = None
        if self.identify_until is not None and now >= self.identify_until:
            self.identify_until = None
        if now >= self._calendar_due:
            self._check_calendar()
        timeout = self.config.visitor.idle_timeout_s
        if self.visitor_present and now >= self.last_activity + timeout:
            self._visitor_gone()
        current = self.current
        if (
            current is not None
            and current.event_id is None
            and now >= current.requested_at + START_TIMEOUT_S
        ):
            # mpv never started it: do not trust its queue, play the next one explicitly.
            self._on_ended(current.item.token, "error", "did not start in time")
            follower, self.current = self.current, None
            if follower is not None:
                self._play(follower.playlist, follower.index, follower.started_by)
        if (
            self.mode is Mode.IDLE
            and not self.asleep
            and now >= self.idle_since + self.config.display.sleep_after_s
        ):
            log.info("screen going to sleep after %.0f s idle", now - self.idle_since)
            self.asleep = True
            self.display.sleep()
        self._refresh()

    # ------------------------------------------------------------------ visitor actions

    def _play_pause(self) -> None:
        if self.mode is Mode.PLAYING:
            self.mode = Mode.PAUSED
            self.player.pause()
        elif self.mode is Mode.PAUSED:
            self.mode = Mode.PLAYING
            self.player.resume()
        else:
            self._start_playlist(self._selected_playlist(), StartedBy.VISITOR)

    def _step(self, direction: int) -> None:
        current = self.current
        if current is None or self.mode is Mode.IDLE:
            self._start_playlist(self._selected_playlist(), StartedBy.VISITOR)
            return
        playlist = current.playlist
        if direction < 0 and current.position_ms > RESTART_THRESHOLD_MS:
            index: int | None = current.index
        else:
            index = self._playable(playlist, current.index + direction, direction, wrap=True)
        self._end_current(EndReason.SKIPPED)
        if index is None:
            self._go_idle()
            return
        self._play(playlist, index, StartedBy.VISITOR)

    def _next_playlist(self) -> None:
        playlists = self.library.playlists
        if not playlists:
            return
        ids = [p.id for p in playlists]
        position = ids.index(self.selected) if self.selected in ids else -1
        self.selected = ids[(position + 1) % len(ids)]
        if self.mode is Mode.PLAYING:
            self._end_current(EndReason.SKIPPED)
            self._start_playlist(self._selected_playlist(), StartedBy.VISITOR)
        else:
            self._end_current(EndReason.STOPPED)
            self._go_idle(keep_selection=True)

    def _set_volume(self, volume: int) -> None:
        self.volume = self.rules.clamp(volume)
        self.player.set_volume(self.volume)

    def _visitor_gone(self) -> None:
        """Nobody has touched the kiosk for a while: back to public defaults.

        A playing track is never cut: the reset waits for its end, so a listener is not
        interrupted and an unattended kiosk stops adding plays after one track.
        """
        log.info(
            "no visitor action for %.0f s: volume and playlist back to defaults",
            self.config.visitor.idle_timeout_s,
        )
        self.visitor_present = False
        self.technician = False
        self._set_volume(self.rules.default)
        current = self.current
        if self.mode is Mode.PLAYING and current is not None:
            if (
                current.started_by in DEFAULT_STARTS
                and current.playlist.id == self._featured_id()
                and self._may_autoplay()
            ):
                return  # already the public default
            self.reset_pending = True
            self._set_preload(None)  # stop after this track
            return
        self._end_current(EndReason.STOPPED)
        self._reset_to_featured()

    def _reset_to_featured(self) -> None:
        self.selected = self._featured_id()
        self._go_idle(keep_selection=True)
        featured, started_by = self._default()
        if self._may_autoplay() and featured is not None:
            self._start_playlist(featured, started_by)

    # ------------------------------------------------------------------ playback

    def _start_playlist(self, playlist: Playlist | None, started_by: StartedBy) -> None:
        if playlist is None:
            self._toast("Nothing to play", "No playlist is available yet.")
            return
        self.selected = playlist.id
        index = self._playable(playlist, 0, +1, wrap=False)
        if index is None:
            self._toast("Nothing to play", f"No track of '{playlist.title}' is available.")
            self._go_idle(keep_selection=True)
            return
        self._play(playlist, index, started_by)

    def _play(self, playlist: Playlist, index: int, started_by: StartedBy) -> None:
        track = playlist.tracks[index]
        assert track.media is not None
        if self.asleep:
            self._wake()
        self.current = Play(self._item(track), playlist, index, started_by, self.clock.monotonic())
        self.mode = Mode.PLAYING
        self.preloaded = None
        self.player.play(self.current.item)
        self._preload_after(self.current)

    def _preload_after(self, play: Play) -> None:
        wrap = self.config.playback.at_playlist_end == "loop"
        index = self._playable(play.playlist, play.index + 1, +1, wrap=wrap)
        if index is None:
            self._set_preload(None)
            return
        track = play.playlist.tracks[index]
        self._set_preload(Play(self._item(track), play.playlist, index, play.started_by, 0.0))

    def _set_preload(self, play: Play | None) -> None:
        self.preloaded = play
        self.player.preload(play.item if play else None)

    def _item(self, track: Track) -> PlayItem:
        assert track.media is not None
        self._tokens += 1
        return PlayItem(self._tokens, track.media)

    def _playable(self, playlist: Playlist, start: int, direction: int, wrap: bool) -> int | None:
        """The first track from `start` whose media is in the cache, reporting the others."""
        count = len(playlist.tracks)
        for offset in range(count):
            index = start + offset * direction
            if wrap:
                index %= count
            if not 0 <= index < count:
                return None
            track = playlist.tracks[index]
            if track.media is not None:
                return index
            self._note_error(f"skipped '{track.title}': {track.problem or 'not in the cache'}")
            self._toast("Track unavailable", track.title)
        return None

    def _on_started(self, token: int, duration_ms: int | None) -> None:
        current = self.current
        if current is not None and current.item.token == token and not current.journaled:
            self.accounting.audio_started(current, duration_ms)

    def _on_progress(self, token: int, position_ms: int) -> None:
        current = self.current
        if current is not None and current.item.token == token:
            self.accounting.progressed(current, position_ms)
            if current.listened_ms > 0:
                self._failures = 0  # sound really flows

    def _on_ended(self, token: int, outcome: str, error: str | None) -> None:
        current = self.current
        if current is None or current.item.token != token:
            if self.preloaded is not None and self.preloaded.item.token == token:
                self.preloaded = None  # the queued item failed before its turn
            return
        if outcome == "error":
            self._note_error(f"'{current.track.title}' failed: {error}")
            self._toast("Cannot play track", current.track.title)
            heard_nothing = current.listened_ms == 0  # no file, or no audio output
            self._end_current(EndReason.ERROR, error)
            self._failures = self._failures + 1 if heard_nothing else 0
            if self._failures >= max(3, len(current.playlist.tracks)):
                self._note_error(f"no track of '{current.playlist.title}' could be played")
                self._failures = 0
                self._go_idle(keep_selection=True)
                return
        elif outcome == "eof":
            self.accounting.reached_end(current)
            self._end_current(EndReason.FINISHED)
        else:
            self._end_current(EndReason.STOPPED)
            self._go_idle(keep_selection=True)
            return
        if self.reset_pending:
            self.reset_pending = False
            self._set_preload(None)
            self._reset_to_featured()
            return
        follower = self.preloaded
        if follower is None or outcome == "stopped":
            self._go_idle(keep_selection=True)
            return
        # mpv moves on to the preloaded entry by itself (gapless); follow it.
        follower.requested_at = self.clock.monotonic()
        self.current = follower
        self.preloaded = None
        self._preload_after(follower)

    def _end_current(self, reason: EndReason, error: str | None = None) -> None:
        current, self.current = self.current, None
        if current is not None:
            self.accounting.finished(current, reason, error)

    def _go_idle(self, keep_selection: bool = False) -> None:
        if self.current is not None:
            self._end_current(EndReason.STOPPED)
        if self.mode is not Mode.IDLE:
            self.player.stop()
        self.preloaded = None
        self.mode = Mode.IDLE
        self.idle_since = self.clock.monotonic()
        if not keep_selection:
            self.selected = self._featured_id()

    @property
    def revoked(self) -> bool:
        return self.enrollment is not None and self.enrollment.state == "revoked"

    def _on_enrollment(self, event: EnrollmentChanged) -> None:
        """A revoked kiosk stops playing and says so; its journal is kept for later."""
        was_revoked = self.revoked
        if event.state == "pending" and was_revoked:
            # Still withdrawn, but now showing the code that re-claims it.
            event = EnrollmentChanged("revoked", event.tenant_name, event.claim_code, event.detail)
        self.enrollment = event
        log.info("tenant link: %s %s", event.state, event.detail)
        if event.state == "active" and event.tenant_id:
            identity = self.journal.identity
            self.journal.identity = replace(identity, tenant=event.tenant_id, site=event.site)
        if self.revoked and not was_revoked:
            self._end_current(EndReason.STOPPED)
            self._go_idle(keep_selection=True)

    def _on_library(self, library: Library) -> None:
        """A new library applies at once when idle; while playing, the current play goes on."""
        before = self._defaults_key()
        self.library = library
        self.content_loaded = True
        self.status = replace(
            self.status, playlists=len(library.playlists), tracks=library.available_tracks
        )
        if self.library.find(self.selected) is None:
            self.selected = self._featured_id()
        log.info(
            "library updated: %d playlists, %d/%d tracks available",
            len(library.playlists),
            library.available_tracks,
            library.total_tracks,
        )
        # A new default (the first content after boot or a claim, a pushed or scheduled
        # playlist that arrived) is selected, and autoplayed, when nobody is listening.
        self._defaults_changed(before)

    # ------------------------------------------------------------------ usb

    def _on_sound_cards(self, cards: tuple[SoundCard, ...]) -> None:
        """Move the sound to the best preferred card present, or back to the built-in output.

        Only the output changes: the play goes on with the same journal entry and its
        listened time keeps counting from mpv's progress.
        """
        audio = self.config.audio
        choice = choose_output(audio.preferred_outputs, cards, self.player.outputs(), audio.output)
        if choice.device != self.audio_output.device:
            log.info("audio output now %s (%s)", choice.label, choice.device)
            self.player.set_output(choice.device)
        self.audio_output = choice

    def _on_stick(self, report: StickReport) -> None:
        self.overlay = StickScreen(report.ok, report.title, report.lines)
        self.overlay_until = self.clock.monotonic() + STICK_TOAST_S
        if not report.ok:
            self._note_error(f"stick: {report.title}: {'; '.join(report.lines)}")

    # ------------------------------------------------------------------ screen

    def _wake(self) -> None:
        self.asleep = False
        self.idle_since = self.clock.monotonic()
        self.last_activity = self.idle_since
        self.gestures.release_all()
        self.display.wake()

    def _toast(self, title: str, detail: str) -> None:
        self.overlay = ErrorScreen(title, detail)
        self.overlay_until = self.clock.monotonic() + ERROR_TOAST_S

    def _note_error(self, message: str) -> None:
        log.error(message)
        self._errors = [*self._errors[-9:], message]

    def _featured_id(self) -> PlaylistId | None:
        playlist = self._featured_playlist()
        return playlist.id if playlist else None

    def _featured_playlist(self) -> Playlist | None:
        return self._default()[0]

    def _default(self) -> tuple[Playlist | None, StartedBy]:
        """The public default: scheduled, else pushed featured, else the document's featured."""
        return default_playlist(self.library, self.desired, self.calendar)

    def _may_autoplay(self) -> bool:
        """Autoplay (configured) only while open; visitors may press play at any time."""
        return self.config.playback.autoplay and self.calendar.is_open

    # ------------------------------------------------------------------ remote administration

    def _on_desired(self, state: DesiredState) -> None:
        """The tenant's settings take over at once: limits clamp the volume now, a new default
        playlist starts when nobody is listening (device/core/desired.py has the rules)."""
        if state == self.desired:
            return  # the same state posted again (saved state at boot): nothing to redo
        before = self._defaults_key()
        self.desired = state
        rules = VolumeRules.from_config(self.config.audio)
        if state.volume is not None:
            rules = rules.limited(state.volume.minimum, state.volume.maximum)
        self.rules = rules
        self._set_volume(self.volume)
        self.calendar = self._calendar_now()
        self._calendar_due = self.clock.monotonic() + CALENDAR_CHECK_S
        log.info(
            "desired state %d applied: volume %d-%d, %s",
            state.version,
            rules.minimum,
            rules.maximum,
            describe_calendar(self.calendar),
        )
        self._defaults_changed(before)

    def _calendar_now(self) -> Calendar:
        local = None
        desired = self.desired
        if desired is not None and desired.uses_clock and self.clock.is_synced():
            zone = ZoneInfo(desired.timezone) if desired.timezone else self.timezone
            local = datetime.fromtimestamp(self.clock.wall_time_ms() / 1000, zone)
        return calendar_for(self.desired, local)

    def _check_calendar(self) -> None:
        self._calendar_due = self.clock.monotonic() + CALENDAR_CHECK_S
        calendar = self._calendar_now()
        if calendar != self.calendar:
            before = self._defaults_key()
            self.calendar = calendar
            log.info("calendar: %s", describe_calendar(calendar))
            self._defaults_changed(before)

    def _defaults_key(self) -> tuple[PlaylistId | None, StartedBy, bool]:
        featured, started_by = self._default()
        return (featured.id if featured else None, started_by, self._may_autoplay())

    def _defaults_changed(self, before: tuple[PlaylistId | None, StartedBy, bool]) -> None:
        """Follow new public defaults when nobody is listening; a visitor's choice stands.

        Idle: select (and autoplay) the new default. Playing what autoplay chose: stop now if
        autoplay may no longer run (closing time), else switch at the end of the track.
        """
        if not self.running:
            return  # applied before start (the saved state at boot): start() autoplays right
        if self._defaults_key() == before or self.visitor_present or self.revoked:
            return
        current = self.current
        if self.mode is Mode.IDLE:
            self._reset_to_featured()
        elif self.mode is Mode.PLAYING and current is not None:
            if current.started_by not in DEFAULT_STARTS:
                return
            if not self._may_autoplay():
                log.info("outside opening hours: autoplay stops")
                self.reset_pending = False
                self._end_current(EndReason.STOPPED)
                self._go_idle()
            elif current.playlist.id != self._featured_id():
                self.reset_pending = True  # the new default starts after this track
                self._set_preload(None)

    def _selected_playlist(self) -> Playlist | None:
        return self.library.find(self.selected) or self._featured_playlist()

    def screen(self) -> Screen:
        if self.technician:
            return TechnicianScreen(self.technician_rows())
        if self.identify_until is not None:
            return IdentifyScreen(self.config.device.name, self.context.device_id)
        if self.overlay is not None:
            return self.overlay
        enrollment = self.enrollment
        if enrollment is not None and enrollment.state == "revoked":
            return RevokedScreen(enrollment.tenant_name, enrollment.claim_code)
        if (
            enrollment is not None
            and enrollment.state in ("pending", "unreachable")
            and enrollment.claim_code
            and self.mode is Mode.IDLE
        ):
            return ClaimScreen(enrollment.tenant_name, enrollment.claim_code)
        current = self.current
        if self.mode is not Mode.IDLE and current is not None:
            return NowPlayingScreen(
                playlist=current.playlist.title,
                title=current.track.title,
                artist=current.track.artist,
                elapsed_ms=current.position_ms // 1000 * 1000,
                duration_ms=current.duration_ms or current.track.duration_ms,
                paused=self.mode is Mode.PAUSED,
            )
        playlist = self._selected_playlist()
        if playlist is None and not self.content_loaded:
            return BootScreen(self.context.firmware_version, "Loading music")
        if playlist is None:
            return ErrorScreen("No music yet", "Waiting for the library's playlists.")
        idle_for = self.clock.monotonic() - self.idle_since
        display = self.config.display
        offset = ATTRACT_OFFSETS[int(idle_for // display.move_every_s) % len(ATTRACT_OFFSETS)]
        return AttractScreen(playlist.title, playlist.note, offset, idle_for >= display.dim_after_s)

    def technician_rows(self) -> tuple[tuple[str, str], ...]:
        stats = self.journal.stats()
        rows = [
            ("Device", self.context.device_id),
            ("Firmware", self.context.firmware_version),
            ("IP", ", ".join(self.context.addresses()) or "no network"),
            (
                "Content",
                f"{len(self.library.playlists)} lists, "
                f"{self.library.available_tracks}/{self.library.total_tracks} tracks",
            ),
            ("Journal", f"{stats.open} open, {stats.finished} done"),
            ("Volume", f"{self.volume} ({self.rules.minimum}-{self.rules.maximum})"),
        ]
        if self.enrollment is not None:
            rows.append(("Tenant", f"{self.enrollment.state} {self.enrollment.detail}".strip()))
        if self.sync is not None:
            rows.append(("Sync", describe_sync(self.sync)))
        if self.desired is not None:
            rows.append(("Remote", f"v{self.desired.version}, {describe_calendar(self.calendar)}"))
        rows.append(("Audio", self.audio_output.label))
        rows += [("Problem", problem) for problem in self.context.problems()]
        if self._errors:
            rows.append(("Last error", self._errors[-1]))
        return tuple(rows)

    def _refresh(self) -> None:
        if not self.asleep:
            screen = self.screen()
            if screen != self._last_screen:
                self._last_screen = screen
                self.display.show(screen)
        current = self.current
        self.status = replace(
            self.status,
            mode=self.mode,
            playlist_id=current.playlist.id if current else self.selected,
            playlist=current.playlist.title if current else None,
            track_id=current.track.id if current else None,
            title=current.track.title if current else None,
            artist=current.track.artist if current else None,
            position_ms=current.position_ms if current else 0,
            volume=self.volume,
            screen=type(self._last_screen).__name__,
            display_asleep=self.asleep,
            plays_started=self.accounting.plays_started,
            errors=tuple(self._errors),
            tenant_state=self.enrollment.state if self.enrollment else None,
            claim_code=self.enrollment.claim_code if self.enrollment else None,
            sync_state=describe_sync(self.sync) if self.sync else None,
            output=self.audio_output.label,
        )


def describe_calendar(calendar: Calendar) -> str:
    if calendar.clock_unsynced:
        return "clock not synced: hours and schedule ignored"
    state = "open" if calendar.is_open else "closed"
    return f"{state}, schedule {calendar.scheduled}" if calendar.scheduled else state


def describe_sync(sync: SyncProgress) -> str:
    if sync.state == "downloading" and sync.bytes_total:
        percent = 100 * sync.bytes_done // sync.bytes_total
        return f"{sync.files_done}/{sync.files_total} files, {percent}%"
    return f"{sync.state} {sync.detail}".strip()
