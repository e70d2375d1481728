"""The small test image is a real disk image, and the first-boot unit keeps the contract."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from jukebox.cli import build_parser
from provisioning.partitions import read_partitions
from provisioning.testimage import make_small_image

UNIT = Path(__file__).parents[2] / "systemd" / "jukebox-firstboot.service"


def test_the_small_image_has_a_raspifirm_fat_and_an_ext4_made_from_a_folder(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=debian\n")
    image = make_small_image(tmp_path / "small.img", boot_mb=8, data_mb=6, root=root)
    boot, data = read_partitions(image)
    assert (boot.type, boot.label, boot.offset, boot.size) == (
        "0x0c",
        "RASPIFIRM",
        1 << 20,
        8 << 20,
    )
    assert (data.type, data.offset, data.size) == ("0x83", 9 << 20, 6 << 20)
    assert image.stat().st_size == 15 << 20
    read = subprocess.run(
        ["debugfs", "-R", "cat /etc/os-release", f"{image}?offset={data.offset}"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/sbin:/sbin:/usr/bin:/bin"},
    )
    assert read.stdout == "ID=debian\n"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_the_first_boot_unit_runs_once_before_the_kiosk_when_the_card_has_a_file() -> None:
    unit = unit_settings()
    assert unit["Type"] == ["oneshot"] and unit["RemainAfterExit"] == ["no"]
    # Either file alone is applied: '|' makes the two conditions alternatives, not both needed.
    assert unit["ConditionPathExists"] == [
        "|/boot/firmware/jukebox/site.toml",
        "|/boot/firmware/jukebox/kiosk.toml",
    ]
    assert "jukebox.service" in unit["Before"][0].split()
    assert unit["RequiresMountsFor"] == ["/boot/firmware /var/lib/jukebox"]
    assert set(unit["ReadWritePaths"][0].split()) == {"/boot/firmware", "/var/lib/jukebox"}
    command = shlex.split(unit["ExecStart"][0])
    assert command[0] == "/opt/jukebox/venv/bin/jukebox"
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.boot_dir, args.state_dir) == (
        "firstboot",
        Path("/boot/firmware"),
        Path("/var/lib/jukebox"),
    )
