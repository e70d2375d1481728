"""`jukebox provision image` and `inspect` on real image files: mtools reads back what was
written, BASE is never modified, and inspect never shows a secret."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

import pytest

from contract.site import parse_site_config
from provisioning.partitions import ImageError, find_boot_partition, read_partitions
from provisioning.provision import inspect_image, provision_image, sparse_copy
from provisioning.testimage import make_small_image
from tests.provisioning.conftest import PSK, SITE_TOML, TENANT, TOKEN, jukebox, mtype, sha256


def test_provisioning_writes_the_site_file_into_the_boot_partition_and_leaves_base_alone(
    base_image: Path, site_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sha256(base_image)
    out = tmp_path / "kiosk.img"
    assert jukebox("provision", "image", base_image, "--site-config", site_toml, "-o", out) == 0
    assert sha256(base_image) == before
    written = mtype(out)
    assert written.startswith("# Jukebox site configuration, written by `jukebox provision` on ")
    assert parse_site_config(written, "back") == parse_site_config(SITE_TOML, "site.toml")
    config_txt = PurePosixPath("config.txt")
    assert mtype(out, config_txt) == mtype(base_image, config_txt)
    assert os.stat(out).st_mode & 0o777 == 0o600  # it holds secrets
    assert out.stat().st_size == base_image.stat().st_size
    printed = capsys.readouterr().out
    assert f"wrote jukebox/site.toml into partition 1 (FAT16 RASPIFIRM, offset {1 << 20}" in printed
    assert PSK not in printed and TOKEN not in printed


def test_command_line_options_complete_the_site_file(
    base_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f'[tenant]\nurl = "{TENANT}"\n[device]\nname = "K 1"\nsite = "alcazar"\n')
    out = tmp_path / "kiosk.img"
    args = ["--wifi-ssid", "Staff", "--wifi-psk", PSK, "--wifi-country", "be"]
    code = jukebox(
        "provision", "image", base_image, "--site-config", site, *args,
        "--enrollment-token", TOKEN, "-o", out,
    )  # fmt: skip
    assert code == 0
    config = parse_site_config(mtype(out), "back")
    assert (config.wifi and config.wifi.ssid, config.enrollment_token) == ("Staff", TOKEN)
    assert config.wifi and (config.wifi.psk, config.wifi.country) == (PSK, "BE")


def test_a_broken_configuration_writes_nothing(
    base_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE_TOML.replace('"FR"', '"XX"'))
    out = tmp_path / "kiosk.img"
    assert jukebox("provision", "image", base_image, "--site-config", site, "-o", out) == 2
    assert capsys.readouterr().err == (
        f"jukebox provision: {site}: wifi.country: "
        "expected a two-letter ISO 3166 country code like 'FR', got 'XX'\n"
    )
    assert list(tmp_path.iterdir()) == [site]


def test_the_output_may_not_be_the_base_image(base_image: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.img"
    shutil.copyfile(base_image, base)
    before = sha256(base)
    config = parse_site_config(SITE_TOML, "site.toml")
    with pytest.raises(ImageError, match="is the base image itself"):
        provision_image(base, tmp_path / "." / "base.img", config)
    (tmp_path / "link.img").symlink_to(base)
    with pytest.raises(ImageError, match="is the base image itself"):
        provision_image(base, tmp_path / "link.img", config)
    assert sha256(base) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.img", "link.img"]


def test_an_output_folder_that_does_not_exist_is_named(base_image: Path, tmp_path: Path) -> None:
    config = parse_site_config(SITE_TOML, "site.toml")
    with pytest.raises(ImageError, match=r"the folder .*/nowhere does not exist"):
        provision_image(base_image, tmp_path / "nowhere" / "k.img", config)


def test_a_file_that_is_no_disk_image_is_refused_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"\xff\xd8" + bytes(4000))
    with pytest.raises(ImageError, match=r"photo\.jpg: not a disk image \(no partition table\)"):
        find_boot_partition(junk)


def test_inspect_shows_what_first_boot_would_do_and_never_a_secret(
    base_image: Path, site_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kiosk.img"
    assert jukebox("provision", "image", base_image, "--site-config", site_toml, "-o", out) == 0
    capsys.readouterr()
    assert jukebox("provision", "inspect", out) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[2:] == [
        f"  tenant            {TENANT}",
        "  site              alcazar",
        "  device name       Kiosque de l'entrée",
        "  Wi-Fi             network 'Médiathèque Public', country FR, passphrase set",
        "  enrollment token  present (one-time)",
    ]
    assert PSK not in shown and TOKEN not in shown


def test_inspect_of_a_generic_image_says_there_is_no_site_configuration(
    base_image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jukebox("provision", "inspect", base_image) == 0
    assert "no site configuration (jukebox/site.toml absent)" in capsys.readouterr().out
    assert inspect_image(base_image).config is None


def test_provisioning_a_gpt_image_with_fat32_works_the_same(
    site_toml: Path, tmp_path: Path
) -> None:
    base = make_small_image(tmp_path / "gpt.img", boot_mb=40, gpt=True)
    boot, data = read_partitions(base)
    assert (boot.fat, boot.label, boot.offset) == ("FAT32", "RASPIFIRM", 1 << 20)
    assert data.type == "0FC63DAF-8483-4772-8E79-3D69D8477DE4" and data.fat is None
    out = tmp_path / "kiosk.img"
    provision_image(base, out, parse_site_config(SITE_TOML, "site.toml"))
    found = inspect_image(out)
    assert found.partition == boot
    assert found.config == parse_site_config(SITE_TOML, "site.toml")


def test_the_copy_keeps_holes_and_turns_zeros_into_holes(tmp_path: Path) -> None:
    source = tmp_path / "source.img"
    with source.open("wb") as f:
        f.write(bytes(4 << 20))  # 4 MiB of written zeros
        f.write(b"data" * 1024)
        f.truncate(64 << 20)  # then a 60 MiB hole
    target = tmp_path / "copy.img"
    assert sparse_copy(source, target) == 4096
    assert sha256(target) == sha256(source)
    assert target.stat().st_blocks * 512 < 1 << 20


def test_a_bare_copy_of_the_boot_partition_can_be_inspected(
    base_image: Path, site_toml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kiosk.img"
    provision_image(base_image, out, parse_site_config(SITE_TOML, "site.toml"))
    boot = find_boot_partition(out)
    bare = tmp_path / "boot.vfat"
    with out.open("rb") as f:
        f.seek(boot.offset)
        bare.write_bytes(f.read(boot.size))
    found = inspect_image(bare)
    assert (found.partition.number, found.partition.offset, found.partition.label) == (
        0,
        0,
        "RASPIFIRM",
    )
    assert found.config == parse_site_config(SITE_TOML, "site.toml")
