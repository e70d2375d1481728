"""image-build/boot-test's verdicts, without QEMU: what it reads on the console and on disk.

The boot itself is the slow check (docs/image.md). Here: the console lines it waits for, and
its check that first boot took the secrets off a provisioned card, run against a real small
image provisioned and "first-booted" by the project's own code.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contract.layout import BOOT_SITE_FILE
from contract.site import SECRET_KEYS
from device.firstboot.apply import apply_boot_config
from provisioning.partitions import find_boot_partition
from provisioning.testimage import make_small_image
from tests.image_build import load
from tests.provisioning.conftest import SITE_TOML, jukebox, mtype

qemuboot = load("qemuboot")
progress = load("progress")
assemble = load("assemble")

STARTED = "[  60.20] systemd[1]: Started \x1b[0;1;39mjukebox.service\x1b[0m - Jukebox kiosk."
READY = "[  95.10] jukebox[281]: device.daemon: kiosk jk-cea1ac47904f ready (firmware 0.1.0, hw)"
SITE_LINES = (
    "[  40.00] jukebox[200]: /boot/firmware/jukebox/site.toml: applied",
    "[  40.01] jukebox[200]:   moved tenant.enrollment_token, wifi.psk off the boot partition",
    "[  90.00] jukebox[281]: device.site: site settings: 'Kiosque' at site 'alcazar', tenant "
    "https://tenant.example/t/mediatheques-sud",
)


def verdict(lines: list[str], expected: dict[str, Any]) -> Any:
    result = qemuboot.BootResult(expected=dict(expected))
    steps = progress.Steps(3)
    for number, line in enumerate(lines):
        if qemuboot.examine(line, float(number), result, steps):
            break
    return result


def test_ready_alone_passes_a_plain_boot_test() -> None:
    result = verdict([STARTED, READY], {})
    assert result.complete and result.fatal is None and result.device_id == "jk-cea1ac47904f"


def test_a_provisioned_boot_also_waits_for_first_boot_and_the_site_settings() -> None:
    early = verdict([STARTED, READY, SITE_LINES[0]], qemuboot.SITE_APPLIED)
    assert not early.complete
    assert sorted(early.expected) == [
        "first boot moved the secrets",
        "the daemon took the site settings",
    ]
    done = verdict([STARTED, *SITE_LINES, READY], qemuboot.SITE_APPLIED)
    assert done.complete and done.fatal is None and len(done.seen) == 3


def test_a_daemon_refused_the_real_time_class_is_shown() -> None:
    refused = (
        "[  44.10] jukebox[281]: device.platform.priority: the core thread not in the real-time "
        "class ([Errno 1] Operation not permitted): a press competes with background work"
    )
    result = verdict([STARTED, refused, READY], {})
    assert result.complete and any("real-time class" in note for note in result.notes)


def test_the_gpio_check_verdict_comes_from_its_last_line() -> None:
    passed = verdict([STARTED, READY, "python[400]: gpio-check: PASS (12 of 12 checks)"],
                     qemuboot.GPIO_PASSED)  # fmt: skip
    assert passed.complete and passed.fatal is None
    failed = verdict(["python[400]: gpio-check: FAIL - a released line can be requested again"],
                     qemuboot.GPIO_PASSED)  # fmt: skip
    assert failed.fatal is not None and "released line" in failed.fatal


def test_the_guest_runs_the_gpio_check_once_it_is_up() -> None:
    cmdline = qemuboot.gpio_check_cmdline()
    assert (
        f'systemd.run="/opt/jukebox/venv/bin/python /boot/firmware/{qemuboot.GPIO_CHECK_ON_FAT}"'
        in cmdline
    )
    assert "systemd.run_success_action=none" in cmdline  # the guest stays up, READY or not
    # ... and boots the kiosk's target, not systemd.run='s own kernel-command-line.target
    assert "systemd.unit=multi-user.target systemd.wants=kernel-command-line.service" in cmdline
    assert qemuboot.GPIO_CHECK.is_file()


def test_boot_test_presses_the_button_when_gpio_check_asks() -> None:
    gpio_check = load("gpio_check")  # runs in the guest; imports gpiod only when it checks
    assert qemuboot.PRESS_PROMPT.search(f"python[277]: gpio-check: {gpio_check.PRESS_PROMPT}")
    assert not qemuboot.PRESS_PROMPT.search("gpio-check: ok - the chip opens")


def test_the_secret_keys_are_provisionings_own() -> None:
    assert set(qemuboot.SECRET_KEYS) == set(SECRET_KEYS)


def test_secrets_are_found_on_a_provisioned_card_and_gone_after_first_boot(
    tmp_path: Path,
) -> None:
    base = make_small_image(tmp_path / "base.img")
    with pytest.raises(qemuboot.BuildError, match=r"is base.img provisioned\?"):
        qemuboot.site_secrets(base)
    site = tmp_path / "site.toml"
    site.write_text(SITE_TOML, encoding="utf-8")
    card = tmp_path / "kiosk.img"
    assert jukebox("provision", "image", base, "--site-config", site, "-o", card) == 0
    assert sorted(qemuboot.site_secrets(card)) == sorted(SECRET_KEYS)

    # First boot, by the project's code, on the boot partition's file; then back on the card.
    boot = tmp_path / "boot"
    (boot / BOOT_SITE_FILE).parent.mkdir(parents=True)
    (boot / BOOT_SITE_FILE).write_text(mtype(card), encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    assert apply_boot_config(boot, state).moved
    drive = f"{card}@@{find_boot_partition(card).offset}"
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run(
        ["mcopy", "-o", "-i", drive, str(boot / BOOT_SITE_FILE), f"::/{BOOT_SITE_FILE}"],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    assert qemuboot.site_secrets(card) == []


def test_the_boot_partition_is_sized_from_its_files(tmp_path: Path) -> None:
    (tmp_path / "firmware").mkdir()
    (tmp_path / "firmware" / "kernel").write_bytes(b"\1" * (40 << 20))
    (tmp_path / "firmware" / "start4.elf").write_bytes(b"\1" * (10 << 20))
    # 50 MiB + a quarter, in steps of 8 MiB; never below what FAT32 needs.
    assert assemble.fat_mib_for(tmp_path / "firmware") == 64
    assert assemble.fat_mib_for(tmp_path / "firmware", minimum_mib=80) == 80
    (tmp_path / "firmware" / "initrd").write_bytes(b"\1" * (10 << 20))
    assert assemble.fat_mib_for(tmp_path / "firmware") == 80


# A stand-in for qemu-system-aarch64 (the boot itself is the slow check, docs/image.md): it
# prints a boot's console lines, a first boot's growing of the data partition only once per
# disk, and powers off when the command line runs boot-test's power-off script, as the guest
# does once its boot is over.
FAKE_QEMU = r"""#!/usr/bin/env python3
import sys, time
args = sys.argv[1:]
disk = next(a for a in args if a.startswith("if=none")).split("file=")[1]
cmdline = args[args.index("-append") + 1]
booted = disk + ".booted"
print("Starting kernel ...", flush=True)
print("[    0.00] Kernel command line:", cmdline, flush=True)
try:
    open(booted, "x").close()
    print("jukebox-grow-data: /dev/vda4 is now 544 MiB", flush=True)
except FileExistsError:
    pass
print("Welcome to Debian GNU/Linux 12 (bookworm)!", flush=True)
print("[  20.00] systemd[1]: Started jukebox.service - Jukebox kiosk.", flush=True)
print("[  21.00] jukebox[9]: device.daemon: kiosk jk-0123456789ab ready (firmware 0.1.0, hw)",
      flush=True)
if "jukebox-after-boot.sh poweroff" in cmdline:
    print("poweroff: the first boot is over (running); powering off", flush=True)
    print("reboot: Power down", flush=True)
    sys.exit(0)
time.sleep(60)
"""


def test_a_second_boot_follows_a_first_boot_that_powered_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    image = make_small_image(tmp_path / "jukebox.img")
    drive = f"{image}@@{find_boot_partition(image).offset}"
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
    for name, text in (("vmlinuz-6.1", "kernel"), ("initrd.img-6.1", "initrd"),
                       ("cmdline.txt", "console=serial0 root=LABEL=RASPIROOT quiet")):  # fmt: skip
        (tmp_path / name).write_text(text)
        subprocess.run(["mcopy", "-i", drive, str(tmp_path / name), f"::/{name}"],
                       check=True, env=env, capture_output=True)  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "qemu-system-aarch64").write_text(FAKE_QEMU)
    (bin_dir / "qemu-system-aarch64").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    log = tmp_path / "boot.log"

    closer = "loglevel=7 systemd.setenv=PYTHONPROFILEIMPORTTIME=1"
    argv = [str(image), "--second-boot", "--kernel-args", closer, "--log", str(log)]
    assert qemuboot.main([*argv, "--timeout", "30"]) == 0

    first = qemuboot.first_boot_log(log).read_text()
    assert "jukebox-grow-data" in first and "reboot: Power down" in first
    assert "kiosk jk-0123456789ab ready" in log.read_text()
    assert "jukebox-grow-data" not in log.read_text()  # the same disk, booted again
    assert "Power down" not in log.read_text()  # the measured boot is left running
    assert closer in log.read_text() and closer not in first  # only the measured boot's
    out = capsys.readouterr().out
    assert "first boot: READY" in out and "then powered off" in out
    assert "PASS: jukebox.service READY" in out


def test_the_gpio_check_is_refused_for_an_ab_image_whose_qemu_has_no_gpio_chip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = make_small_image(tmp_path / "jukebox.img")
    drive = f"{image}@@{find_boot_partition(image).offset}"
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
    (tmp_path / "boot.scr").write_text("script")  # what makes an image A/B (qemu_ab.is_ab)
    subprocess.run(["mcopy", "-i", drive, str(tmp_path / "boot.scr"), "::/boot.scr"],
                   check=True, env=env, capture_output=True)  # fmt: skip

    assert qemuboot.main([str(image), "--gpio-check"]) == 1

    assert "--gpio-check needs a single-root image" in capsys.readouterr().out
