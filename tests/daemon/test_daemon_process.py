"""The daemon as a real process: mpv, MockFactory pins, emulated screen, control socket, SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from device.demo.tracks import TrackSpec, synthesise_track
from device.domain import EndReason
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity, PlayReport
from device.sim.control import ControlClient

CONFIG = """
[device]
state_dir = "state"
content_dir = "content"
[audio]
backend = "null"
[playback]
progress_checkpoint_s = 0.5
[display]
driver = "emulated"
emulator = "png"
emulator_output = "frames"
[[buttons]]
name = "play"
pin = 17
press = "play_pause"
[[buttons]]
name = "next"
pin = 27
press = "next"
"""

PLAYLISTS = """
[[playlist]]
id = "long"
title = "Long tracks"
tracks = ["a.flac", "b.flac"]
"""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Daemon:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "control.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.client: ControlClient | None = None

    def start(self) -> ControlClient:
        self.socket.unlink(missing_ok=True)
        log = open(self.root / "kiosk.log", "ab")  # noqa: SIM115 - kept for the process's life
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jukebox",
                "run",
                "--simulate",
                "--no-keyboard",
                "--config",
                str(self.root / "jukebox.toml"),
                "--control-socket",
                str(self.socket),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for(self.socket.exists, 30, "the control socket")
        self.client = ControlClient(self.socket)
        wait_for(lambda: self.status()["playlist_id"] == "long", 30, "the playlists")
        return self.client

    def status(self) -> dict[str, object]:
        assert self.client is not None
        answer = self.client.send(cmd="status")
        assert answer["ok"], answer
        status: dict[str, object] = answer["status"]
        return status

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        assert self.process is not None and self.client is not None
        self.client.send(cmd="quit")
        self.client.close()
        return self.process.wait(timeout=30)

    def plays(self) -> list[PlayReport]:
        identity = JournalIdentity("", "", "", "", "")
        with PlayJournal(self.root / "state" / "journal.sqlite3", identity, exclusive=False) as j:
            return j.plays()

    def log(self) -> str:
        return (self.root / "kiosk.log").read_text(errors="replace")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    content = tmp_path / "content"
    for name, seconds in (("a", 20.0), ("b", 3.0)):
        synthesise_track(content / f"{name}.flac", TrackSpec(name.upper(), "Tester", seconds))
    (content / "playlists.toml").write_text(PLAYLISTS)
    (tmp_path / "jukebox.toml").write_text(CONFIG)
    daemon = Daemon(tmp_path)
    yield daemon
    if daemon.process is not None and daemon.process.poll() is None:
        daemon.process.kill()
        daemon.process.wait()


def test_buttons_play_and_the_journal_records_each_play(daemon: Daemon) -> None:
    client = daemon.start()
    assert client.send(cmd="tap", button="play")["ok"]
    wait_for(lambda: daemon.status()["plays_started"] == 1, 15, "the first play")
    wait_for(lambda: int(str(daemon.status()["position_ms"])) >= 1000, 15, "a second of audio")
    assert client.send(cmd="tap", button="next")["ok"]
    wait_for(lambda: daemon.status()["plays_started"] == 2, 15, "the second play")
    shot = daemon.root / "shot.png"
    assert client.send(cmd="screenshot", path=str(shot))["ok"]
    assert Image.open(shot).size == (128, 64)
    bad = client.send(cmd="tap", button="nope")
    assert not bad["ok"] and "no button named 'nope'" in bad["error"]
    assert not client.send(cmd="dance")["ok"]
    assert daemon.stop() == 0
    first, second = daemon.plays()
    assert first.end_reason is EndReason.SKIPPED and first.listened_ms >= 900
    assert second.end_reason is EndReason.STOPPED  # orderly shutdown, not an interruption
    assert list((daemon.root / "frames").glob("*.png")), "the emulator wrote no frame"


def test_a_play_cut_by_sigkill_is_finalised_once_as_interrupted(daemon: Daemon) -> None:
    client = daemon.start()
    client.send(cmd="tap", button="play")
    wait_for(lambda: int(str(daemon.status()["position_ms"])) >= 3000, 20, "3 s of audio")
    heard_ms = int(str(daemon.status()["position_ms"]))
    daemon.kill()
    [open_play] = daemon.plays()
    assert open_play.is_open

    daemon.start()
    [play] = daemon.plays()
    assert play.end_reason is EndReason.INTERRUPTED
    assert play.event_id == open_play.event_id
    # The journal is checkpointed every 0.5 s here: what was heard, give or take that.
    assert heard_ms - 1200 <= play.listened_ms <= heard_ms + 600
    assert "finalised 1 play(s) left open" in daemon.log()
    assert daemon.stop() == 0

    daemon.start()  # a second restart finalises nothing more
    assert daemon.plays() == [play]
    assert daemon.stop() == 0


def test_a_second_daemon_on_the_same_journal_is_refused(daemon: Daemon) -> None:
    daemon.start()
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "jukebox",
            "run",
            "--simulate",
            "--no-keyboard",
            "--config",
            str(daemon.root / "jukebox.toml"),
            "--control-socket",
            str(daemon.root / "other.sock"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert second.returncode == 1
    assert "journal.sqlite3" in second.stderr
    assert daemon.stop() == 0
