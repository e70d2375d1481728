"""The daemon's footprint: start to ready, peak memory while playing, CPU while idle.

Runs `jukebox run --simulate` as its own process (mock pins, mpv with ao=null, no screen
driver) and reads the kernel's own accounting in /proc. Beside each figure, a baseline from
the same run: the bare interpreter's start, and its memory.

    .venv/bin/python bench/daemon_footprint.py [--starts 5] [--idle-seconds 30]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from demo.tracks import TrackSpec, synthesise_track
from device.sim.process import KioskProcess

CONFIG = """
[device]
state_dir = "state"
content_dir = "content"
[audio]
backend = "null"
[display]
driver = "none"
[[buttons]]
name = "play"
pin = 17
press = "play_pause"
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def memory_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def start(root: Path) -> tuple[KioskProcess, float]:
    kiosk = KioskProcess(root / "jukebox.toml", root / "control.sock")
    began = time.monotonic()
    kiosk.start()
    kiosk.connect()
    return kiosk, time.monotonic() - began


def bare_python() -> tuple[float, int]:
    began = time.monotonic()
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.monotonic() - began, int(probe.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthesise_track(root / "content" / "a.flac", TrackSpec("A", "Bench", 60.0))
        (root / "content" / "playlists.toml").write_text(
            '[[playlist]]\nid = "a"\ntitle = "A"\ntracks = ["a.flac"]\n'
        )
        (root / "jukebox.toml").write_text(CONFIG)

        ready = []
        for _ in range(args.starts):
            kiosk, seconds = start(root)
            ready.append(seconds)
            kiosk.quit()

        kiosk, _ = start(root)
        assert kiosk.process is not None and kiosk.client is not None
        process, client = kiosk.process, kiosk.client
        kiosk.wait_until(lambda s: s["playlist_id"] is not None, 30, "the playlist")
        time.sleep(2)
        before = cpu_seconds(process.pid)
        time.sleep(args.idle_seconds)
        idle_per_minute = (cpu_seconds(process.pid) - before) * 60 / args.idle_seconds

        client.send(cmd="tap", button="play")
        time.sleep(10)
        status = client.send(cmd="status")["status"]
        peak = memory_kib(process.pid, "VmHWM")
        anon, files = memory_kib(process.pid, "RssAnon"), memory_kib(process.pid, "RssFile")
        kiosk.quit()

    python_start, python_rss = bare_python()
    print(f"start to ready (control socket answers), {args.starts} starts:")
    print(
        f"  jukebox run --simulate   median {statistics.median(ready):.3f} s   "
        f"max {max(ready):.3f} s"
    )
    print(f"  bare python3 -c (baseline)      {python_start:.3f} s")
    print(
        f"peak RSS while playing ({status['mode']}, {status['position_ms']} ms in): "
        f"{peak / 1024:.1f} MiB   (bare interpreter {python_rss / 1024:.1f} MiB)"
    )
    print(
        f"  of which now: private {anon / 1024:.1f} MiB, "
        f"shared libraries and files {files / 1024:.1f} MiB"
    )
    print(
        f"CPU while idle on the attract screen: {idle_per_minute:.3f} s per minute "
        f"(measured over {args.idle_seconds:.0f} s)"
    )


if __name__ == "__main__":
    main()
