"""The kiosk's root filesystem: Debian bookworm arm64 by mmdebstrap, then made a jukebox.

mmdebstrap installs the packages into a folder (arm64 binaries run through qemu-user's
binfmt_misc handler) and calls back into this module (`customize`, its customize hook) while
the chroot is still set up: the image's own files (`files/`), the jukebox user and its
groups, the project in a virtualenv under /opt/jukebox/venv, the systemd units, and finally
the one initramfs, whose raspi-firmware hook fills /boot/firmware (kernel, initrd, device
trees, config.txt, cmdline.txt).

Speed: linux-image-arm64's own initramfs is skipped during installation (INITRD=No) and built
once at the end, with only the modules the Pi's SD card needs (files/etc/initramfs-tools).

Size: the customize hook's steps run in one chroot session and read best in order (over 400
lines on purpose).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ab_root
import boot_speed
from progress import BuildError, Steps, clean_env, run

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

SUITE = "bookworm"
ARCH = "arm64"
COMPONENTS = "main non-free-firmware"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} {COMPONENTS}",
    f"deb http://deb.debian.org/debian {SUITE}-updates {COMPONENTS}",
    f"deb http://deb.debian.org/debian-security {SUITE}-security {COMPONENTS}",
)

PACKAGES = (
    # Boot: Debian's kernel, the Pi's firmware and its hooks, Wi-Fi firmware and regulatory data.
    "linux-image-arm64",
    "initramfs-tools",
    "raspi-firmware",
    "firmware-brcm80211",
    "wireless-regdb",
    # The system: systemd, networking, time, file system checks, growing the data partition.
    "systemd-sysv",
    "udev",
    "kmod",
    "systemd-resolved",
    "systemd-timesyncd",
    "wpasupplicant",
    "ca-certificates",
    "e2fsprogs",
    "dosfstools",
    "fdisk",
    # Over-the-air updates: RAUC and its service, U-Boot for the A/B boot (ab_root.py).
    "rauc",
    "rauc-service",
    "squashfs-tools",  # `rauc info` reads a plain bundle's manifest with unsquashfs
    "u-boot-rpi",
    # The kiosk: Python for its virtualenv, libmpv for python-mpv.
    "python3",
    "python3-venv",
    "libmpv2",
)
# mmdebstrap's merged-usr hook makes the /usr symlinks itself and installs usr-is-merged:
# otherwise the essential packages' init-system-helpers brings usrmerge, and with it Perl
# (~30 MB), only to merge a /usr that is merged already.
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")

UNUSED_FILE_SYSTEMS = """9p afs btrfs ceph coda dlm f2fs gfs2 jffs2 jfs nfs nfsd nilfs2 ocfs2
    orangefs reiserfs smb ubifs xfs"""

# Never unpacked: documentation, translations, and what libmpv2's OpenGL dependencies drag in
# (Mesa's drivers and LLVM, ~150 MB) although a kiosk without a screen never makes a GL
# context. libGL and libEGL stay, so libmpv loads; they find no driver, which audio never asks.
DPKG_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/lintian/*",
    "/usr/lib/aarch64-linux-gnu/dri/*",
    "/usr/lib/aarch64-linux-gnu/libLLVM-*",
    "/usr/lib/aarch64-linux-gnu/libz3.*",
    "/usr/lib/aarch64-linux-gnu/libvulkan_*",
    "/usr/share/vulkan/icd.d/*",
    "/usr/share/X11/*",  # X keyboard maps and locales, for windows the kiosk never opens
    # Device trees of every other arm64 board (~26 MB); raspi-firmware copies broadcom's.
    "/usr/lib/linux-image-*/*",
    # Kernel modules for hardware no Pi kiosk has (cameras and TV tuners, PC graphics cards,
    # InfiniBand, industrial sensors, PCI Ethernet cards): ~90 MB.
    "/lib/modules/*/kernel/drivers/media/*",
    "/lib/modules/*/kernel/drivers/gpu/drm/amd/*",
    "/lib/modules/*/kernel/drivers/gpu/drm/nouveau/*",
    "/lib/modules/*/kernel/drivers/gpu/drm/radeon/*",
    "/lib/modules/*/kernel/drivers/gpu/drm/msm/*",
    "/lib/modules/*/kernel/drivers/infiniband/*",
    "/lib/modules/*/kernel/drivers/iio/*",
    "/lib/modules/*/kernel/drivers/net/ethernet/*",
    # ... and (~75 MB) Wi-Fi chips other than the Pi's own, SCSI host adapters (USB storage
    # keeps sd_mod), sound cards on PCI, RAID and device mapper, SCSI targets, USB gadget
    # mode, CAN buses, the firewall, and file systems a kiosk never mounts.
    "/lib/modules/*/kernel/drivers/net/wireless/*",
    "/lib/modules/*/kernel/drivers/scsi/*/*",
    "/lib/modules/*/kernel/sound/pci/*",
    "/lib/modules/*/kernel/drivers/md/*",
    "/lib/modules/*/kernel/drivers/target/*",
    "/lib/modules/*/kernel/drivers/usb/gadget/*",
    "/lib/modules/*/kernel/drivers/net/can/*",
    "/lib/modules/*/kernel/net/netfilter/*",
    "/lib/modules/*/kernel/net/ipv4/netfilter/*",
    "/lib/modules/*/kernel/net/ipv6/netfilter/*",
    *(f"/lib/modules/*/kernel/fs/{fs}/*" for fs in UNUSED_FILE_SYSTEMS.split()),
)
DPKG_INCLUDES = (
    "/usr/share/doc/*/copyright",
    "/lib/modules/*/kernel/drivers/net/ethernet/broadcom/*",  # the Pi 4's own Ethernet
    "/lib/modules/*/kernel/drivers/net/wireless/broadcom/*",  # the Pi's own Wi-Fi (brcmfmac)
    "/lib/modules/*/kernel/drivers/media/mc/*",  # the media controller snd-usb-audio needs
    "/usr/lib/linux-image-*/broadcom/*",  # the Pi's device trees
)

ENABLE = (
    "systemd-networkd.service",
    "systemd-resolved.service",
    "systemd-timesyncd.service",
)
# Wi-Fi starts when wlan0 appears, not at every boot: enabled for multi-user.target, its job
# would wait 90 s for a missing wlan0 (a failed firmware, QEMU) and hold network.target.
DEVICE_WANTS = {"sys-subsystem-net-devices-wlan0.device": "wpa_supplicant@wlan0.service"}
# Timers and services that write to the root filesystem (read-only here) or need D-Bus; and
# systemd-networkd-wait-online, which would hold every boot up to 2 minutes without a network:
# the kiosk plays offline and its tenant link retries on its own.
MASK = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "wpa_supplicant.service",
    "systemd-networkd-wait-online.service",
)
EXTRA_GROUPS = ("gpio", "i2c", "spi")
USER = "jukebox"
VENV = "/opt/jukebox/venv"
# Needed to install the virtualenv, not to run it (~26 MB).
VENV_BUILD_ONLY = ("pip", "setuptools")
CONFIG = "/etc/jukebox/jukebox.toml"
CUSTOMIZE_STEPS = 5
HOOK_MARK = "@jukebox@ "


@dataclass
class Settings:
    """What the customize hook needs, passed through a JSON file."""

    wheel: str
    units: list[str]
    docs: list[str]
    started: float
    steps_done: int
    steps_total: int
    pip_cache: str | None = None
    hostname: str = "jukebox"
    ab: bool = True  # two root slots, U-Boot and RAUC (ab_root.py); False: one root, as before
    compatible: str = "jukebox-generic-rpi-arm64"  # RAUC's, per library network
    keyring: str | None = None  # the network's release CA (image-build/release-key)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: Path) -> Settings:
        return cls(**json.loads(path.read_text()))


def mmdebstrap_command(root: Path, settings_file: Path, apt_cache: Path | None) -> list[str]:
    """The mmdebstrap call: minbase, no recommends, our packages, our customize hook."""
    hook = f"{shlex.quote(sys.executable)} {shlex.quote(__file__)} customize"
    command = [
        "mmdebstrap",
        "--verbose",
        "--mode=root",
        "--format=directory",
        "--variant=minbase",
        f"--architectures={ARCH}",
        f"--components={COMPONENTS}",
        "--aptopt=APT::Install-Recommends false",
        "--aptopt=Acquire::Retries 3",
        "--dpkgopt=force-unsafe-io",
        f"--include={','.join(PACKAGES)}",
    ]
    if MERGED_USR_HOOKS.is_dir():
        command.append(f"--hook-dir={MERGED_USR_HOOKS}")
    for pattern in DPKG_EXCLUDES:
        command.append(f"--dpkgopt=path-exclude={pattern}")
    for pattern in DPKG_INCLUDES:
        command.append(f"--dpkgopt=path-include={pattern}")
    if apt_cache is not None:
        apt_cache.mkdir(parents=True, exist_ok=True)
        archives = "/var/cache/apt/archives/"
        command.append(f'--setup-hook=mkdir -p "$1"{archives}')
        command.append(f"--setup-hook=sync-in {shlex.quote(str(apt_cache))} {archives}")
        command.append(f"--customize-hook=sync-out {archives} {shlex.quote(str(apt_cache))}")
    command.append(f'--customize-hook={hook} "$1" {shlex.quote(str(settings_file))}')
    command += [SUITE, str(root), *MIRRORS]
    return command


def mmdebstrap_env() -> dict[str, str]:
    """No initramfs while packages install: it is built once, at the end (customize)."""
    return {**os.environ, "INITRD": "No", "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}


# ------------------------------------------------------------------ the customize hook


def customize(root: Path, settings: Settings) -> None:
    steps = Steps(
        settings.steps_total,
        done=settings.steps_done,
        started=settings.started,
        prefix=HOOK_MARK,
    )

    steps.step("System: the image's files, the jukebox user, udev rules, network, units")
    install_files(root)
    add_user(root)
    install_units(root, [Path(u) for u in settings.units])
    (root / "etc/hostname").write_text(settings.hostname + "\n")
    (root / "etc/hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{settings.hostname}\n"
        "::1\t\tlocalhost ip6-localhost ip6-loopback\n"
    )

    steps.step(f"The project into {VENV} (pip, arm64 wheels from PyPI)")
    versions = install_project(root, Path(settings.wheel), settings.docs, settings.pip_cache)
    steps.note(versions)
    steps.note(compile_bytecode(root))
    cached = chroot(root, f"{VENV}/bin/python", "-m", "device.platform.method_cache",
                    what="caching the methods the kiosk's dataclasses generate")  # fmt: skip
    steps.note(cached.strip())  # Python 3.11 would compile them at every start

    steps.step(f"The default configuration, checked by the installed jukebox: {CONFIG}")
    checked = chroot(root, f"{VENV}/bin/python", "-m", "jukebox", "run", "--check",
                     "--config", CONFIG, what="checking the default configuration")  # fmt: skip
    steps.note(checked.strip())

    steps.step("One initramfs, and /boot/firmware by raspi-firmware's hooks")
    kernel = build_initramfs(root)
    steps.note(kernel)
    if settings.ab:
        keyring = Path(settings.keyring) if settings.keyring else None
        steps.note(ab_root.prepare(root, settings.compatible, keyring))

    steps.step("Finishing: read-only root, DNS by systemd-resolved, no package lists")
    finish(root)


def chroot(root: Path, *args: str, what: str, **env: str) -> str:
    return run(["chroot", root, *args], what=what, env=clean_env(**env))


def install_files(root: Path) -> None:
    """Copy files/ over the root, as root-owned files with their modes."""
    for source in sorted(FILES.rglob("*")):
        target = root / source.relative_to(FILES)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, 0o755 if os.access(source, os.X_OK) else 0o644)
        os.chown(target, 0, 0)
    for folder in ("var/lib/jukebox", "boot/firmware"):  # mount points
        (root / folder).mkdir(parents=True, exist_ok=True)


def add_user(root: Path) -> None:
    """The jukebox system user, in audio, gpio, i2c and spi (made when Debian lacks them).

    The host's groupadd and useradd write the target's files (--root): nothing emulated.
    """
    groups = (root / "etc/group").read_text()
    for group in EXTRA_GROUPS:
        if f"\n{group}:" not in "\n" + groups:
            run(["groupadd", "--root", root, "--system", group], what=f"adding group {group}")
    passwd = (root / "etc/passwd").read_text()
    if f"\n{USER}:" not in "\n" + passwd:
        run(
            [
                "useradd", "--root", root, "--system", "--user-group",
                "--home-dir", "/var/lib/jukebox", "--no-create-home",
                "--shell", "/usr/sbin/nologin", "--comment", "Jukebox kiosk",
                "--groups", ",".join(("audio", *EXTRA_GROUPS)), USER,
            ],
            what="adding the jukebox user",
        )  # fmt: skip


def install_units(root: Path, units: list[Path]) -> None:
    """The project's units, enabled; the system's network units enabled, others masked, and
    what the kiosk's boot skips (boot_speed.py)."""
    system = root / "etc/systemd/system"
    for unit in units:
        shutil.copyfile(unit, system / unit.name)
        os.chmod(system / unit.name, 0o644)
    systemctl = ["systemctl", f"--root={root}"]
    # Templates (jukebox-stick@.service) are started by udev rules, units without [Install]
    # (jukebox-reboot.service) by another unit: neither is enabled.
    enabled = [u.name for u in units if "@." not in u.name and "[Install]" in u.read_text()]
    run([*systemctl, "enable", *ENABLE, *enabled], what="enabling units")
    for device, wanted in DEVICE_WANTS.items():
        wants = system / f"{device}.wants"
        wants.mkdir(exist_ok=True)
        template = re.sub(r"@[^.]+\.", "@.", wanted)
        (wants / wanted).unlink(missing_ok=True)
        (wants / wanted).symlink_to(f"/lib/systemd/system/{template}")
    present = [u for u in MASK if _unit_exists(root, u)] + boot_speed.to_mask(root)
    if present:
        run([*systemctl, "mask", *present], what="masking units")
    run([*systemctl, "set-default", boot_speed.DEFAULT_TARGET], what="setting the default target")
    boot_speed.turn_off_generators(root)


def _unit_exists(root: Path, unit: str) -> bool:
    return any((root / d / unit).exists() for d in ("lib/systemd/system", "usr/lib/systemd/system"))


def install_project(root: Path, wheel: Path, docs: list[str], pip_cache: str | None) -> str:
    """A virtualenv at /opt/jukebox/venv with the project's wheel and its dependencies."""
    staging = root / "tmp/jukebox-wheels"
    staging.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, staging / wheel.name)
    resolv = root / "etc/resolv.conf"
    restore = os.readlink(resolv) if resolv.is_symlink() else None
    if restore is not None:  # systemd-resolved's stub does not answer inside the chroot
        resolv.unlink()
        shutil.copyfile("/etc/resolv.conf", resolv)
    cache = root / "root/.cache/pip"
    if pip_cache:
        Path(pip_cache).mkdir(parents=True, exist_ok=True)
        shutil.copytree(pip_cache, cache, dirs_exist_ok=True)
    # pip in the chroot trusts what the host trusts (a company proxy's certificate authority).
    shutil.copyfile(host_ca_bundle(), staging / "ca.crt")
    index = {k: v for k, v in os.environ.items() if k in ("PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT")}
    try:
        chroot(root, "python3", "-m", "venv", VENV, what="creating the virtualenv")
        chroot(
            root, f"{VENV}/bin/pip", "install", "--only-binary=:all:", "--no-input",
            "--progress-bar=off", "--disable-pip-version-check",
            "--cert=/tmp/jukebox-wheels/ca.crt",
            f"/tmp/jukebox-wheels/{wheel.name}[kiosk]",  # the kiosk's own extra
            what="installing the project and its dependencies (arm64 wheels only)",
            **index,
        )  # fmt: skip
    finally:
        if restore is not None:
            resolv.unlink()
            resolv.symlink_to(restore)
        shutil.rmtree(staging, ignore_errors=True)
        if pip_cache and cache.is_dir():
            shutil.copytree(cache, pip_cache, dirs_exist_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
    doc_dir = root / "opt/jukebox/share/doc"
    doc_dir.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        shutil.copyfile(doc, doc_dir / Path(doc).name)
    frozen = chroot(root, f"{VENV}/bin/pip", "freeze", "--all", what="listing the virtualenv")
    wanted = ("jukebox", "python-mpv", "gpiozero", "gpiod", "luma.oled", "cryptography", "pillow")
    found = [
        line
        for line in frozen.split()
        if line.split("==")[0].lower().replace("_", "-") in {w.replace("_", "-") for w in wanted}
    ]
    chroot(root, f"{VENV}/bin/python", "-m", "pip", "uninstall", "--yes", "--quiet",
           *VENV_BUILD_ONLY, what="removing pip and setuptools from the virtualenv")  # fmt: skip
    return ", ".join(found)


def compile_bytecode(root: Path) -> str:
    """Every module of the stdlib and the virtualenv with its .pyc: the read-only root cannot
    save one, so a missing .pyc would be compiled again at every start (boot_speed.py)."""
    stale = boot_speed.stale_bytecode(root)
    if stale:
        chroot(root, "/usr/bin/python3", "-c",
               "import compileall, sys\nfor f in sys.argv[1:]: compileall.compile_file(f, quiet=2)",
               *stale, what="compiling the missing .pyc files")  # fmt: skip
    left = boot_speed.stale_bytecode(root)  # a file Python cannot compile (never imported)
    missing = f"{len(left)} left without one, e.g. {left[:3]}" if left else "none missing"
    return f"bytecode: {len(stale)} .pyc compiled here, {missing}"


def host_ca_bundle() -> str:
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name) and Path(os.environ[name]).is_file():
            return os.environ[name]
    return "/etc/ssl/certs/ca-certificates.crt"


def build_initramfs(root: Path) -> str:
    """The one initramfs; raspi-firmware's post-update hook then fills /boot/firmware."""
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise BuildError(f"expected one kernel in {root}/boot, found {[k.name for k in kernels]}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    chroot(root, "update-initramfs", "-c", "-k", version, what="building the initramfs")
    firmware = root / "boot/firmware"
    for needed in ("config.txt", "cmdline.txt", "bootcode.bin", "start4.elf",
                   f"vmlinuz-{version}", f"initrd.img-{version}"):  # fmt: skip
        if not (firmware / needed).exists():
            raise BuildError(f"raspi-firmware's hooks left no {needed} in /boot/firmware")
    initrd = (firmware / f"initrd.img-{version}").stat().st_size
    dtbs = len(list(firmware.glob("bcm*.dtb")))
    return f"kernel {version}, initrd {initrd / (1 << 20):.1f} MiB, {dtbs} device trees"


def finish(root: Path) -> None:
    resolv = root / "etc/resolv.conf"
    if resolv.exists() or resolv.is_symlink():
        resolv.unlink()
    resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")
    machine_id = root / "etc/machine-id"
    machine_id.write_text("")  # systemd makes a transient one at each boot (read-only root)
    for leftover in ("var/lib/apt/lists", "var/cache/apt", "var/log"):
        for item in (root / leftover).glob("*"):
            if item.is_file() or item.is_symlink():
                item.unlink()
    drop_boot_copies(root)
    mark_updated(root)


def drop_boot_copies(root: Path) -> None:
    """The kernel and initrd are booted from the FAT partition (raspi-firmware's copies); the
    root's own copies in /boot (~40 MB) serve only to make those, which a read-only root never
    does again. A kernel upgrade (root remounted read-write) installs its own anew."""
    for pattern in ("vmlinuz-*", "initrd.img-*", "System.map-*"):
        for item in (root / "boot").glob(pattern):
            item.unlink()
    for link in ("vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"):
        target = root / link
        if target.is_symlink() and not target.exists():
            target.unlink()


def mark_updated(root: Path) -> None:
    """/etc/.updated and /var/.updated, as systemd-update-done writes them: without them
    ldconfig.service and others would "update" the read-only root at every boot
    (ConditionNeedsUpdate= compares them with /usr's modification time)."""
    usr = os.stat(root / "usr")
    for folder in ("etc", "var"):
        stamp = root / folder / ".updated"
        stamp.write_text(
            "# This file was created by systemd-update-done. Its only\n"
            "# purpose is to hold a timestamp of the time this directory\n"
            "# was updated. See man:systemd-update-done.service(8).\n"
            f"TIMESTAMP_NSEC={usr.st_mtime_ns}\n"
        )
        os.utime(stamp, ns=(usr.st_atime_ns, usr.st_mtime_ns))


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] != "customize":
        sys.stderr.write("usage: rootfs.py customize ROOT SETTINGS.json (mmdebstrap's hook)\n")
        return 2
    try:
        customize(Path(argv[2]), Settings.load(Path(argv[3])))
    except BuildError as exc:
        sys.stderr.write(f"E: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
