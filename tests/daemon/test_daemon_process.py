"""The daemon as a real process: mpv, MockFactory pins, emulated screen, control socket, SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from demo.tracks import TrackSpec, synthesise_track
from device.domain import EndReason
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity, PlayReport
from device.sim.control import ControlClient
from device.sim.process import KioskProcess

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


class Daemon(KioskProcess):
    def __init__(self, root: Path) -> None:
        super().__init__(root / "jukebox.toml", root / "control.sock", root / "kiosk.log")
        self.root = root

    def start_and_load(self) -> ControlClient:
        self.start()
        client = self.connect()
        self.wait_until(lambda s: s["playlist_id"] == "long", 30, "the playlists")
        return client

    def plays(self) -> list[PlayReport]:
        identity = JournalIdentity("", "", "", "", "")
        with PlayJournal(self.root / "state" / "journal.sqlite3", identity, exclusive=False) as j:
            return j.plays()

    def output(self) -> str:
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
    daemon.close()


def test_buttons_play_and_the_journal_records_each_play(daemon: Daemon) -> None:
    client = daemon.start_and_load()
    assert client.send(cmd="tap", button="play")["ok"]
    daemon.wait_until(lambda s: s["plays_started"] == 1, 15, "the first play")
    daemon.wait_until(lambda s: s["position_ms"] >= 1000, 15, "a second of audio")
    assert client.send(cmd="tap", button="next")["ok"]
    daemon.wait_until(lambda s: s["plays_started"] == 2, 15, "the second play")
    shot = daemon.root / "shot.png"
    assert client.send(cmd="screenshot", path=str(shot))["ok"]
    assert Image.open(shot).size == (128, 64)
    bad = client.send(cmd="tap", button="nope")
    assert not bad["ok"] and "no button named 'nope'" in bad["error"]
    assert not client.send(cmd="dance")["ok"]
    assert daemon.quit() == 0
    first, second = daemon.plays()
    assert first.end_reason is EndReason.SKIPPED and first.listened_ms >= 900
    assert second.end_reason is EndReason.STOPPED  # orderly shutdown, not an interruption
    assert list((daemon.root / "frames").glob("*.png")), "the emulator wrote no frame"


def test_a_play_cut_by_sigkill_is_finalised_once_as_interrupted(daemon: Daemon) -> None:
    client = daemon.start_and_load()
    client.send(cmd="tap", button="play")
    daemon.wait_until(lambda s: s["position_ms"] >= 3000, 20, "3 s of audio")
    heard_ms = int(daemon.status()["position_ms"])
    daemon.kill()
    [open_play] = daemon.plays()
    assert open_play.is_open

    daemon.start_and_load()
    [play] = daemon.plays()
    assert play.end_reason is EndReason.INTERRUPTED
    assert play.event_id == open_play.event_id
    # The journal is checkpointed every 0.5 s here: what was heard, give or take that.
    assert heard_ms - 1200 <= play.listened_ms <= heard_ms + 600
    assert "finalised 1 play(s) left open" in daemon.output()
    assert daemon.quit() == 0

    daemon.start_and_load()  # a second restart finalises nothing more
    assert daemon.plays() == [play]
    assert daemon.quit() == 0


def test_a_second_daemon_on_the_same_journal_is_refused(daemon: Daemon) -> None:
    daemon.start_and_load()
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
    assert daemon.quit() == 0
