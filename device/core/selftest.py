"""The technician's active self-test, started with ▶ on the technician screen.

Three steps, each checking a part a technician cannot see from the logs: a test pattern on
the panel (PATTERN_S), a tone on the active audio output (the player must play the cache's
test tone to its end), then every configured button and both directions of the knob, each
ticked on the screen as it is pressed or turned (until all are seen, or BUTTONS_S). While it
runs, presses and turns go to the test, not to the visitor's actions, and a play in progress
is stopped (a technician is at the kiosk). The result is kept as one line for the technician
screen, the status snapshot and the `diagnostics` command (device/remote/diagnostics.py).
A plain object called on the core's thread, like the other controllers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from device.display.model import (
    Screen,
    SelfTestScreen,
    SelfTestStep,
    TestPatternScreen,
    ToneResult,
)
from device.display.texts import EN, Texts
from device.domain import EndReason, PlayItem
from device.events import (
    ButtonDown,
    ButtonUp,
    Event,
    PlaybackEnded,
    PlaybackProgress,
    PlaybackStarted,
    Rotated,
)

if TYPE_CHECKING:
    from device.core.kiosk import Kiosk

log = logging.getLogger(__name__)

PATTERN_S = 3.0
TONE_TIMEOUT_S = 10.0  # half a second of tone; mpv opening a sound card can take a while
BUTTONS_S = 45.0
DONE_S = 5.0  # the outcome stays on screen this long
CLOCKWISE, COUNTER_CLOCKWISE = "+", "-"


@dataclass(frozen=True)
class SelfTestResult:
    tone: ToneResult
    tone_problem: str | None
    seen: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.tone == "ok" and not self.missing

    def summary(self, words: Texts = EN) -> str:
        """English for the status and diagnostics; the technician row passes the kiosk's words."""
        tone = {
            "playing": words.self_test_tone_playing,
            "ok": words.self_test_tone_ok,
            "failed": words.self_test_tone_failed,
        }[self.tone] + (f" ({self.tone_problem})" if self.tone_problem else "")
        said = words.self_test_summary.format(
            verdict=words.self_test_passed if self.ok else words.self_test_failed,
            tone=tone,
            seen=len(self.seen),
            checks=len(self.seen) + len(self.missing),
        )
        if self.missing:
            said += words.self_test_missing.format(names=", ".join(self.missing))
        return said


class SelfTest:
    def __init__(self, core: Kiosk) -> None:
        self.core = core
        self.clock = core.clock
        self.step: SelfTestStep | None = None  # None: not running
        self.pattern = False
        self.tone: ToneResult = "playing"
        self.tone_problem: str | None = None
        self.seen: set[str] = set()
        self.until = 0.0
        self.last: SelfTestResult | None = None
        self._token = 0

    @property
    def active(self) -> bool:
        return self.pattern or self.step is not None

    def start(self) -> None:
        core = self.core
        log.info("self-test started")
        core.playback.end_current(EndReason.STOPPED)
        core.playback.go_idle(keep_selection=True)
        core.visitor.technician = False
        core.visitor.went_idle()
        self.pattern, self.step, self.seen = True, None, set()
        self.tone, self.tone_problem = "playing", None
        self.until = self.clock.monotonic() + PATTERN_S

    # ------------------------------------------------------------------ steps

    def _play_tone(self) -> None:
        self.pattern, self.step = False, "tone"
        self.until = self.clock.monotonic() + TONE_TIMEOUT_S
        tone = self.core.context.test_tone
        if tone is None:
            self._tone_done("failed", "no test tone in the cache")
            return
        self._token -= 1  # negative: never one of the playback controller's tokens
        self.core.player.play(PlayItem(self._token, tone))

    def _tone_done(self, result: ToneResult, problem: str | None) -> None:
        self.tone, self.tone_problem = result, problem
        if result == "failed":
            self.core.notices.note_error(f"self-test: tone failed: {problem}")
            self.core.player.stop()
        self.step = "buttons"
        self.until = self.clock.monotonic() + BUTTONS_S
        self._check_all_seen()

    def checks(self) -> tuple[str, ...]:
        names = [b.name for b in self.core.config.buttons]
        if self.core.config.rotary is not None:
            words = self.core.texts
            names += [words.knob_clockwise, words.knob_counter_clockwise]
        return tuple(names)

    def _check_all_seen(self) -> None:
        if self.step == "buttons" and set(self.checks()) <= self.seen:
            self._finish()

    def _finish(self) -> None:
        checks = self.checks()
        self.last = SelfTestResult(
            self.tone,
            self.tone_problem,
            tuple(c for c in checks if c in self.seen),
            tuple(c for c in checks if c not in self.seen),
        )
        log.info("self-test %s", self.last.summary())
        self.step = "done"
        self.until = self.clock.monotonic() + DONE_S

    # ------------------------------------------------------------------ events and time

    def take(self, event: Event) -> bool:
        """Handle `event` if it belongs to the running test; True when it was taken."""
        if not self.active:
            return False
        match event:
            case ButtonDown(button=name):
                if self.step == "buttons":
                    self.seen.add(name)
                    self._check_all_seen()
                return True
            case ButtonUp():
                return True
            case Rotated(steps=steps):
                if self.step == "buttons" and steps:
                    words = self.core.texts
                    turned = words.knob_clockwise if steps > 0 else words.knob_counter_clockwise
                    self.seen.add(turned)
                    self._check_all_seen()
                return True
            case PlaybackStarted(token=token) | PlaybackProgress(token=token):
                return token == self._token
            case PlaybackEnded(token=token, outcome=outcome, error=error):
                if token != self._token:
                    return False
                if self.step == "tone":
                    ok = outcome == "eof"
                    self._tone_done("ok" if ok else "failed", None if ok else error or outcome)
                return True
        return False

    def deadline(self) -> float | None:
        return self.until if self.active else None

    def tick(self, now: float) -> None:
        if not self.active or now < self.until:
            return
        if self.pattern:
            self._play_tone()
        elif self.step == "tone":
            self._tone_done("failed", f"not played within {TONE_TIMEOUT_S:.0f} s")
        elif self.step == "buttons":
            self._finish()
        else:
            self.step = None  # done shown long enough: back to the kiosk's screens

    def screen(self) -> Screen:
        if self.pattern:
            return TestPatternScreen()
        seen = self.seen
        checks = tuple((name, name in seen) for name in self.checks())
        step = self.step or "done"
        return SelfTestScreen(step, self.tone, checks, self.core.language)

    def describe(self) -> str:
        """The technician row: the last result, or how to start one."""
        if self.last is None:
            return self.core.texts.self_test_hint
        return self.last.summary(self.core.texts)
