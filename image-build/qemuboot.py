"""image-build/boot-test: boot the image's own kernel, initrd and root in QEMU, wait for READY.

The machine is QEMU's `virt` (Cortex-A53, no network, no GPIO, I2C or sound card): what it
checks is the image's software, not the Pi's hardware. An A/B image (docs/updates.md) boots
through U-Boot and the image's boot.scr instead (qemu_ab.py). The kernel and initrd are read from
the image's FAT partition with mtools and the command line from its cmdline.txt (consoles
swapped for virt's ttyAMA0), so the root is found by its label exactly as on a card. The
disk is a sparse copy of the image, 512 MiB larger, so that first boot's growing of the data
partition runs too; OUT.img itself is never written.

PASS when systemd says "Started jukebox.service" (a Type=notify unit: the daemon sent
READY=1) and the daemon logged "kiosk … ready". The time printed is from starting QEMU.

--expect-site (an image from `jukebox provision image`): also first boot applied the site
file and took its secrets off the boot partition, as the console and the disk afterwards show.
--gpio-check: also gpio_check.py, run in the guest as the kiosk's user, passed its checks of
the gpiod pin factory on virt's GPIO chip.
--analyze: also `systemd-analyze blame` and `critical-chain jukebox.service` from the guest,
once READY (guest_after_boot.sh), on the console and in the log. Every run ends with where the
boot's time went, stage by stage (boot_stages.py).
--second-boot: boot the scratch disk twice. The first boot (the data partition grows, the
kiosk creates its key, journal and cache; a provisioned card applies its site file) powers
itself off once READY and its boot is over (guest_after_boot.sh); the second, a kiosk's
everyday boot, is the one the verdict, the stages and the options' checks are about.

Size: QEMU's command line, the serial log's reading and the verdicts belong together (a
little over 500 lines).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boot_stages
import qemu_ab
from progress import BuildError, Steps, clock, run, say

HERE = Path(__file__).resolve().parent
GROW_BY = 512 << 20
POWER_OFF_TIMEOUT = 180.0  # after READY, for the guest to shut down cleanly (--expect-site)
POWERED_OFF = re.compile(r"reboot: Power down")
PRESS_PROMPT = re.compile(r"gpio-check: press the power button")  # gpio_check.PRESS_PROMPT
GPIO_CHECK = HERE / "gpio_check.py"
GPIO_CHECK_ON_FAT = "jukebox-gpio-check.py"
SITE_FILE_ON_FAT = "jukebox/site.toml"
SECRET_KEYS = ("tenant.enrollment_token", "wifi.psk")  # contract.site.SECRET_KEYS
# What the console must also show, per option: name → pattern.
SITE_APPLIED = {
    "first boot applied the site file": re.compile(r"site\.toml: applied"),
    "first boot moved the secrets": re.compile(r"moved (.+) off the boot partition"),
    "the daemon took the site settings": re.compile(r"site settings: .* at site .*, tenant "),
}
GPIO_PASSED = {"gpio_check.py passed": re.compile(r"gpio-check: PASS")}
AFTER_BOOT = HERE / "guest_after_boot.sh"  # --analyze's report and the guest's own power-off
AFTER_BOOT_ON_FAT = "jukebox-after-boot.sh"
ANALYZED = {"systemd-analyze blame and critical-chain": re.compile(r"analyze: done")}
STARTED = re.compile(r"Started (\x1b\[[0-9;]*m)*jukebox\.service")
READY = re.compile(r"kiosk (\S+) ready \(firmware ([^,]+), (\w+)\)")
UPTIME = re.compile(r"^\[\s*(\d+\.\d+)\]")
FATAL = (
    re.compile(r"Kernel panic"),
    re.compile(r"Gave up waiting for root"),
    re.compile(r"ALERT! .* does not exist"),
    re.compile(r"You are in emergency mode"),
    re.compile(r"Failed to start (\x1b\[[0-9;]*m)*jukebox\.service"),
    re.compile(r"jukebox\.service: Failed with result"),
    re.compile(r"gpio-check: FAIL"),
    re.compile(r"jukebox-boot: slot \w did not boot"),  # A/B: U-Boot could not start it
)
WORTH_SHOWING = (
    re.compile(r"jukebox-grow-data: "),
    re.compile(
        r"jukebox\[\d+\]: .*(unavailable|no \w+ display|not loaded|error|cannot|real-time class)",
        re.I,
    ),
    re.compile(r"FAILED|Failed to start|Dependency failed"),
    re.compile(r"gpio-check: |site\.toml: |off the boot partition|site settings: "),
    re.compile(r"analyze: "),
)


@dataclass
class BootResult:
    ready_after: float | None = None
    first_boot: BootResult | None = None  # with --second-boot: the boot that powered off
    started_after: float | None = None
    uptime: float | None = None
    device_id: str | None = None
    fatal: str | None = None
    notes: list[str] = field(default_factory=list)
    expected: dict[str, re.Pattern[str]] = field(default_factory=dict)  # not yet seen
    seen: dict[str, float | None] = field(default_factory=dict)  # when, on the console

    @property
    def complete(self) -> bool:
        done = self.started_after is not None and self.ready_after is not None
        return done and not self.expected


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="image-build/boot-test",
        description="Boot the image in qemu-system-aarch64 (virt, no network) and check that "
        "jukebox.service reaches READY. See docs/image.md.",
    )
    p.add_argument("image", type=Path, help="the image from image-build/build")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (300)")
    p.add_argument("--memory", default="1024", help="guest RAM in MiB (1024)")
    p.add_argument("--cpu", default="cortex-a53", help="guest CPU (cortex-a53, as on a Pi 3)")
    p.add_argument("--log", type=Path, help="serial console log (default IMAGE.boot-test.log)")
    p.add_argument(
        "--expect-site", action="store_true",
        help="the image is provisioned: check that first boot applied its site file and "
        "removed the secrets from the boot partition",
    )  # fmt: skip
    p.add_argument(
        "--gpio-check", action="store_true",
        help="also run image-build/gpio_check.py in the guest (the gpiod pin factory on "
        "virt's PL061 GPIO chip, as the jukebox user)",
    )  # fmt: skip
    p.add_argument(
        "--analyze", action="store_true",
        help="also print systemd-analyze blame and critical-chain jukebox.service from the "
        "guest once READY (not with --gpio-check: systemd runs one command line command)",
    )  # fmt: skip
    p.add_argument(
        "--second-boot", action="store_true",
        help="boot twice: first boot (growing the data partition, the kiosk's first state) "
        "powers off once READY, and the second boot, as a kiosk boots every day, is measured",
    )  # fmt: skip
    p.add_argument(
        "--kernel-args", default="", metavar="ARGS",
        help="more words for the measured boot's kernel command line, to look closer "
        "(loglevel=7; systemd.setenv=PYTHONPROFILEIMPORTTIME=1, whose daemon imports "
        "--analyze then lists)",
    )  # fmt: skip
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.analyze and args.gpio_check:
        parser().error("--analyze and --gpio-check: systemd.run= runs one command; pick one")
    steps = Steps(4 if args.second_boot else 3)
    try:
        result = boot_test(args, steps)
    except BuildError as exc:
        say(f"\nFAIL: {exc}")
        return 1
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    say("")
    first = result.first_boot
    if first is not None:
        for note in first.notes:
            say(f"  first boot: {note}")
        if first.fatal or not first.complete:
            say(f"FAIL: first boot: {verdict_problem(first, args.timeout)}")
            return 1
        assert first.ready_after is not None and first.started_after is not None
        say(f"  first boot: READY {max(first.ready_after, first.started_after):.1f} s after "
            "starting QEMU, then powered off; the second boot:")  # fmt: skip
    for note in result.notes:
        say(f"  {note}")
    if result.fatal or not result.complete:
        say(f"FAIL: {verdict_problem(result, args.timeout)}")
        return 1
    uptime = f", guest uptime {result.uptime:.1f} s" if result.uptime is not None else ""
    assert result.ready_after is not None and result.started_after is not None
    if first is not None:
        for what, after in first.seen.items():
            say(f"  ok: first boot: {what}" + (f" ({after:.1f} s)" if after is not None else ""))
    for what, after in result.seen.items():
        say(f"  ok: {what}" + (f" ({after:.1f} s)" if after is not None else ""))
    say(
        f"PASS: jukebox.service READY {max(result.ready_after, result.started_after):.1f} s "
        f"after starting QEMU{uptime} (kiosk {result.device_id})"
    )
    return 0


def verdict_problem(result: BootResult, timeout: float) -> str:
    """Why a boot failed: the fatal console line, or what it never showed."""
    missing = [
        what
        for what, seen in (
            ('systemd\'s "Started jukebox.service"', result.started_after),
            ('the daemon\'s "kiosk … ready"', result.ready_after),
        )
        if seen is None
    ] + list(result.expected)
    return result.fatal or f"not seen within {timeout:.0f} s: {' and '.join(missing)}"


def first_boot_log(log: Path) -> Path:
    """Where --second-boot keeps the first boot's console: beside the measured boot's."""
    return log.with_name(f"{log.name}.first-boot")


def boot_test(args: argparse.Namespace, steps: Steps) -> BootResult:
    image: Path = args.image.resolve()
    if not image.is_file():
        raise BuildError(f"{image}: no such image")
    for tool, package in (
        ("qemu-system-aarch64", "qemu-system-arm"),
        ("mcopy", "mtools"),
        ("sfdisk", "fdisk"),
    ):
        if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")):
            raise BuildError(f"{tool} not found: apt-get install --no-install-recommends {package}")
    log = args.log or image.with_name(image.name + ".boot-test.log")
    with tempfile.TemporaryDirectory(prefix="jukebox-boot-test-") as scratch:
        work = Path(scratch)
        ab = qemu_ab.is_ab(fat_drive(image))
        boot_files: tuple[Path, Path] | None = None  # the kernel and initrd, without U-Boot
        if ab and args.gpio_check:
            raise BuildError(
                f"{image.name} is an A/B image, booted through U-Boot: QEMU's virt machine has "
                "no GPIO chip when it starts firmware, so --gpio-check needs a single-root image "
                "(image-build/build --single-root)"
            )
        if ab:  # the kernels are in the root slots: U-Boot and the image's boot.scr load them
            steps.step(f"{image.name} is an A/B image: QEMU boots U-Boot, which runs boot.scr")
            cmdline = qemu_ab.CONSOLE_ARGS
        else:
            steps.step(f"Kernel, initrd and command line from {image.name}'s boot partition")
            kernel, initrd, cmdline = extract_boot_files(image, work)
            boot_files = (kernel, initrd)
            steps.note(f"{kernel.name}, {initrd.name} ({initrd.stat().st_size >> 20} MiB)")
            steps.note(f"cmdline: {cmdline}")

        if args.expect_site:
            site_secrets(image)  # refuses an image that holds no site file
        steps.step("A scratch copy of the disk, 512 MiB larger (the data partition grows)")
        disk = work / "disk.img"
        run(["cp", "--sparse=always", image, disk], what="copying the image")
        with disk.open("r+b") as f:
            f.truncate(image.stat().st_size + GROW_BY)
        first = None
        if args.second_boot:
            steps.step("First boot, until READY and the boot's end, then a power-off")
            first = BootResult(expected=dict(SITE_APPLIED) if args.expect_site else {})
            first_log = first_boot_log(log)
            first_cmdline = cmdline + " " + after_boot(disk, ["poweroff"])
            command = boot_command(args, disk, work, first_cmdline, boot_files, None)
            steps.note(f"serial console → {first_log}")
            watch(command, first_log, args.timeout, steps, first, power_off=True)
            first.notes.extend(boot_stages.summary(first_log.read_text(errors="replace")))
            if first.fatal or not first.complete:
                return BootResult(first_boot=first)
            if args.expect_site:
                check_secrets(disk, first)
        result = BootResult(first_boot=first)
        if args.expect_site and first is None:
            result.expected.update(SITE_APPLIED)
        if args.gpio_check:
            mtools(["mcopy", "-o", "-i", fat_drive(disk), str(GPIO_CHECK),
                    f"::/{GPIO_CHECK_ON_FAT}"], what="adding gpio_check.py")  # fmt: skip
            cmdline += " " + gpio_check_cmdline()
            result.expected.update(GPIO_PASSED)
            steps.note(f"{GPIO_CHECK.name} runs in the guest after boot")
        # A provisioned card's first boot ends with a power-off, so that the boot partition
        # is read as the guest left it: by the guest itself, or with the power button that
        # --gpio-check needs anyway (only a single-root image booted without firmware has it).
        power_off: bool = args.expect_site and first is None
        actions = ["analyze"] if args.analyze else []
        if power_off and not args.gpio_check:
            actions.append("poweroff")
        if actions:
            cmdline += " " + after_boot(disk, actions)
            steps.note(f"{AFTER_BOOT.name} runs in the guest once READY: {' and '.join(actions)}")
        if args.analyze:
            result.expected.update(ANALYZED)
        if args.kernel_args.strip():
            cmdline += " " + args.kernel_args.strip()
            steps.note(f"more kernel arguments: {args.kernel_args.strip()}")

        again = " again" if first is not None else ""
        steps.step(f"Booting{again} in QEMU (virt, {args.cpu}, {args.memory} MiB, no network)")
        # The power button, through QMP: pressed for gpio_check.py's edges (and, with
        # --expect-site, to shut the guest down as a kiosk does).
        qmp = work / "qmp.sock" if args.gpio_check else None
        command = boot_command(args, disk, work, cmdline, boot_files, qmp)
        steps.note(f"serial console → {log}")
        watch(command, log, args.timeout, steps, result, qmp=qmp, power_off=power_off)
        result.notes.extend(boot_stages.summary(log.read_text(errors="replace")))
        if args.expect_site and first is None and result.complete and not result.fatal:
            check_secrets(disk, result)
        return result


def check_secrets(disk: Path, result: BootResult) -> None:
    """Fails `result` if first boot left a secret in the boot partition's site.toml (read
    once the guest has powered off)."""
    left = site_secrets(disk)
    if left:
        result.fatal = f"the boot partition still holds {', '.join(left)} after first boot"
    else:
        result.seen["no secret left in the boot partition's site.toml"] = None


def after_boot(disk: Path, actions: list[str]) -> str:
    """The command line's words that have the guest run guest_after_boot.sh with `actions`
    once its boot is over (the script copied onto `disk`'s boot partition)."""
    mtools(["mcopy", "-o", "-i", fat_drive(disk), str(AFTER_BOOT), f"::/{AFTER_BOOT_ON_FAT}"],
           what=f"adding {AFTER_BOOT.name}")  # fmt: skip
    return systemd_run(f"/bin/sh /boot/firmware/{AFTER_BOOT_ON_FAT} {' '.join(actions)}")


def boot_command(
    args: argparse.Namespace,
    disk: Path,
    work: Path,
    cmdline: str,
    boot_files: tuple[Path, Path] | None,
    qmp: Path | None,
) -> list[str]:
    """QEMU's command line for one boot of `disk`; an A/B image (no `boot_files`) is given
    `cmdline`'s extra arguments in a file on its FAT, which boot.scr reads."""
    if boot_files is None:
        qemu_ab.set_extra_args(fat_drive(disk), cmdline, work)
        command = qemu_ab.uboot_command(disk, args.cpu, args.memory)
    else:
        command = qemu_command(*boot_files, cmdline, disk, args.cpu, args.memory)
    if qmp is not None:
        command += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    return command


def fat_drive(image: Path) -> str:
    """mtools' name for the image's FAT partition: the file and the partition's byte offset."""
    table = json.loads(run(["sfdisk", "--json", image], what="reading the partition table"))
    partitions = table["partitiontable"]["partitions"]
    fat = [p for p in partitions if p["type"].lower() in ("c", "b", "e")]
    if not fat:
        raise BuildError(f"{image}: no FAT partition in {partitions}")
    return f"{image}@@{fat[0]['start'] * 512}"


def site_secrets(image: Path) -> list[str]:
    """The secret keys the image's boot-partition site.toml holds (a missing file: error)."""
    text = mtools(["mtype", "-i", fat_drive(image), f"::/{SITE_FILE_ON_FAT}"],
                  what=f"reading {SITE_FILE_ON_FAT} (is {image.name} provisioned?)")  # fmt: skip
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{image}: {SITE_FILE_ON_FAT} is not valid TOML: {exc}") from None
    return [key for key in SECRET_KEYS if _lookup(document, key) is not None]


def _lookup(document: dict[str, object], dotted: str) -> object:
    value: object = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def gpio_check_cmdline() -> str:
    return systemd_run(f"/opt/jukebox/venv/bin/python /boot/firmware/{GPIO_CHECK_ON_FAT}")


def systemd_run(command: str) -> str:
    """systemd runs `command` once the guest is up (systemd-run-generator), whatever its end.

    systemd.run= alone would boot kernel-command-line.target instead of the default target,
    without the kiosk: the kiosk's target is named, and the command added to it."""
    return (
        f'systemd.run="{command}" '
        "systemd.run_success_action=none systemd.run_failure_action=none "
        "systemd.unit=multi-user.target systemd.wants=kernel-command-line.service"
    )


def extract_boot_files(image: Path, work: Path) -> tuple[Path, Path, str]:
    drive = fat_drive(image)
    names = mtools(["mdir", "-b", "-i", drive, "::/"], what="listing the boot partition")
    files = [Path(n.strip()).name for n in names.splitlines()]
    kernels = sorted(f for f in files if f.startswith("vmlinuz-"))
    initrds = sorted(f for f in files if f.startswith("initrd.img-"))
    if not kernels or not initrds or "cmdline.txt" not in files:
        raise BuildError(
            f"{image}: no kernel, initrd or cmdline.txt on the boot partition: {files}"
        )
    kernel, initrd = work / kernels[-1], work / initrds[-1]
    for name in (kernel.name, initrd.name, "cmdline.txt"):
        mtools(["mcopy", "-n", "-i", drive, f"::/{name}", str(work / name)], what=f"reading {name}")
    cmdline = qemu_cmdline((work / "cmdline.txt").read_text())
    return kernel, initrd, cmdline


def mtools(args: list[str], *, what: str) -> str:
    env = {**os.environ, "MTOOLSRC": "/dev/null", "MTOOLS_SKIP_CHECK": "1"}
    return run(args, what=what, env=env)


def qemu_cmdline(pi_cmdline: str) -> str:
    """The card's command line, with virt's serial console instead of the Pi's consoles.

    systemd.show_status=1 and journald's forwarding put systemd's "Started …" lines and the
    daemon's log on the serial console, where this test reads them.
    """
    kept = [w for w in pi_cmdline.split() if not w.startswith(("console=", "cma="))]
    return " ".join(
        [*kept, "console=ttyAMA0", "systemd.show_status=1", "systemd.journald.forward_to_console=1"]
    )


def qemu_command(
    kernel: Path, initrd: Path, cmdline: str, disk: Path, cpu: str, memory: str
) -> list[str]:
    return [
        "qemu-system-aarch64",
        "-machine", "virt",
        "-cpu", cpu,
        "-smp", "2",
        "-m", memory,
        "-accel", "tcg,thread=multi",
        "-nodefaults",
        "-display", "none",
        "-serial", "stdio",
        "-nic", "none",
        "-kernel", str(kernel),
        "-initrd", str(initrd),
        "-append", cmdline,
        "-drive", f"if=none,id=disk,format=raw,file={disk}",
        "-device", "virtio-blk-pci,drive=disk",
    ]  # fmt: skip


def watch(
    command: list[str],
    log: Path,
    timeout: float,
    steps: Steps,
    result: BootResult,
    *,
    qmp: Path | None = None,
    power_off: bool = False,
) -> BootResult:
    """QEMU's console into `log` and `result`; stopped at the verdict, or with `power_off`
    waited for until the guest powers off: after a press of its power button when there is
    `qmp` (QEMU's QMP socket), else by itself (guest_after_boot.sh poweroff)."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    assert process.stdout is not None
    try:
        with log.open("w") as record:
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                now = time.monotonic() - started
                record.write(f"{now:8.2f} {line}\n")
                record.flush()
                if qmp is not None and PRESS_PROMPT.search(line):
                    press_power_button(qmp)
                if examine(line, now, result, steps):
                    break
            if power_off and result.complete and not result.fatal:
                if qmp is not None:
                    press_power_button(qmp)
                timer.cancel()
                timer = threading.Timer(POWER_OFF_TIMEOUT, process.kill)
                timer.start()
                powered_off = False
                for raw in process.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    now = time.monotonic() - started
                    record.write(f"{now:8.2f} {line}\n")
                    if POWERED_OFF.search(line):
                        powered_off = True
                        steps.note(f"+{clock(now)} the guest powered off")
                if process.wait() != 0 or not powered_off:
                    result.fatal = f"the guest did not power off within {POWER_OFF_TIMEOUT:.0f} s"
    finally:
        timer.cancel()
        process.kill()
        process.wait()
    return result


def press_power_button(qmp: Path) -> None:
    """QMP's system_powerdown: virt's power button, which systemd-logind answers with poweroff."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(qmp))
        stream = sock.makefile("rw")
        stream.readline()  # the greeting
        for request in ("qmp_capabilities", "system_powerdown"):
            stream.write(json.dumps({"execute": request}) + "\n")
            stream.flush()
            while "return" not in (answer := json.loads(stream.readline())):
                if "error" in answer:
                    raise BuildError(f"QMP {request}: {answer['error']}")


def examine(line: str, now: float, result: BootResult, steps: Steps) -> bool:
    """Update `result` from one console line; True once the verdict is known."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
    for pattern in FATAL:
        if pattern.search(plain):
            result.fatal = f"{plain.strip()} ({now:.1f} s)"
            return True
    if result.started_after is None and STARTED.search(line):
        result.started_after = now
        steps.note(f"+{clock(now)} {plain.strip()}")
    ready = READY.search(plain)
    if ready and result.ready_after is None:
        result.ready_after = now
        result.device_id = ready.group(1)
        uptime = UPTIME.search(plain)
        result.uptime = float(uptime.group(1)) if uptime else None
        steps.note(f"+{clock(now)} {plain.strip()}")
    elif any(p.search(plain) for p in WORTH_SHOWING):
        result.notes.append(plain.strip())
        steps.note(f"+{clock(now)} {plain.strip()}")
    for what, pattern in list(result.expected.items()):
        if pattern.search(plain):
            result.seen[what] = now
            del result.expected[what]
    return result.complete


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
