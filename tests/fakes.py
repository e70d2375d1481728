"""Fakes for the core's ports. Each real adapter is tested against its real library elsewhere
(tests/player, tests/display, tests/buttons), so the core's own tests may stand on these."""

from __future__ import annotations

from dataclasses import dataclass, field

from device.display.model import Screen
from device.domain import PlayItem
from device.ports import AudioOutput


@dataclass
class FakeClock:
    now: float = 1000.0
    wall_ms: int = 1_790_000_000_000
    synced: bool = True

    def monotonic(self) -> float:
        return self.now

    def wall_time_ms(self) -> int:
        return self.wall_ms + int((self.now - 1000.0) * 1000)

    def is_synced(self) -> bool:
        return self.synced

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakePlayer:
    """Records what the core asked; the test plays mpv's part by posting events."""

    calls: list[tuple[str, object]] = field(default_factory=list)
    playing: PlayItem | None = None
    queued: PlayItem | None = None
    paused: bool = False
    volume: int | None = None
    output: str = "auto"
    available: tuple[AudioOutput, ...] = (AudioOutput("auto", "Autoselect device"),)

    def play(self, item: PlayItem) -> None:
        self.calls.append(("play", item))
        self.playing, self.paused = item, False

    def preload(self, item: PlayItem | None) -> None:
        self.calls.append(("preload", item))
        self.queued = item

    def pause(self) -> None:
        self.calls.append(("pause", None))
        self.paused = True

    def resume(self) -> None:
        self.calls.append(("resume", None))
        self.paused = False

    def stop(self) -> None:
        self.calls.append(("stop", None))
        self.playing = self.queued = None

    def set_volume(self, percent: int) -> None:
        self.calls.append(("volume", percent))
        self.volume = percent

    def outputs(self) -> tuple[AudioOutput, ...]:
        return self.available

    def set_output(self, name: str) -> None:
        self.calls.append(("output", name))
        self.output = name

    def close(self) -> None:
        self.calls.append(("close", None))


@dataclass
class FakeDisplay:
    screens: list[Screen] = field(default_factory=list)
    asleep: bool = False

    def show(self, screen: Screen) -> None:
        self.screens.append(screen)
        self.asleep = False

    def sleep(self) -> None:
        self.asleep = True

    def wake(self) -> None:
        self.asleep = False

    def close(self) -> None:
        pass

    def last(self) -> Screen:
        return self.screens[-1]
