"""The kiosk core: the one thread that owns the kiosk's state.

Adapters post events on `Kiosk.post` from their own threads; `run` takes them one at a time,
together with the deadlines its controllers ask for (holds, overlays, idle timeout, burn-in,
calendar, start timeout), and hands the work to plain controller objects, all called on this
thread (Mopidy's core and its controllers):

- `PlaybackController` (playback.py): what plays, what is queued, failures, play accounting;
- `VisitorController` (visitor.py): presses, presence, idle resets, screen dim and sleep;
- `DefaultsController` (defaults.py): the tenant's desired state, calendar and autoplay;
- `Mixer` (volume.py), `AudioOutputs` (outputs.py), `Notices` (notices.py): volume under its
  rules, the sound card in use, toasts and errors.

The screen (screens.py) and the status snapshot (status.py) are pure functions of its state.

Size: the loop, the dispatch of the closed event set and the read-only views tests and
adapters use (a little over 400 lines); every behaviour lives in a controller.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import tzinfo

from device.config import KioskConfig
from device.core.accounting import Play
from device.core.defaults import CALENDAR_CHECK_S, DefaultsController
from device.core.desired import Calendar, DesiredState
from device.core.notices import Notices
from device.core.outputs import AudioOutputs
from device.core.playback import START_TIMEOUT_S, PlaybackController
from device.core.screens import (
    KioskContext,
    Rows,
    ScreenState,
    TechnicianState,
    screen_for,
    technician_rows,
)
from device.core.selftest import SelfTest
from device.core.status import KioskStatus, Mode, status_after
from device.core.visitor import VisitorController
from device.core.volume import Mixer, VolumeRules
from device.display.model import Screen, StickScreen
from device.display.texts import EN, Language, Texts, texts_for
from device.domain import EMPTY_LIBRARY, Action, EndReason, Library, PlaylistId
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
    SettingsChanged,
    Shutdown,
    SoundCardsChanged,
    StickReport,
    StorageAttached,
    StorageDetached,
    SyncProgress,
)
from device.journal.outbox import PlayJournal
from device.platform.mailbox import Mailbox
from device.ports import Clock, Display, Player

# Names adapters and tests import from here; they live in the controllers' modules.
__all__ = ["CALENDAR_CHECK_S", "START_TIMEOUT_S", "Kiosk", "KioskContext", "KioskStatus", "Mode"]

log = logging.getLogger(__name__)

STICK_TOAST_S = 10.0  # a technician reads it standing at the kiosk
MAX_WAIT_S = 5.0  # the loop wakes at least this often (the systemd watchdog rides on it)


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
    on_tick: Callable[[], None] | None = None  # after every round, e.g. the watchdog keep-alive

    def __post_init__(self) -> None:
        self.mixer = Mixer(self.player, VolumeRules.from_config(self.config.audio))
        self.notices = Notices(self.clock)
        self.visitor = VisitorController(self)
        self.defaults = DefaultsController(self)
        self.playback = PlaybackController(self)
        self.running = False
        self.status = KioskStatus()
        self.content_loaded = bool(self.library.playlists)
        self.enrollment: EnrollmentChanged | None = None
        self.sync: SyncProgress | None = None
        self.outputs = AudioOutputs(self.config.audio, self.player)
        self.selftest = SelfTest(self)
        self._last_screen: Screen | None = None
        self._mailbox: Mailbox[Event] | None = None  # while `run` serves events

    # ------------------------------------------------------------------ thread edge

    def post(self, event: Event) -> None:
        """Thread-safe: the only way other threads talk to the core."""
        self.events.put(event)

    def run(self) -> None:
        """Process events and deadlines until a Shutdown event arrives."""
        self._mailbox = Mailbox[Event](
            "core",
            self.handle,
            tick=self._tick_and_keep_alive,
            next_deadline=self.next_deadline,
            max_wait_s=MAX_WAIT_S,
            drain=False,
            monotonic=self.clock.monotonic,
            inbox=self.events,
        )
        self.start()
        try:
            self._mailbox.run()
        finally:
            self._mailbox = None
        self.finish()

    def _tick_and_keep_alive(self) -> None:
        try:
            self.tick()
        finally:
            if self.on_tick is not None:
                self.on_tick()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.running = True
        self.mixer.apply()
        self.playback.selected = self.defaults.featured_id()
        featured, started_by = self.defaults.default()
        if self.defaults.may_autoplay() and featured is not None:
            self.playback.start_playlist(featured, started_by)
        self._refresh()

    def finish(self) -> None:
        """Close the open play as stopped: an orderly shutdown is not an interruption."""
        self.playback.end_current(EndReason.STOPPED)
        self.player.stop()
        self.running = False

    # ------------------------------------------------------------------ events

    def handle(self, event: Event) -> None:
        if self.selftest.take(event):  # presses, turns and the tone, while it runs
            self._refresh()
            return
        match event:
            case ButtonDown(button=name, at=at):
                if not self._act_all(self.visitor.button_down(name, at)):
                    return
            case ButtonUp(button=name, at=at):
                if not self._act_all(self.visitor.button_up(name, at)):
                    return
            case Rotated(steps=steps):
                if not self._act_all(self.visitor.rotated(steps)):
                    return
            case PlaybackStarted(token=token, duration_ms=duration):
                self.playback.on_started(token, duration)
            case PlaybackProgress(token=token, position_ms=position):
                self.playback.on_progress(token, position)
            case PlaybackEnded(token=token, outcome=outcome, error=error):
                self.playback.on_ended(token, outcome, error)
            case LibraryUpdated(library=library):
                self._on_library(library)
            case EnrollmentChanged():
                self._on_enrollment(event)
            case SyncProgress():
                self.sync = event
            case SoundCardsChanged(cards=cards):
                self.outputs.cards_changed(cards)
            case StickReport():
                self._on_stick(event)
            case DesiredStateReceived(state=state):
                self.defaults.apply(state)
            case SettingsChanged(config=config):
                self.defaults.reconfigure(config)
            case IdentifyRequested(seconds=seconds):
                self.notices.identify(seconds)
                if self.visitor.asleep:
                    self.visitor.wake()
            case StorageAttached() | StorageDetached():
                log.info("storage: %r", event)
            case Shutdown(reason=reason):
                log.info("shutting down: %s", reason)
                self.running = False
                if self._mailbox is not None:
                    self._mailbox.stop()  # after this round's tick
        self._refresh()

    def _act_all(self, actions: list[Action] | None) -> bool:
        """Act on each; False for input swallowed to wake the screen (the next tick redraws)."""
        if actions is None:
            return False
        for action in actions:
            self.act(action)
        return True

    def act(self, action: Action) -> None:
        """A visitor (or technician) action; every one of them counts as presence."""
        self.visitor.arrived(self.clock.monotonic())
        self.playback.cancel_reset()
        log.info("action %s in %s", action.value, self.mode.value)
        if action is Action.PLAY_PAUSE and self.visitor.technician:
            self.selftest.start()  # ▶ on the technician screen
            self._refresh()
            return
        if action is not Action.TECHNICIAN:
            self.visitor.technician = False
            if self.revoked:
                self.notices.toast(self.texts.withdrawn, self.texts.ask_staff)
                self._refresh()
                return
        match action:
            case Action.PLAY_PAUSE:
                self.playback.play_pause()
            case Action.NEXT:
                self.playback.step(+1)
            case Action.PREVIOUS:
                self.playback.step(-1)
            case Action.NEXT_PLAYLIST:
                self.playback.next_playlist()
            case Action.VOLUME_UP | Action.VOLUME_DOWN:
                self.visitor.change_volume(1 if action is Action.VOLUME_UP else -1)
            case Action.TECHNICIAN:
                self.visitor.technician = not self.visitor.technician
        self._refresh()

    # ------------------------------------------------------------------ deadlines

    def next_deadline(self) -> float | None:
        candidates = [
            self.visitor.gestures.next_deadline(),
            *self.notices.deadlines(),
            self.defaults.deadline(),
            self.visitor.presence_deadline(),
            self.playback.deadline(),
            self.selftest.deadline(),
            *self.visitor.screen_deadlines(self.mode),
        ]
        return min((c for c in candidates if c is not None), default=None)

    def tick(self) -> None:
        """Everything due now, in a fixed order: holds, overlays, calendar, presence, start
        timeout, then the screen's sleep."""
        now = self.clock.monotonic()
        for action in self.visitor.gestures.poll(now):
            self.act(action)
        self.notices.expire(now)
        self.defaults.tick(now)
        self.visitor.check_presence(now)
        self.playback.tick(now)
        self.selftest.tick(now)
        self.visitor.check_sleep(now, self.mode)
        self._refresh()

    # ------------------------------------------------------------------ tenant, content, usb

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
            self.playback.end_current(EndReason.STOPPED)
            self.playback.go_idle(keep_selection=True)

    def _on_library(self, library: Library) -> None:
        """A new library applies at once when idle; while playing, the current play goes on."""
        before = self.defaults.key()
        self.library = library
        self.content_loaded = True
        self.status = replace(
            self.status, playlists=len(library.playlists), tracks=library.available_tracks
        )
        if self.library.find(self.playback.selected) is None:
            self.playback.selected = self.defaults.featured_id()
        log.info(
            "library updated: %d playlists, %d/%d tracks available",
            len(library.playlists),
            library.available_tracks,
            library.total_tracks,
        )
        # A new default (the first content after boot or a claim, a pushed or scheduled
        # playlist that arrived) is selected, and autoplayed, when nobody is listening.
        self.defaults.changed(before)

    def _on_stick(self, report: StickReport) -> None:
        """Shown in the kiosk's language now; noted for the status and logs in English."""
        words = self.texts
        lines = tuple(line.say(words) for line in report.lines)
        self.notices.show(StickScreen(report.ok, report.title.say(words), lines), STICK_TOAST_S)
        if not report.ok:
            said = "; ".join(line.say(EN) for line in report.lines)
            self.notices.note_error(f"stick: {report.title.say(EN)}: {said}")

    # ------------------------------------------------------------------ screen and status

    def screen(self) -> Screen:
        if self.selftest.active:
            return self.selftest.screen()
        visitor = self.visitor
        return screen_for(
            ScreenState(
                technician=self.technician_rows() if visitor.technician else None,
                identify=self.notices.identify_until is not None,
                device_name=self.config.device.name,
                device_id=self.context.device_id,
                firmware_version=self.context.firmware_version,
                overlay=self.notices.overlay,
                enrollment=self.enrollment,
                mode=self.mode,
                current=self.current,
                selected=self.playback.selected_playlist(),
                content_loaded=self.content_loaded,
                idle_for=self.clock.monotonic() - visitor.idle_since,
                dim_after_s=self.config.display.dim_after_s,
                move_every_s=self.config.display.move_every_s,
                language=self.language,
            )
        )

    def technician_rows(self) -> Rows:
        errors = self.notices.errors  # the journal, addresses and problems read in this order
        return technician_rows(
            TechnicianState(
                journal=self.journal.stats(),
                device_id=self.context.device_id,
                firmware_version=self.context.firmware_version,
                addresses=self.context.addresses(),
                library=self.library,
                volume=self.volume,
                rules=self.rules,
                enrollment=self.enrollment,
                sync=self.sync,
                desired=self.desired,
                calendar=self.calendar,
                audio_output=self.outputs.choice,
                problems=self.context.problems(),
                last_error=errors[-1] if errors else None,
                language=self.language,
                self_test=self.selftest.describe(),
            )
        )

    def _refresh(self) -> None:
        if not self.visitor.asleep:
            screen = self.screen()
            if screen != self._last_screen:
                self._last_screen = screen
                self.display.show(screen)
        self.status = status_after(
            self.status,
            mode=self.mode,
            current=self.current,
            selected=self.playback.selected,
            volume=self.volume,
            screen=type(self._last_screen).__name__,
            asleep=self.visitor.asleep,
            plays_started=self.playback.accounting.plays_started,
            errors=tuple(self.notices.errors),
            enrollment=self.enrollment,
            sync=self.sync,
            output=self.outputs.choice.label,
            selftest=self.selftest.last.summary() if self.selftest.last else None,
        )

    # ------------------------------------------------------------------ the controllers' state

    @property
    def mode(self) -> Mode:
        return self.playback.mode

    @property
    def current(self) -> Play | None:
        return self.playback.current

    @property
    def selected(self) -> PlaylistId | None:
        return self.playback.selected

    @property
    def volume(self) -> int:
        return self.mixer.volume

    @property
    def rules(self) -> VolumeRules:
        return self.mixer.rules

    @property
    def language(self) -> Language:
        return self.defaults.language()

    @property
    def texts(self) -> Texts:
        """The words of the screens, in the kiosk's language now."""
        return texts_for(self.language)

    @property
    def desired(self) -> DesiredState | None:
        return self.defaults.desired

    @property
    def calendar(self) -> Calendar:
        return self.defaults.calendar

    @property
    def identify_until(self) -> float | None:
        return self.notices.identify_until
