"""How soon mpv makes sound: the mpv command line versus MpvPlayer kept running in-process.

Visitors judge a kiosk by the time from a button press to sound. Spawning `mpv` for each
track (what several peers do) pays process start, config and script loading every time; the
kiosk keeps one libmpv running and only loads a file. This measures both, prints figures and
asserts nothing. The button-to-sound benchmark reuses `mpv_cli_start_seconds`.

    .venv/bin/python bench/mpv_baseline.py [--runs 50] [--seconds 3]
"""

from __future__ import annotations

import argparse
import math
import queue
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from demo.tracks import TrackSpec, synthesise_track
from device.domain import PlayItem
from device.events import Event, PlaybackEnded, PlaybackStarted
from device.player.mpv_player import MpvPlayer

PLAYING_MSG = "PLAYING"


def mpv_cli_start_seconds(path: Path, runs: int, *, timeout_s: float = 10.0) -> list[float]:
    """Seconds from spawning `mpv` until it prints its playing message, once per run.

    The message (--term-playing-msg) is printed when playback of the file starts; mpv is
    killed as soon as it appears, so the track's length does not matter.
    """
    command = [
        "mpv",
        "--no-config",
        "--ao=null",
        "--vo=null",
        "--no-video",
        f"--term-playing-msg={PLAYING_MSG}",
        "--",
        str(path.resolve()),
    ]
    results: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        watchdog = threading.Timer(timeout_s, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.strip() == PLAYING_MSG.encode():
                    results.append(time.perf_counter() - start)
                    break
            else:
                raise RuntimeError(f"mpv ended without printing {PLAYING_MSG!r}: {command}")
        finally:
            watchdog.cancel()
            process.kill()
            process.wait()
    return results


def mpv_player_start_seconds(path: Path, runs: int, *, timeout_s: float = 10.0) -> list[float]:
    """Seconds from MpvPlayer.play() until its PlaybackStarted reaches the caller's queue.

    One player serves every run, as on the kiosk; each run is stopped before the next.
    """
    return _mpv_player_runs(path, runs, timeout_s)[0]


def _mpv_player_runs(path: Path, runs: int, timeout_s: float) -> tuple[list[float], list[float]]:
    """(play() -> PlaybackStarted, time spent inside play()) in seconds, per run."""
    events: queue.Queue[Event] = queue.Queue()
    player = MpvPlayer(events.put, path.parent, ao="null")

    def wait_for(kind: type[PlaybackStarted | PlaybackEnded], token: int) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(event, PlaybackEnded) and event.outcome == "error":
                raise RuntimeError(f"MpvPlayer could not play {path}: {event.error}")
            if isinstance(event, kind) and event.token == token:
                return

    to_sound: list[float] = []
    in_call: list[float] = []
    try:
        for token in range(1, runs + 1):
            start = time.perf_counter()
            player.play(PlayItem(token, path))
            in_call.append(time.perf_counter() - start)
            wait_for(PlaybackStarted, token)
            to_sound.append(time.perf_counter() - start)
            player.stop()
            wait_for(PlaybackEnded, token)
    finally:
        player.close()
    return to_sound, in_call


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was really measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _row(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<34} {statistics.median(ms):8.1f} {_percentile(ms, 0.95):8.1f}"
        f" {min(ms):8.1f} {max(ms):8.1f} {ms[0]:8.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the test track")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        track = synthesise_track(
            Path(folder) / "cache" / "track.flac", TrackSpec("Bench", "Bench", args.seconds)
        )
        version = subprocess.run(
            ["mpv", "--no-config", "--version"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[0]

        started = time.perf_counter()
        MpvPlayer(lambda _event: None, track.parent, ao="null").close()
        construction_ms = (time.perf_counter() - started) * 1000

        cli = mpv_cli_start_seconds(track, args.runs)
        in_process, in_call = _mpv_player_runs(track, args.runs, timeout_s=10.0)

    print(f"{version}; {args.runs} runs each; {args.seconds:g} s FLAC; ao=null")
    print(f"{'ms':<34} {'median':>8} {'p95':>8} {'min':>8} {'max':>8} {'first':>8}")
    print(_row("mpv CLI: spawn -> playing message", cli))
    print(_row("MpvPlayer: play() -> Started", in_process))
    print(_row("MpvPlayer: time inside play()", in_call))
    print(f"MpvPlayer construction + close (once, at boot): {construction_ms:.1f} ms")


if __name__ == "__main__":
    main()
