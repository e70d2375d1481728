"""The A/B boot script run by the real U-Boot (Debian's u-boot-qemu, qemu_arm64) in QEMU, on
a tiny A/B image: it picks the slot, counts its try down and writes bootstate.txt back with
fatwrite, and loads that slot's kernel from its ext4 (a dummy here, so booti refuses it and
the script resets: QEMU runs with -no-reboot and stops). A new slot gets one try, then the
old slot boots again with no one there: RAUC's fallback, in the real boot loader.

The kernel boot itself, and the Pi's own U-Boot (u-boot-rpi), are image-build/ota-test's and
a board's (docs/updates.md)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from device.update.bootstate import BootState, BootStateError, handle, parse
from tests.image_build import load

UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
QEMU = shutil.which("qemu-system-aarch64")
pytestmark = pytest.mark.skipif(
    QEMU is None or not UBOOT.exists() or shutil.which("mcopy") is None,
    reason="apt-get install qemu-system-arm u-boot-qemu mtools",
)
assemble = load("assemble")
bootscript = load("bootscript")
MIB = 1 << 20
ENV = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
CHOSEN = re.compile(r"jukebox-boot: slot ([AB]) \(partition (\d)\), tries left A=(\d) B=(\d)")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    boot, root, data = tmp_path / "boot", tmp_path / "root", tmp_path / "data"
    for folder in (boot, root / "boot", root / "etc", data):
        folder.mkdir(parents=True)
    (boot / "boot.scr").write_bytes(bootscript.boot_scr(bootscript.BOOT_CMD.read_text()))
    (root / "boot/vmlinuz").write_bytes(b"not a kernel\n" * 100)
    (root / "boot/initrd.img").write_bytes(b"not an initrd\n" * 100)
    (root / "etc/hostname").write_text("jukebox\n")
    layout = assemble.plan_layout(root, boot_mib=16, data_mib=8, slots=2)
    out = tmp_path / "ab.img"
    assemble.assemble_image(out, boot_dir=boot, root_dir=root, data_dir=data, layout=layout)
    return out


def boot(image: Path) -> str:
    """One power-on: U-Boot's console until the script's reset stops QEMU."""
    assert QEMU is not None
    result = subprocess.run(
        [QEMU, "-M", "virt", "-cpu", "cortex-a53", "-m", "256", "-bios", str(UBOOT),
         "-drive", f"if=none,file={image},format=raw,id=disk",
         "-device", "virtio-blk-device,drive=disk",
         "-nographic", "-no-reboot", "-net", "none", "-serial", "mon:stdio"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    return result.stdout.decode(errors="replace")


def state_file(image: Path) -> str:
    return subprocess.run(
        ["mtype", "-i", f"{image}@@{4 * MIB}", "::/bootstate.txt"],
        env=ENV, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def put_state(image: Path, state: BootState, tmp_path: Path) -> None:
    local = tmp_path / "bootstate.txt"
    local.write_text(state.text())
    subprocess.run(
        ["mcopy", "-o", "-i", f"{image}@@{4 * MIB}", str(local), "::/bootstate.txt"],
        env=ENV, check=True,
    )  # fmt: skip


def chosen(console: str) -> tuple[str, int, int, int]:
    found = CHOSEN.search(console)
    assert found, console[-2000:]
    return found[1], int(found[2]), int(found[3]), int(found[4])


def test_a_new_card_boots_slot_a_and_counts_its_try(image: Path) -> None:
    console = boot(image)
    assert chosen(console) == ("A", 2, 2, 3)
    assert "Bad Linux ARM64 Image magic" in console  # slot A's /boot/vmlinuz was loaded
    assert parse(state_file(image)) == BootState(("A", "B"), (("A", 2), ("B", 3)))


def test_a_new_slot_gets_one_try_then_the_old_slot_boots_again(image: Path, tmp_path: Path) -> None:
    put_state(image, BootState().set_primary("B"), tmp_path)  # what rauc install leaves
    assert chosen(boot(image)) == ("B", 3, 3, 0)  # the new slot, once
    # It never reached the health gate (no mark-good): the next power-on is slot A's.
    assert chosen(boot(image)) == ("A", 2, 2, 0)
    (tmp_path / "bootstate.txt").write_text(state_file(image))
    assert handle(tmp_path / "bootstate.txt", ["get-state", "B"]) == "bad"
    assert handle(tmp_path / "bootstate.txt", ["get-primary"]) == "A"


def test_a_committed_slot_keeps_booting(image: Path, tmp_path: Path) -> None:
    put_state(image, BootState().set_primary("B").set_state("B", "good"), tmp_path)
    assert chosen(boot(image)) == ("B", 3, 3, 2)
    assert chosen(boot(image)) == ("B", 3, 3, 1)  # a good slot survives boots that die early


def test_when_every_try_is_spent_both_slots_get_theirs_back(image: Path, tmp_path: Path) -> None:
    put_state(image, BootState().set_state("A", "bad").set_state("B", "bad"), tmp_path)
    console = boot(image)
    assert "no slot has tries left: both get 3 again" in console
    assert parse(state_file(image)).primary() == "A"
    spent = tmp_path / "spent.txt"
    spent.write_text("BOOT_A_LEFT=0\nBOOT_B_LEFT=0\n")
    with pytest.raises(BootStateError, match="no slot has tries left"):
        handle(spent, ["get-primary"])


def test_extra_kernel_arguments_come_from_the_boot_partition(image: Path, tmp_path: Path) -> None:
    extra = tmp_path / "cmdline-extra.txt"
    extra.write_text("jukebox_args=systemd.show_status=1 systemd.journald.forward_to_console=1\n")
    subprocess.run(
        ["mcopy", "-o", "-i", f"{image}@@{4 * MIB}", str(extra), "::/cmdline-extra.txt"],
        env=ENV, check=True,
    )  # fmt: skip
    console = boot(image)
    bootargs = re.search(r"jukebox-boot: bootargs (.*)", console)
    assert bootargs, console[-2000:]
    words = bootargs[1].split()
    assert "console=ttyAMA0" in words and "root=PARTUUID=6a756b65-02" in words
    assert "rauc.slot=A" in words and "systemd.show_status=1" in words and "ro" in words
    assert "quiet" in words  # the kernel's chatter off the slow consoles (boot time)
