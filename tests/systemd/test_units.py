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


def unit_values(unit: Path, key: str) -> list[str]:
    """Every word of every `key=` line (systemd allows a key many times)."""
    words: list[str] = []
    for line in unit.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == key:
            words += value.split()
    return words


def test_the_daemon_waits_for_its_state_partition_but_not_for_the_network_or_clock() -> None:
    """Music first (issue 17): with systemd's default dependencies the daemon would wait for
    sysinit.target, which Debian's resolved and timesyncd hold back until they run."""
    unit = UNITS[0].parent / "jukebox.service"
    assert unit_values(unit, "DefaultDependencies") == ["no"]
    after = unit_values(unit, "After")
    assert "/var/lib/jukebox" in unit_values(unit, "RequiresMountsFor")
    assert "systemd-growfs@var-lib-jukebox.service" in after  # the partition at its full size
    waits = {"sysinit.target", "basic.target", "network-online.target", "time-sync.target"}
    assert waits.isdisjoint(after)
    # What default dependencies gave and a service still needs: stopped before shutdown.
    assert "shutdown.target" in unit_values(unit, "Conflicts")
    assert "shutdown.target" in unit_values(unit, "Before")
    # While the system boots, the daemon's start goes before the services started beside it.
    assert int(unit_values(unit, "StartupCPUWeight")[0]) > 100  # systemd's default weight
    firstboot = UNITS[0].parent / "jukebox-firstboot.service"
    assert "jukebox.service" in unit_values(firstboot, "Before")


@pytest.mark.parametrize("name", ["jukebox.service", "jukebox-firstboot.service"])
def test_the_kiosks_start_waits_for_its_own_partitions_not_the_other_local_file_systems(
    name: str,
) -> None:
    """Issue 17: local-fs.target comes after the boot partition's check, and PrivateTmp=
    orders a unit after systemd-tmpfiles-setup.service, itself after the journal's flush;
    the kiosk's start needs none of them. Its /tmp and /var/tmp are still private."""
    unit = UNITS[0].parent / name
    assert unit_values(unit, "DefaultDependencies") == ["no"]
    after = set(unit_values(unit, "After"))
    assert not after & {"local-fs.target", "systemd-tmpfiles-setup.service"}
    assert unit_values(unit, "PrivateTmp") in ([], ["no"])
    private = [word.split(":")[0] for word in unit_values(unit, "TemporaryFileSystem")]
    assert set(private) == {"/tmp", "/var/tmp"}
    assert {"/var/lib/jukebox"} <= set(unit_values(unit, "RequiresMountsFor"))


def test_the_daemon_unit_is_sandboxed() -> None:
    result = analyze("security", "--offline=true", str(UNITS[0].parent / "jukebox.service"))
    exposure = re.search(r"Overall exposure level for jukebox.service: ([0-9.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 3.0


def syscall_group(name: str, seen: set[str] | None = None) -> set[str]:
    """The system calls of a systemd group (@name), its nested groups expanded."""
    if not name.startswith("@"):
        return {name}
    seen = set() if seen is None else seen
    result = analyze("syscall-filter", name)
    assert result.returncode == 0, result.stderr
    calls: set[str] = set()
    for line in result.stdout.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word.startswith("@"):
            if word not in seen:
                seen.add(word)
                calls |= syscall_group(word, seen)
        else:
            calls.add(word)
    return calls


def allowed_syscalls(unit: Path) -> set[str]:
    """What the unit's SystemCallFilter= lines allow, read as systemd does: the first line is an
    allow list, a later `~` line takes calls out of it and a later plain line puts them back."""
    allowed: set[str] = set()
    for line in unit.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() != "SystemCallFilter":
            continue
        deny = value.startswith("~")
        calls = set().union(*(syscall_group(w) for w in value.lstrip("~").split()))
        allowed = allowed - calls if deny else allowed | calls
    return allowed


def test_the_daemon_may_lower_its_background_work_and_nothing_more_of_its_resources() -> None:
    unit = UNITS[0].parent / "jukebox.service"
    allowed = allowed_syscalls(unit)
    assert "read" in allowed and "reboot" not in allowed  # the reading itself holds
    # device/platform/priority.py: nice, I/O class and SCHED_IDLE of its own threads, and
    # SCHED_RR for the press path's
    assert {"setpriority", "ioprio_set", "sched_setscheduler"} <= allowed
    assert not {"setrlimit", "sched_setaffinity", "sched_setattr", "mbind"} & allowed
    # ... at the lowest real-time priority only, without any capability
    assert unit_values(unit, "LimitRTPRIO") == ["1"]
    assert unit_values(unit, "RestrictRealtime") == ["no"]
    assert unit_values(unit, "CapabilityBoundingSet") == []  # none


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
