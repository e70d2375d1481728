"""The ring buffer behind remote diagnostics, and the reboot adapter run as a real process."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from device.platform.logs import MAX_LINE_CHARS, RECENT, RecentLogs, scrub, setup_logging
from device.platform.reboot import REBOOT_COMMAND, SystemdRebooter


@pytest.fixture
def logger() -> logging.Logger:
    logger = logging.getLogger("tests.remote.ring")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def test_the_ring_keeps_only_the_newest_lines(logger: logging.Logger) -> None:
    ring = RecentLogs(capacity=3)
    logger.addHandler(ring)
    try:
        for i in range(10):
            logger.info("line %d", i)
        logger.debug("debug is not kept")
    finally:
        logger.removeHandler(ring)
    lines = ring.lines(100)
    assert [line.split(": ", 1)[1] for line in lines] == ["line 7", "line 8", "line 9"]
    assert ring.lines(1) == lines[-1:] and ring.lines(0) == []
    assert lines[0].endswith("Z INFO tests.remote.ring: line 7")


def test_long_lines_are_cut_and_undecodable_text_replaced(logger: logging.Logger) -> None:
    ring = RecentLogs()
    logger.addHandler(ring)
    try:
        logger.error("x" * 5000)
        logger.error("lone \ud800 surrogate")
    finally:
        logger.removeHandler(ring)
    long, odd = ring.lines(2)
    assert len(long) == MAX_LINE_CHARS and long.endswith("…")
    assert odd.endswith("lone ? surrogate")


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("token=abc123 next", "token=[redacted] next"),
        ("password: hunter2", "password: [redacted]"),
        ('{"password": "two words", "user": "u"}', '{"password": [redacted], "user": "u"}'),
        ("{'client_secret': 's', 'n': 1}", "{'client_secret': [redacted], 'n': 1}"),
        ("access_token=AAA&refresh_token=BBB", "access_token=[redacted]&refresh_token=[redacted]"),
        ("got 401 for Bearer abc.def", "got 401 for Bearer [redacted]"),
        ("mqtts://jk-1:s3cret@broker:8883", "mqtts://jk-1:[redacted]@broker:8883"),
        ("assertion eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln ok", "assertion [redacted] ok"),
        ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", "[redacted]"),
        ("claim code KQ7M-X4PD shown", "claim code KQ7M-X4PD shown"),  # public on the screen
        ("sync: 3 files, 12 MB", "sync: 3 files, 12 MB"),
    ],
)
def test_secrets_never_reach_the_ring(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed


def test_setup_logging_installs_the_ring() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging()
        assert RECENT in root.handlers
        logging.getLogger("device.x").warning("kiosk password=pw1 started")
        assert RECENT.lines(1)[0].endswith("WARNING device.x: kiosk password=[redacted] started")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_the_rebooter_asks_systemctl_to_reboot_without_a_password_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in `systemctl` first on PATH records how the real one would be called."""
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "args"}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    SystemdRebooter().reboot()
    assert (tmp_path / "args").read_text() == "--no-ask-password reboot\n"
    assert REBOOT_COMMAND[0] == "systemctl"


def test_the_rebooter_runs_its_command(tmp_path: Path) -> None:
    marker = tmp_path / "rebooted"
    SystemdRebooter((sys.executable, "-c", f"open({str(marker)!r}, 'w').write('yes')")).reboot()
    assert marker.read_text() == "yes"


def test_a_refused_reboot_says_why() -> None:
    script = "import sys; sys.stderr.write('Access denied\\n'); sys.exit(1)"
    with pytest.raises(OSError, match=r"failed: Access denied"):
        SystemdRebooter((sys.executable, "-c", script)).reboot()
    with pytest.raises(OSError, match="cannot run /nonexistent/systemctl"):
        SystemdRebooter(("/nonexistent/systemctl", "reboot")).reboot()
    with pytest.raises(OSError, match="cannot run"):
        SystemdRebooter(
            (sys.executable, "-c", "import time; time.sleep(5)"), timeout_s=0.2
        ).reboot()
