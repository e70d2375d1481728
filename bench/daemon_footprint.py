"""The daemon's memory while playing, beside the `mpv` command playing the same file; idle CPU.

Runs `jukebox run --simulate` as its own process (mock pins, mpv with ao=null, no screen
driver) and, in the same run, the bare `mpv` command (ao=null, no video, no config) on the same
FLAC file; both play for the same time, then the kernel's own accounting is read in /proc:
peak RSS (VmHWM), where the resident memory is now (smaps_rollup: private or shared, anonymous
or file-backed) and the largest mappings by file (smaps: libraries, Python extensions, [heap]
and anonymous memory). The ratio daemon / mpv command is the issue 17 figure (aim <= 1.3).

    .venv/bin/python bench/daemon_footprint.py [--play-seconds 10] [--idle-seconds 30]
                                               [--top 12] [--runs 3]

Start to READY is bench/start_ready.py. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from demo.tracks import TrackSpec, synthesise_track
from device.sim.process import HEADLESS_FOLDER_CONFIG, KioskProcess

CONFIG = HEADLESS_FOLDER_CONFIG
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024.0


@dataclass(frozen=True)
class Footprint:
    """One process's memory, KiB, read from /proc while it plays."""

    peak_kib: int  # VmHWM
    rollup: dict[str, int]  # smaps_rollup: Rss, Pss, Private_Dirty, Shared_Clean, ...
    by_file: Counter[str]  # Rss per mapped file ([heap], [anon] for the nameless)

    @property
    def private_kib(self) -> int:
        return self.rollup.get("Private_Clean", 0) + self.rollup.get("Private_Dirty", 0)

    @property
    def shared_kib(self) -> int:
        return self.rollup.get("Shared_Clean", 0) + self.rollup.get("Shared_Dirty", 0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def footprint(pid: int) -> Footprint:
    rollup: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            rollup[key] = int(rest.split()[0])
    by_file: Counter[str] = Counter()
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:  # a mapping's first line
            name = _library(head[5]) if len(head) == 6 else "[anon]"
        elif line.startswith("Rss:"):
            by_file[name] += int(line.split()[1])
    return Footprint(status_kib(pid, "VmHWM"), rollup, by_file)


def _library(path: str) -> str:
    """A short name: libavcodec.so.59, _multiarray_umath…so, [heap], [stack]."""
    path = path.strip()
    return path if path.startswith("[") else Path(path).name


def mpv_command_footprint(track: Path, seconds: float) -> Footprint:
    process = subprocess.Popen(
        ["mpv", "--no-config", "--ao=null", "--vo=null", "--no-video", "--", str(track)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(seconds)
        if process.poll() is not None:
            raise SystemExit(f"mpv stopped early (exit {process.returncode})")
        return footprint(process.pid)
    finally:
        process.kill()
        process.wait()


def daemon_footprint(
    root: Path, seconds: float, idle_s: float
) -> tuple[Footprint, float, dict[str, Any]]:
    kiosk = KioskProcess(root / "jukebox.toml", root / "control.sock")
    kiosk.start()
    try:
        client = kiosk.connect()
        assert kiosk.process is not None
        pid = kiosk.process.pid
        kiosk.wait_until(lambda s: s["playlist_id"] is not None, 30, "the playlist")
        idle_per_minute = 0.0
        if idle_s > 0:
            time.sleep(2)
            before = cpu_seconds(pid)
            time.sleep(idle_s)
            idle_per_minute = (cpu_seconds(pid) - before) * 60 / idle_s
        client.send(cmd="tap", button="play")
        time.sleep(seconds)
        status = client.send(cmd="status")["status"]
        return footprint(pid), idle_per_minute, status
    finally:
        kiosk.quit()


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0]


def mib(kib: float) -> str:
    return f"{kib / MIB:6.1f} MiB"


def describe(name: str, fp: Footprint, top: int) -> None:
    r = fp.rollup
    print(f"{name}: peak RSS {mib(fp.peak_kib)}, now RSS {mib(r.get('Rss', 0))}")
    print(
        f"  private {mib(fp.private_kib)} (anonymous {mib(r.get('Anonymous', 0))}),"
        f" shared {mib(fp.shared_kib)}, PSS {mib(r.get('Pss', 0))}"
    )
    rows = ", ".join(f"{n} {kib / MIB:.1f}" for n, kib in fp.by_file.most_common(top))
    print(f"  largest resident mappings (MiB): {rows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--play-seconds", type=float, default=10.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        track = synthesise_track(root / "content" / "a.flac", TrackSpec("A", "Bench", 120.0))
        (root / "content" / "playlists.toml").write_text(
            '[[playlist]]\nid = "a"\ntitle = "A"\ntracks = ["a.flac"]\n'
        )
        (root / "jukebox.toml").write_text(CONFIG)
        daemons, commands, idle, loads = [], [], 0.0, []
        for run in range(args.runs):  # interleaved: a burst of load hits both
            daemon, idle_now, status = daemon_footprint(
                root, args.play_seconds, args.idle_seconds if run == 0 else 0.0
            )
            idle = idle_now if run == 0 else idle
            daemons.append(daemon)
            commands.append(mpv_command_footprint(track, args.play_seconds))
            loads.append(loadavg())

    peak_d = statistics.median(d.peak_kib for d in daemons)
    peak_m = statistics.median(m.peak_kib for m in commands)
    print(
        f"peak RSS while playing the same 120 s FLAC for {args.play_seconds:g} s, ao=null,"
        f" median of {args.runs} (load average {', '.join(loads)}):"
    )
    print(f"  jukebox run --simulate ({status['mode']})   {mib(peak_d)}")
    print(f"  mpv command (baseline)                {mib(peak_m)}")
    print(f"  daemon / mpv command                  {peak_d / peak_m:6.2f}x   (aim <= 1.3x)")
    describe("daemon (last run)", daemons[-1], args.top)
    describe("mpv command (last run)", commands[-1], args.top)
    extra = daemons[-1].by_file.copy()
    extra.subtract(commands[-1].by_file)
    rows = ", ".join(f"{n} {kib / MIB:+.1f}" for n, kib in extra.most_common(args.top))
    print(f"where the daemon's extra resident memory is (MiB): {rows}")
    if args.idle_seconds > 0:
        print(
            f"CPU while idle on the attract screen: {idle:.3f} s per minute "
            f"(measured over {args.idle_seconds:.0f} s)"
        )


if __name__ == "__main__":
    main()
