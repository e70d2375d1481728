"""The previous boot's last lines in diagnostics (remote command and technician stick).

This machine's journal has no earlier boot to read, so a journalctl script on PATH stands in
for it (it records its arguments); the real journalctl is run for the "nothing there" case.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.journal.outbox import PlayJournal
from device.platform.boot_log import previous_boot_lines
from device.stick.diagnostics import write_diagnostics
from tests.remote.support import RemoteRig

CRASH = "2026-12-05T23:59:59+0000 kiosk kernel: Out of memory: Killed process 812 (python3)"
FAKE = """#!/bin/sh
printf '%s\\n' "$@" > "{args}"
i=1
while [ $i -le {count} ]; do
  echo "2026-12-05T23:58:00+0000 kiosk jukebox[1]: {text} $i"
  i=$((i + 1))
done
echo "2026-12-05T23:59:58+0000 kiosk jukebox[1]: mqtt login password=hunter2 user=jk-1"
echo "{crash}"
"""


class FakeJournalctl:
    """A `journalctl` first on PATH: prints `count` lines then a secret and an OOM kill."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir()
        self.args_file = folder / "args"
        self.script = self.bin / "journalctl"
        self.monkeypatch = monkeypatch
        self.write()
        monkeypatch.setenv("PATH", f"{self.bin}:/usr/bin:/bin")

    def write(self, count: int = 300, text: str = "line", body: str | None = None) -> None:
        if body is None:
            body = FAKE.format(args=self.args_file, count=count, text=text, crash=CRASH)
        self.script.write_text(body)
        self.script.chmod(self.script.stat().st_mode | stat.S_IXUSR)

    @property
    def args(self) -> list[str]:
        return self.args_file.read_text().splitlines()


@pytest.fixture
def journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJournalctl]:
    yield FakeJournalctl(tmp_path, monkeypatch)


def test_the_previous_boot_is_read_from_every_boot_of_the_persistent_journal(
    journalctl: FakeJournalctl, tmp_path: Path
) -> None:
    lines = previous_boot_lines(200, tmp_path / "journal")
    assert journalctl.args[-6:] == ["-D", str(tmp_path / "journal"), "-b", "-1", "-n", "200"]
    assert len(lines) == 200 and lines[-1] == CRASH
    assert lines[-2].endswith("mqtt login password=[redacted] user=jk-1")
    assert not any("hunter2" in line for line in lines)


def test_a_failing_journalctl_is_one_line_saying_why(journalctl: FakeJournalctl) -> None:
    journalctl.write(body="#!/bin/sh\necho 'No such boot ID in journal' >&2\nexit 1\n")
    assert previous_boot_lines() == ["(previous boot: journalctl: No such boot ID in journal)"]


def test_without_journalctl_the_diagnostics_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    [line] = previous_boot_lines()
    assert line.startswith("(previous boot: journalctl unavailable:")


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="no journalctl on this machine")
def test_the_real_journalctl_over_a_journal_without_an_earlier_boot(tmp_path: Path) -> None:
    (tmp_path / "journal").mkdir()
    [line] = previous_boot_lines(200, tmp_path / "journal")
    assert line.startswith("(previous boot: journalctl: ") and "boot" in line


def test_remote_diagnostics_carry_the_previous_boot(
    journalctl: FakeJournalctl, tmp_path: Path, journal: PlayJournal
) -> None:
    (tmp_path / "rig").mkdir()
    rig = RemoteRig(tmp_path / "rig", journal)
    try:
        request = {"v": 1, "request_id": "r1", "command": "diagnostics"}
        rig.admin.on_command(json.dumps(request).encode())
        rig.drain()
        result = rig.publisher.results[-1]["result"]
        assert len(result["previous_boot"]) == 200 and result["previous_boot"][-1] == CRASH
        assert "hunter2" not in json.dumps(result)
        assert "previous_boot_dropped" not in result

        journalctl.write(count=500, text="é" * 1000)  # far more than one message holds
        rig.admin.on_command(json.dumps({**request, "request_id": "r2"}).encode())
        rig.drain()
        big = rig.publisher.results[-1]
        assert len(json.dumps(big, ensure_ascii=False).encode()) <= 256 * 1024
        assert big["result"]["previous_boot"][-1] == CRASH  # the newest lines are kept
        assert big["result"]["previous_boot_dropped"] > 0
        kept = len(big["result"]["previous_boot"]) + big["result"]["previous_boot_dropped"]
        assert kept == 200
    finally:
        rig.admin.close()


def test_the_stick_gets_the_previous_boot_in_its_own_file(
    journalctl: FakeJournalctl, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    folder = write_diagnostics(tmp_path / "stick", state_dir, "jk-1", logs=lambda: "now\n")
    text = (folder / "previous-boot.txt").read_text()
    assert text.endswith(CRASH + "\n") and "hunter2" not in text
    assert len(text.splitlines()) == 302  # all of it: a stick has room for 1,000 lines
    assert journalctl.args[-2:] == ["-n", "1000"]
