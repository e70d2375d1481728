"""The systemd units: valid, sandboxed, and the daemon speaks the notify protocol."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.sim.process import KioskProcess

UNITS = sorted(
    p
    for p in (Path(__file__).parents[2] / "systemd").iterdir()
    if p.suffix in (".service", ".path")
)
JUKEBOX = Path(sys.executable).parent / "jukebox"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, unit: Path) -> None:
    # The image installs the project in /opt/jukebox/venv; here, point at this checkout's one.
    # All units side by side, as installed, so that a unit naming another finds it.
    for each in UNITS:
        text = each.read_text().replace("/opt/jukebox/venv/bin/jukebox", str(JUKEBOX))
        (tmp_path / each.name).write_text(text)
    result = analyze("verify", str(tmp_path / unit.name))
    assert result.returncode == 0, result.stderr
    assert unit.name not in result.stderr, result.stderr


def test_the_daemon_unit_is_sandboxed() -> None:
    result = analyze("security", "--offline=true", str(UNITS[0].parent / "jukebox.service"))
    exposure = re.search(r"Overall exposure level for jukebox.service: ([0-9.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 3.0


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    yield sock, path
    sock.close()


def test_the_daemon_says_ready_and_the_core_loop_keeps_the_watchdog_fed(
    tmp_path: Path, notify_socket: tuple[socket.socket, Path]
) -> None:
    sock, path = notify_socket
    (tmp_path / "jukebox.toml").write_text(
        '[device]\nstate_dir = "state"\n[audio]\nbackend = "null"\n[display]\ndriver = "none"\n'
    )
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"}
    kiosk = KioskProcess(tmp_path / "jukebox.toml", tmp_path / "control.sock", env=env)
    kiosk.start()
    try:
        messages = [sock.recv(4096).decode() for _ in range(3)]
        assert messages[0].startswith("READY=1\nSTATUS=kiosk ")
        assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]  # every second, from the core
        kiosk.connect()
        assert kiosk.quit() == 0
        while (message := sock.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert message == "STOPPING=1"
    finally:
        kiosk.close()
