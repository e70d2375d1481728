"""The ring buffer behind remote diagnostics, and the reboot adapter run as a real process."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from device.platform.logs import MAX_LINE_CHARS, RECENT, RecentLogs, scrub, setup_logging
from device.platform.reboot import REQUEST_NAME, RebootRequest


@pytest.fixture
def logger() -> logging.Logger:
    # A logger outside the hierarchy: what it logs (a lone surrogate among it) reaches the
    # ring only, never pytest's capture, which pytest-xdist must send as UTF-8.
    logger = logging.Logger("tests.remote.ring", logging.DEBUG)
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


def test_the_reboot_request_is_a_file_in_the_runtime_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jukebox-reboot.path acts on exactly this file (its PathExists= names it)."""
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    RebootRequest.from_environment().reboot()
    request = tmp_path / REQUEST_NAME
    assert request.read_text().startswith("reboot requested")
    assert request.stat().st_mode & 0o777 == 0o600
    unit = (Path(__file__).parents[2] / "systemd" / "jukebox-reboot.path").read_text()
    assert f"PathExists=/run/jukebox/{REQUEST_NAME}" in unit
    service = (Path(__file__).parents[2] / "systemd" / "jukebox.service").read_text()
    assert "RuntimeDirectory=jukebox\n" in service


def test_a_reboot_that_cannot_be_asked_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    with pytest.raises(OSError, match="no reboot outside systemd: RUNTIME_DIRECTORY is not set"):
        RebootRequest.from_environment().reboot()
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'missing'}"):
        RebootRequest(tmp_path / "missing").reboot()
