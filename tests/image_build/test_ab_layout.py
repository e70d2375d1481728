"""The A/B layout of over-the-air updates, on a tiny tree: two root slots of one size holding
the same filesystem, the data partition last; the boot script compiled as mkimage would; and
RAUC's system.conf read by the real rauc."""

from __future__ import annotations

import os
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

from device.update.bootstate import BootState, parse
from tests.image_build import IMAGE_BUILD, load
from tests.image_build.test_assemble import debugfs, extract, folders, partitions, tool  # noqa: F401

assemble = load("assemble")
bootscript = load("bootscript")
MIB = 1 << 20


@pytest.fixture(scope="module")
def ab_image(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    layout = assemble.plan_layout(folders["root"], boot_mib=16, data_mib=8, slots=2)
    out = tmp_path_factory.mktemp("ab") / "ab.img"
    assemble.assemble_image(
        out, boot_dir=folders["boot"], root_dir=folders["root"], data_dir=folders["data"],
        layout=layout,
    )  # fmt: skip
    return out


def test_two_root_slots_of_one_size_then_the_data_partition_last(ab_image: Path) -> None:
    parts = partitions(ab_image)
    assert [p["type"] for p in parts] == ["c", "83", "83", "83"]
    assert parts[1]["size"] == parts[2]["size"]
    for before, after in pairwise(parts):
        assert after["start"] == before["start"] + before["size"]
    assert (parts[3]["start"] + parts[3]["size"]) * 512 == ab_image.stat().st_size
    disk_id = tool("sfdisk", "--disk-id", ab_image).strip()
    assert disk_id == assemble.DISK_ID  # the boot script's PARTUUIDs: 6a756b65-02 and -03
    assert "6a756b65-0${bootpart}" in bootscript.BOOT_CMD.read_text()
    assert "6a756b65-02" in bootscript.SYSTEM_CONF.read_text()


def test_both_slots_hold_the_same_root_and_the_data_partition_is_the_fourth(
    ab_image: Path, tmp_path: Path
) -> None:
    slot_a, slot_b = extract(ab_image, 2, tmp_path), extract(ab_image, 3, tmp_path)
    assert slot_a.read_bytes() == slot_b.read_bytes()
    assert "Filesystem volume name:   RASPIROOT" in debugfs(slot_b, "stats")
    assert debugfs(slot_b, "cat /etc/hostname") == "jukebox\n"
    data = extract(ab_image, 4, tmp_path)
    assert "Filesystem volume name:   JUKEBOX-DATA" in debugfs(data, "stats")


def test_a_total_size_is_shared_by_both_slots(folders: dict[str, Path]) -> None:  # noqa: F811
    layout = assemble.plan_layout(folders["root"], boot_mib=16, data_mib=8, total_mib=1024, slots=2)
    assert layout.root_mib == (1024 - 4 - 16 - 8) // 2 and layout.total_bytes <= 1024 * MIB
    with pytest.raises(assemble.AssemblyError, match=r"each for 2 root filesystem\(s\)"):
        assemble.plan_layout(folders["root"], boot_mib=16, data_mib=8, total_mib=40, slots=2)
    with pytest.raises(assemble.AssemblyError, match="slots: 3"):
        assemble.Layout(16, 16, 8, slots=3)


def test_the_boot_script_is_what_mkimage_makes_and_reads_back() -> None:
    script = bootscript.BOOT_CMD.read_text()
    image = bootscript.boot_scr(script)
    assert bootscript.read_boot_scr(image) == script
    broken = bytearray(image)
    broken[100] ^= 1
    with pytest.raises(ValueError, match="data CRC"):
        bootscript.read_boot_scr(bytes(broken))
    if shutil.which("mkimage") is None:
        pytest.skip("mkimage (u-boot-tools) not installed: compared with our reader only")
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"jukebox-mkimage-{os.getpid()}.scr"
    subprocess.run(
        ["mkimage", "-A", "arm64", "-O", "linux", "-T", "script", "-C", "none",
         "-n", bootscript.NAME, "-d", bootscript.BOOT_CMD, out],
        env={**os.environ, "SOURCE_DATE_EPOCH": "0"}, check=True, capture_output=True,
    )  # fmt: skip
    try:
        assert out.read_bytes() == image
    finally:
        out.unlink()


def test_the_boot_script_and_rauc_agree_on_the_state_file() -> None:
    script = bootscript.BOOT_CMD.read_text()
    for name in ("BOOT_ORDER", "BOOT_A_LEFT", "BOOT_B_LEFT", "bootstate.txt", "rauc.slot="):
        assert name in script
    state = BootState().set_primary("B")
    assert state.text() == "BOOT_ORDER=B A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=1\n"
    exported = "BOOT_ORDER=B A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n\0"  # as U-Boot's env export -t
    assert parse(exported).primary() == "A"  # the try was spent: back to A
    assert "exec /opt/jukebox/venv/bin/python -I -m device.update.bootstate" in (
        bootscript.BOOTLOADER_HANDLER.read_text()
    )


@pytest.mark.skipif(shutil.which("rauc") is None, reason="apt-get install rauc")
def test_rauc_reads_the_system_conf(tmp_path: Path) -> None:
    conf = tmp_path / "system.conf"
    conf.write_text(
        bootscript.system_conf("jukebox-springfield-rpi-arm64")
        .replace("/var/lib/jukebox/rauc", str(tmp_path / "rauc"))
        .replace("/usr/local/lib/jukebox/rauc-bootloader", "/bin/true")
    )
    result = subprocess.run(
        ["rauc", "--conf", str(conf), "status"], capture_output=True, text=True, check=False
    )
    # Parsed (slots, custom backend, data directory); outside a kiosk it then finds no rauc
    # service. A broken file stops at "Failed to load system config" instead.
    assert "Failed to load system config" not in result.stderr, result.stderr
    assert f"Using central status file {tmp_path / 'rauc'}" in result.stderr
    conf.write_text(conf.read_text().replace("[handlers]", "[nothing]"))
    broken = subprocess.run(["rauc", "--conf", str(conf), "status"], capture_output=True, text=True)
    assert "No custom bootloader backend defined" in broken.stderr
    with pytest.raises(ValueError, match="one word"):
        bootscript.system_conf("two words")


def test_the_ab_files_exist() -> None:
    for name in ("boot.cmd", "system.conf.in", "rauc-bootloader"):
        assert (IMAGE_BUILD / "ab" / name).is_file()
