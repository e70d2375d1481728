"""What the kiosk's boot skips (image-build/boot_speed.py), checked against the image's own files
and units, and boot_stages.py's reading of a console log. The boot itself: boot-test."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest

from tests.image_build import IMAGE_BUILD, load
from tests.image_build.test_journal_files import fstab

boot_speed = load("boot_speed")
boot_stages = load("boot_stages")
qemuboot = load("qemuboot")
FILES = IMAGE_BUILD / "files"
UNITS = IMAGE_BUILD.parent / "systemd"


def test_only_the_read_only_root_goes_unchecked_at_boot() -> None:
    mounts = fstab()
    assert "ro" in mounts["/"][3].split(",") and mounts["/"][5] == "0"
    assert mounts["/boot/firmware"][5] != "0"  # U-Boot writes bootstate.txt at every boot
    assert mounts["/var/lib/jukebox"][5] != "0"  # power cuts


def test_what_is_masked_for_living_in_ram_does_live_in_ram() -> None:
    mounts = fstab()
    if "systemd-random-seed.service" in boot_speed.MASK:
        assert mounts["/var/lib/systemd"][2] == "tmpfs"  # the seed would never survive
    if "systemd-update-utmp.service" in boot_speed.MASK:
        assert mounts["/var/log"][2] == "tmpfs"  # nor wtmp


def test_rauc_keeps_its_loop_device_and_the_kiosk_its_units() -> None:
    assert "modprobe@loop.service" not in boot_speed.MASK  # RAUC mounts bundles on loop
    needed = set()
    for unit in (u for u in UNITS.iterdir() if u.suffix in (".service", ".path")):
        found = re.findall(r"^(?:Wants|Requires|After|BindsTo)=(.*)$", unit.read_text(), re.M)
        for value in found:
            needed.update(value.split())
    assert needed and not needed & set(boot_speed.MASK)


def test_the_generators_boot_test_and_the_kiosk_use_stay_on() -> None:
    # systemd.run= needs the run generator, systemd.wants= the debug generator (boot-test).
    words = qemuboot.systemd_run("true")
    assert "systemd.run=" in words and "systemd.wants=" in words
    for kept in ("systemd-run-generator", "systemd-debug-generator", "systemd-fstab-generator"):
        assert kept in boot_speed.GENERATORS_KEPT and kept not in boot_speed.GENERATORS_OFF


def test_generators_are_turned_off_by_dev_null_links_for_those_the_root_has(
    tmp_path: Path,
) -> None:
    generators = tmp_path / "usr/lib/systemd/system-generators"
    generators.mkdir(parents=True)
    for name in ("systemd-sysv-generator", "systemd-fstab-generator"):
        (generators / name).write_text("#!/bin/sh\n")
    assert boot_speed.turn_off_generators(tmp_path) == ["systemd-sysv-generator"]
    links = tmp_path / "etc/systemd/system-generators"
    assert os.readlink(links / "systemd-sysv-generator") == "/dev/null"
    assert sorted(p.name for p in links.iterdir()) == ["systemd-sysv-generator"]
    assert boot_speed.turn_off_generators(tmp_path) == ["systemd-sysv-generator"]  # again: same


def test_an_instance_is_masked_when_its_template_exists(tmp_path: Path) -> None:
    units = tmp_path / "lib/systemd/system"
    units.mkdir(parents=True)
    (units / "modprobe@.service").write_text("[Service]\n")
    (units / "systemd-random-seed.service").write_text("[Service]\n")
    masked = boot_speed.to_mask(tmp_path)
    assert "modprobe@drm.service" in masked and "systemd-random-seed.service" in masked
    assert "systemd-pstore.service" not in masked  # not in this root


def write_pyc(source: Path, *, mtime: int, size: int) -> None:
    cache = source.parent / "__pycache__"
    cache.mkdir(exist_ok=True)
    header = b"\xa7\r\r\n" + struct.pack("<III", 0, mtime, size)  # 3.11's magic
    (cache / f"{source.stem}.{boot_speed.PYC_TAG}.pyc").write_bytes(header + b"\xe3")


def test_modules_without_a_current_pyc_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "usr/lib/python3.11"
    folder.mkdir(parents=True)
    fresh, old, missing = (folder / f"{n}.py" for n in ("fresh", "old", "missing"))
    for source in (fresh, old, missing):
        source.write_text("x = 1\n")
    write_pyc(fresh, mtime=int(fresh.stat().st_mtime), size=6)
    write_pyc(old, mtime=int(old.stat().st_mtime) - 60, size=6)
    etc = tmp_path / "etc/python3.11"  # Debian's sitecustomize.py links into /etc
    etc.mkdir(parents=True)
    (etc / "sitecustomize.py").write_text("y = 22\n")
    (folder / "sitecustomize.py").symlink_to("/etc/python3.11/sitecustomize.py")
    linked = int((etc / "sitecustomize.py").stat().st_mtime)
    write_pyc(folder / "sitecustomize.py", mtime=linked, size=7)
    stale = boot_speed.stale_bytecode(tmp_path, ("usr/lib/python3.11",))
    assert stale == ["/usr/lib/python3.11/missing.py", "/usr/lib/python3.11/old.py"]


OK = "[\x1b[0;32m  OK  \x1b[0m]"
B, N = "\x1b[0;1;39m", "\x1b[0m"
LOG = f"""\
    2.00 Hit any key to stop autoboot:  2  1  0
    3.22 Starting kernel ...
    9.17 [    4.974593] Run /init as init process
   25.81 Welcome to \x1b[1mDebian GNU/Linux 12 (bookworm){N}!
   33.94 [   29.741118] systemd[1]: Queued start job for default target multi-user.target.
   61.56 {OK} Found device {B}dev-disk-by\\x…- /dev/disk/by-label/JUKEBOX-DATA.
   82.98          Starting {B}systemd-growfs@va…File System on /var/lib/jukebox...
   84.77 {OK} Reached target {B}local-fs.target{N} - Local File Systems.
  105.93 {OK} Reached target {B}basic.target{N} - Basic System.
  106.40          Starting {B}jukebox.service\x1b[…d offline, every play journaled...
  171.41 [  166.99] jukebox[285]: device.daemon: kiosk jk-0797ed2ec41c ready (firmware 0.1.0, hw)
  500.00          Starting {B}jukebox.service\x1b[…d offline, every play journaled...
"""


def test_the_stages_of_a_boot_are_read_from_its_console_log() -> None:
    found = boot_stages.stages(LOG)
    ends = [round(end, 2) for _, _, end in found]
    assert ends == [3.22, 9.17, 25.81, 33.94, 61.56, 84.77, 105.93, 106.4, 171.41]
    took = [round(t, 2) for _, t, _ in found]
    assert took[1] == 5.95 and took[-1] == 65.01 and round(sum(took), 2) == 171.41


def test_a_stage_whose_line_is_missing_is_merged_into_the_next() -> None:
    quiet = [line for line in LOG.splitlines() if "Queued start job" not in line]  # `quiet`
    found = boot_stages.stages("\n".join(quiet))
    assert len(found) == len(boot_stages.MARKS) - 1
    name, took, end = found[3]
    assert name.startswith("systemd: generators") and "+ early units, udev" in name
    assert round(took, 2) == round(61.56 - 25.81, 2) and end == 61.56
    slices = "   34.10 [  OK  ] Created slice system-getty.slice - Slice /system/getty."
    found = boot_stages.stages("\n".join([*quiet[:4], slices, *quiet[4:]]))
    assert [round(end, 2) for _, _, end in found][3] == 34.1  # the first line after it


def test_a_target_reached_after_the_daemon_started_is_off_its_path() -> None:
    """jukebox.service does not wait for basic.target: the chain goes from local-fs.target
    straight to the daemon's start, and no stage takes negative time."""
    basic = next(line for line in LOG.splitlines() if "basic.target" in line)
    log = LOG.replace(basic + "\n", "").replace(
        "  171.41", basic.replace("105.93", "120.00") + "\n  171.41"
    )  # reached after jukebox.service's start (106.40), before READY (171.41)
    found = boot_stages.stages(log)
    assert [round(end, 2) for _, _, end in found][-3:] == [84.77, 106.4, 171.41]
    assert all(took >= 0 for _, took, _ in found)
    assert not any("basic.target" in name for name, _, _ in found)


@pytest.mark.parametrize("text", ["", "not a console log\n"])
def test_a_log_without_stages_says_so(tmp_path: Path, text: str) -> None:
    log = tmp_path / "x.log"
    log.write_text(text)
    assert boot_stages.main([str(log)]) == 1
