"""Start to READY: from spawning `jukebox run --simulate` to its systemd READY=1, per kiosk kind.

READY is the daemon's own sd_notify message (device/platform/systemd.py), received here on a
NOTIFY_SOCKET of our own, so the figure is what systemd would see: process start, imports,
configuration, the boot screen, the journal, libmpv, the buttons, the core. Two kiosks: one
playing a local content folder, one linked with a tenant (an address nobody answers: READY
never waits for the network); and the folder kiosk again without the dataclass method cache
(`JUKEBOX_NO_METHOD_CACHE=1`), its baseline. Beside them, in the same run, the bare interpreter
(`python -c pass`) and the imports alone (`python -c "import device.daemon"`).

    .venv/bin/python bench/start_ready.py [--starts 7] [--importtime]

`--importtime` also prints the slowest imports (`python -X importtime`) of a folder kiosk's
and a tenant kiosk's start, cumulative microseconds. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demo.tracks import TrackSpec, synthesise_track
from device.platform.method_cache import DISABLE_VARIABLE, cache_path
from device.sim.process import HEADLESS_FOLDER_CONFIG

FOLDER_CONFIG = HEADLESS_FOLDER_CONFIG
# A tenant nobody answers on (port 9 is discard; nothing listens on loopback here).
TENANT_CONFIG = FOLDER_CONFIG + '\n[tenant]\nurl = "http://127.0.0.1:9/t/bench"\n'
KIOSKS = {"folder kiosk": "folder.toml", "tenant kiosk": "tenant.toml"}
# The same folder kiosk compiling its dataclasses' methods as Python does (issue 17): the
# cache's baseline in the same run (device/platform/method_cache.py).
NO_CACHE = "folder kiosk, no method cache"


def prepare(root: Path) -> None:
    synthesise_track(root / "content" / "a.flac", TrackSpec("A", "Bench", 5.0))
    (root / "content" / "playlists.toml").write_text(
        '[[playlist]]\nid = "a"\ntitle = "A"\ntracks = ["a.flac"]\n'
    )
    (root / "folder.toml").write_text(FOLDER_CONFIG)
    (root / "tenant.toml").write_text(TENANT_CONFIG)


def command(root: Path, config: str, *python_options: str) -> list[str]:
    return [
        sys.executable, *python_options, "-m", "jukebox", "run", "--simulate", "--no-keyboard",
        "--config", str(root / config), "--control-socket", str(root / "control.sock"),
    ]  # fmt: skip


def to_ready(
    root: Path, config: str, *python_options: str, method_cache: bool = True
) -> tuple[float, str]:
    """Seconds from spawn to READY=1, and the process's stderr (for -X importtime)."""
    address = root / "notify.sock"
    address.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(address))
        notify.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=str(address))
        env.pop(DISABLE_VARIABLE, None)
        if not method_cache:
            env[DISABLE_VARIABLE] = "1"
        began = time.monotonic()
        process = subprocess.Popen(
            command(root, config, *python_options),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while b"READY=1" not in notify.recv(4096):
                pass
            seconds = time.monotonic() - began
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
    return seconds, stderr


def python_seconds(code: str) -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.monotonic() - began


def slowest_imports(stderr: str, count: int) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the slowest top-level-or-nested imports in -X importtime."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative_us, name = line.split(":", 1)[1].split("|")
        rows.append((int(cumulative_us), name.rstrip()))
    seen: set[str] = set()
    unique = []
    for micros, name in sorted(rows, reverse=True):
        if name.strip() not in seen:
            seen.add(name.strip())
            unique.append((micros, name))
    return unique[:count]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="start-bench-") as tmp:
        root = Path(tmp)
        prepare(root)
        to_ready(root, "folder.toml")  # warm the page cache and create the tenant kiosk's key
        to_ready(root, "tenant.toml")
        figures: dict[str, list[float]] = {name: [] for name in [*KIOSKS, NO_CACHE]}
        bare, imports = [], []
        for _ in range(args.starts):  # interleaved, so a burst of load hits every figure
            bare.append(python_seconds("pass"))
            imports.append(python_seconds("import device.daemon"))
            for name, config in KIOSKS.items():
                figures[name].append(to_ready(root, config)[0])
            figures[NO_CACHE].append(to_ready(root, "folder.toml", method_cache=False)[0])
        offenders = {}
        if args.importtime:
            for name, config in KIOSKS.items():
                offenders[name] = slowest_imports(to_ready(root, config, "-X", "importtime")[1], 25)

    base = statistics.median(bare)
    print(f"start to READY=1, median of {args.starts} (load average {loadavg()} at the end):")
    for name, seconds in figures.items():
        median = statistics.median(seconds)
        print(
            f"  jukebox run --simulate, {name:<13} {median:6.3f} s   max {max(seconds):6.3f} s"
            f"   {median / base:5.1f}x the bare interpreter"
        )
    cache_ratio = statistics.median(figures["folder kiosk"]) / statistics.median(figures[NO_CACHE])
    print(f"  folder kiosk with the method cache: {cache_ratio:.2f}x its start without")
    print(f"  python -c 'import device.daemon'     {statistics.median(imports):6.3f} s")
    cached = cache_path()
    state = (
        f"{cached.stat().st_size // 1024} KiB" if cached.exists() else "missing (not yet written)"
    )
    print(f"  dataclass method cache: {state}, {cached}")
    print(f"  python -c pass (baseline)            {base:6.3f} s")
    for name, rows in offenders.items():
        print(f"slowest imports, {name} (cumulative ms):")
        for micros, module in rows:
            print(f"  {micros / 1000:8.1f}  {module}")


if __name__ == "__main__":
    main()
