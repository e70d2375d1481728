"""The system journal of the image: persistent on the data partition, bounded, and the
folders of old boots pruned; checked on the files the build installs, without building."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.image_build import IMAGE_BUILD, load

FILES = IMAGE_BUILD / "files"
builder = load("builder")
MIB = 1 << 20


def unit_file(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(path.read_text())
    return parser


def size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG])", text)
    assert match, text
    return int(match[1]) << {"K": 10, "M": 20, "G": 30}[match[2]]


def fstab() -> dict[str, list[str]]:
    return {
        fields[1]: fields
        for line in (FILES / "etc/fstab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
        for fields in [line.split()]
    }


def test_journald_keeps_a_bounded_journal_that_survives_a_reboot() -> None:
    journal = unit_file(FILES / "etc/systemd/journald.conf.d/jukebox.conf")["Journal"]
    assert journal["Storage"] == "persistent"
    assert size(journal["SystemMaxFileSize"]) <= size(journal["SystemMaxUse"]) <= 64 * MIB
    assert size(journal["SystemKeepFree"]) >= 64 * MIB  # the media cache keeps its room
    assert size(journal["RuntimeMaxUse"]) <= 16 * MIB  # what /var/log's tmpfs can take
    assert journal["SyncIntervalSec"].endswith("s") and int(journal["SyncIntervalSec"][:-1]) <= 60


def test_var_log_journal_is_the_data_partitions_journal_folder_the_build_makes() -> None:
    mounts = fstab()
    source, target, kind, options = mounts["/var/log/journal"][:4]
    assert (target, kind) == ("/var/log/journal", "none")
    assert source == f"{mounts['/var/lib/jukebox'][1]}/{builder.JOURNAL_DIR}"
    assert {"bind", "nofail"} <= set(options.split(","))  # no data partition: RAM, still boots
    assert mounts["/var/log"][2] == "tmpfs" and mounts["/"][3].startswith("ro")


@pytest.mark.skipif(os.geteuid() != 0, reason="the build runs as root to set owners")
def test_the_build_lays_out_the_journal_folder_with_journalds_owner_and_mode(
    tmp_path: Path,
) -> None:
    root, work = tmp_path / "root", tmp_path / "work"
    (root / "etc").mkdir(parents=True)
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text("arm_64bit=1\n")
    (root / "etc/passwd").write_text("jukebox:x:999:999::/var/lib/jukebox:/usr/sbin/nologin\n")
    (root / "etc/group").write_text("jukebox:x:999:\nsystemd-journal:x:101:\n")
    work.mkdir()
    _, data = builder.split_tree(root, work)
    journal = data / builder.JOURNAL_DIR
    info = journal.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (0, 101, 0o2755)
    assert (data.stat().st_uid, data.stat().st_mode & 0o777) == (999, 0o700)


def prune_command(journal: Path, machine_id: Path) -> str:
    """The flush drop-in's ExecStartPre as the shell runs it, over test paths."""
    service = unit_file(FILES / "etc/systemd/system/systemd-journal-flush.service.d/jukebox.conf")
    line = service["Service"]["ExecStartPre"]
    assert line.startswith("-/bin/sh -c ")  # "-": a failure never stops the flush
    [script] = shlex.split(line.removeprefix("-/bin/sh -c "))
    script = script.replace("$$", "$")  # systemd's escape
    return script.replace("/var/log/journal", str(journal)).replace(
        "/etc/machine-id", str(machine_id)
    )


def test_the_flush_keeps_the_journal_folders_of_the_two_boots_before_this_one(
    tmp_path: Path,
) -> None:
    journal, machine_id = tmp_path / "journal", tmp_path / "machine-id"
    boots = [f"{i:032x}" for i in range(1, 7)]  # oldest first
    now = time.time()
    for age, boot in enumerate(reversed(boots)):
        (journal / boot).mkdir(parents=True)
        (journal / boot / "system.journal").write_bytes(b"LPKSHHRH")
        os.utime(journal / boot, (now - 3600 * (age + 1), now - 3600 * (age + 1)))
    current = boots[0]  # even the oldest folder is kept when it is this boot's
    machine_id.write_text(current + "\n")
    subprocess.run(["sh", "-c", prune_command(journal, machine_id)], check=True)
    assert sorted(p.name for p in journal.iterdir()) == sorted([current, *boots[-2:]])


def test_the_flush_does_nothing_without_a_journal_folder(tmp_path: Path) -> None:
    (tmp_path / "machine-id").write_text("0" * 32 + "\n")
    command = prune_command(tmp_path / "missing", tmp_path / "machine-id")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    assert done.returncode == 0 and not (tmp_path / "missing").exists()
