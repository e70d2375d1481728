"""Button edge to sound: from a GPIO edge to mpv's playback-restart for a cached track.

The whole real path runs in this process: a gpiozero MockFactory pin edge, GpioPanel's
callback, the core's queue and thread, the play journal (SQLite, synchronous=FULL), MpvPlayer
and libmpv (ao=null). Beside it, in the same run, the time the `mpv` command needs to start
the same file: the figure a kiosk that spawns mpv per track would pay.

    .venv/bin/python bench/button_latency.py [--presses 50]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from gpiozero.pins.mock import MockFactory
from mpv_baseline import mpv_cli_start_seconds

from contract.media import MediaCache
from demo.tracks import TrackSpec, synthesise_track
from device.buttons.gpio_panel import GpioPanel
from device.config import parse_config
from device.content.folder import FolderContentSource
from device.core.kiosk import Kiosk
from device.display.luma_display import NullDisplay
from device.events import Event, PlaybackStarted, Shutdown
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity
from device.platform.clock import SystemClock
from device.player.mpv_player import MpvPlayer


class TimedInbox(queue.Queue[Event]):
    """The core's queue, noting when each PlaybackStarted arrives (on mpv's thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: queue.Queue[tuple[int, float]] = queue.Queue()

    def put(self, item: Event, block: bool = True, timeout: float | None = None) -> None:
        if isinstance(item, PlaybackStarted):
            self.started.put((item.token, time.monotonic()))
        super().put(item, block, timeout)


def describe(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    p95 = statistics.quantiles(ms, n=20)[18]
    median = statistics.median(ms)
    return f"{name:<44} median {median:6.1f} ms   p95 {p95:6.1f} ms   (n={len(ms)})"


def kiosk_presses(folder: Path, presses: int) -> list[float]:
    content = folder / "content"
    for i in range(3):
        synthesise_track(content / f"t{i}.flac", TrackSpec(f"T{i}", "Bench", 30.0))
    (content / "playlists.toml").write_text(
        '[[playlist]]\nid = "bench"\ntitle = "Bench"\ntracks = ["t0.flac", "t1.flac", "t2.flac"]\n'
    )
    document = {
        "device": {"state_dir": str(folder / "state")},
        "audio": {"backend": "null"},
        "display": {"driver": "none"},
        "buttons": [{"name": "next", "pin": 27, "press": "next", "bounce_ms": 0}],
    }
    config = parse_config(document, "bench")
    cache = MediaCache(config.device.cache_dir)
    library = FolderContentSource(content, cache).load()
    identity = JournalIdentity("bench", "bench", "bench", "0", "bench")
    journal = PlayJournal(config.device.journal_path, identity)
    inbox = TimedInbox()
    player = MpvPlayer(inbox.put, cache.root, ao="null")
    factory = MockFactory()
    panel = GpioPanel(config.buttons, None, factory)
    panel.start(inbox.put)
    kiosk = Kiosk(config, player, NullDisplay(), journal, SystemClock(), library, events=inbox)
    core = threading.Thread(target=kiosk.run, name="core")
    core.start()
    pin = factory.pin(27)
    latencies = []
    try:
        for press in range(presses + 3):
            time.sleep(0.15)  # let the previous track settle, as a visitor would
            while not inbox.started.empty():
                inbox.started.get_nowait()
            edge = time.monotonic()
            pin.drive_low()
            _, started = inbox.started.get(timeout=10)
            pin.drive_high()
            if press >= 3:  # the first presses warm up mpv's decoders and caches
                latencies.append(started - edge)
    finally:
        inbox.put(Shutdown("bench done"))
        core.join(timeout=10)
        panel.close()
        player.close()
        journal.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kiosk = kiosk_presses(folder, args.presses)
        track = next((folder / "state" / "cache" / "media").rglob("*"))
        while track.is_dir():
            track = next(track.iterdir())
        cli = mpv_cli_start_seconds(track, runs=min(args.presses, 20))
    print(f"button edge to playback-restart, {args.presses} presses, same cached 30 s FLAC:")
    print(describe("kiosk (gpiozero edge -> core -> libmpv)", kiosk))
    print(describe("`mpv` command spawn to playing (baseline)", cli))
    ratio = statistics.median(cli) / statistics.median(kiosk)
    print(f"the kiosk answers {ratio:.1f}x faster than starting mpv per track (median)")


if __name__ == "__main__":
    main()
