"""image-build/build: the steps from a checkout to OUT.img and OUT.img.sha256.

1. checks (root, tools, binfmt_misc for arm64 binaries)
2. the project's wheel            3. the default configuration, checked here
4. Debian by mmdebstrap           5-9. its customize hook (rootfs.py): the jukebox part
10. boot, root and data folders   11. the image (assemble.py)     12. its sha256
(with --bundle-cert/--bundle-key, an update bundle of the same root: bundle.py)

Size: the numbered steps above, in order, with their checks (a little over 400 lines).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import assemble
import bundle
import rootfs
from progress import BuildError, Steps, clock, run, say

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
STEPS = 12
HOOK_MARK = rootfs.HOOK_MARK
TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "sfdisk": "fdisk",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "mke2fs": "e2fsprogs",
    "useradd": "passwd",
    "systemctl": "systemd",
    "chroot": "coreutils",
}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
FREE_SPACE_NEEDED = 5 << 30
JOURNAL_DIR = "log/journal"  # on the data partition; bound on /var/log/journal (etc/fstab)


def parse_size(text: str) -> int:
    """'2G', '1500M', '1.5G' or a number of MiB → MiB."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([MG]i?B?)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size such as 2G or 1500M")
    number = float(match.group(1))
    unit = (match.group(2) or "M")[0].upper()
    return int(number * (1024 if unit == "G" else 1))


def version() -> str:
    """The release version: contract/__init__.py's (pyproject reads it there too)."""
    text = (PROJECT / "contract/__init__.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else "unknown"


def parser() -> argparse.ArgumentParser:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jukebox-image"
    p = argparse.ArgumentParser(
        prog="image-build/build",
        description="Build the jukebox kiosk's SD card image (Raspberry Pi 3, 4, 400, Zero 2 W)"
        " from Debian bookworm arm64 packages. Run as root. See docs/image.md.",
    )
    p.add_argument(
        "-o", "--output", type=Path,
        default=PROJECT / "build" / f"jukebox-{version()}-rpi-arm64.img",
        help="the image file (default build/jukebox-VERSION-rpi-arm64.img); OUT.sha256 beside it",
    )  # fmt: skip
    p.add_argument(
        "--size", type=parse_size, default=None,
        help="total image size, e.g. 2G (default: as small as the root filesystem allows; "
        "the data partition grows to the end of the card at first boot)",
    )  # fmt: skip
    p.add_argument(
        "--boot-size", type=parse_size, default=None,
        help="FAT boot partition (default: its files + 25 %%, at least 64M for FAT32)",
    )  # fmt: skip
    p.add_argument("--data-size", type=parse_size, default=32, help="data partition (32M)")
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: /tmp)")
    p.add_argument("--keep-root", action="store_true", help="keep the root folder afterwards")
    p.add_argument(
        "--cache", type=Path, default=cache,
        help=f"downloaded .deb files and wheels, reused by the next build (default {cache})",
    )  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="download everything again")
    ota = p.add_argument_group("over-the-air updates (docs/updates.md)")
    ota.add_argument(
        "--tenant", default="generic",
        help="the library network the kiosks belong to: RAUC's compatible string "
        "jukebox-TENANT-rpi-arm64 (default generic)",
    )  # fmt: skip
    ota.add_argument(
        "--release-keyring", type=Path, default=None,
        help="the network's release CA (image-build/release-key DIR: DIR/ca.pem); without it "
        "the kiosk refuses every bundle",
    )  # fmt: skip
    ota.add_argument(
        "--single-root", action="store_true",
        help="one root partition, no U-Boot and no updates (the layout before A/B)",
    )  # fmt: skip
    ota.add_argument("--bundle-cert", type=Path, help="also write OUT.raucb, signed with this")
    ota.add_argument("--bundle-key", type=Path, help="the signing certificate's key")
    ota.add_argument("--bundle-version", default=None, help="the bundle's version (the project's)")
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    steps = Steps(STEPS)
    try:
        build(args, steps)
    except BuildError as exc:
        say(f"\nFAILED after {clock(steps.elapsed())}: {exc}")
        return 1
    except (assemble.AssemblyError, bundle.BundleError) as exc:
        say(f"\nFAILED after {clock(steps.elapsed())}: {exc}")
        return 1
    except KeyboardInterrupt:
        say(f"\ninterrupted after {clock(steps.elapsed())}")
        return 130
    return 0


def build(args: argparse.Namespace, steps: Steps) -> None:
    out: Path = args.output.resolve()
    check_update_args(args)
    steps.step("Checking: root, tools, arm64 emulation, free space")
    check_host(args.workdir or Path(tempfile.gettempdir()))
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="jukebox-image-", dir=args.workdir))
    work.chmod(0o755)  # apt downloads as _apt, which must reach the root folder
    try:
        build_in(work, out, args, steps)
    finally:
        remove_work(work, keep_root=args.keep_root)


def build_in(work: Path, out: Path, args: argparse.Namespace, steps: Steps) -> None:
    steps.step("The project's wheel (pip wheel --no-deps)")
    wheel = build_wheel(work / "wheel")
    steps.note(wheel.name)

    steps.step("The default configuration, checked by this checkout's loader")
    config = rootfs.FILES / rootfs.CONFIG.lstrip("/")
    steps.note(check_config_here(config))

    units = sorted(
        str(u) for u in (PROJECT / "systemd").iterdir() if u.suffix in (".service", ".path")
    )
    if not units:
        raise BuildError(f"no units in {PROJECT / 'systemd'}")
    steps.note("units: " + ", ".join(Path(u).name for u in units))
    root = work / "root"
    settings = rootfs.Settings(
        wheel=str(wheel),
        units=units,
        docs=sorted(str(d) for d in (PROJECT / "docs").glob("*.md")),
        started=steps.started,
        steps_done=steps.done + 1,
        steps_total=steps.total,
        pip_cache=None if args.no_cache else str(args.cache / "pip"),
        ab=not args.single_root,
        compatible=bundle.compatible_for(args.tenant),
        keyring=str(args.release_keyring.resolve()) if args.release_keyring else None,
    )
    settings_file = settings.save(work / "settings.json")
    steps.step(
        f"Debian {rootfs.SUITE} {rootfs.ARCH} by mmdebstrap: {len(rootfs.PACKAGES)} packages "
        "and their dependencies (the longest step)"
    )
    apt_cache = None if args.no_cache else args.cache / "apt"
    command = rootfs.mmdebstrap_command(root, settings_file, apt_cache)
    log = out.with_name(out.name + ".log")
    run_logged(command, log, steps)
    steps.done += rootfs.CUSTOMIZE_STEPS

    steps.step("Splitting the tree: boot (FAT), root (ext4), data (ext4)")
    boot, data = split_tree(root, work)
    boot_mib = args.boot_size or assemble.fat_mib_for(boot, minimum_mib=assemble.FAT32_MIN_MIB)
    layout = assemble.plan_layout(
        root, boot_mib=boot_mib, data_mib=args.data_size, total_mib=args.size,
        slots=1 if args.single_root else 2,
    )  # fmt: skip
    tree = assemble.measure_tree(root)
    steps.note(f"root folder: {tree.bytes / (1 << 20):.0f} MiB in {tree.inodes} files")

    steps.step(f"Assembling {out.name}: sfdisk, mkfs.vfat + mcopy, mke2fs -d, dd")
    assemble.assemble_image(
        out, boot_dir=boot, root_dir=root, data_dir=data, layout=layout, workdir=work,
        log=steps.note,
    )  # fmt: skip

    if args.bundle_cert:
        raucb = out.with_suffix(".raucb")
        steps.note(f"update bundle {raucb.name} of the same root (rauc bundle)")
        bundle.make_bundle(
            raucb, root_dir=root, compatible=bundle.compatible_for(args.tenant),
            version=args.bundle_version or version(), cert=args.bundle_cert,
            key=args.bundle_key, workdir=work,
        )  # fmt: skip
        steps.note(f"{raucb}: {raucb.stat().st_size / (1 << 20):.0f} MiB")

    steps.step("sha256")
    digest = sha256(out)
    sums = out.with_name(out.name + ".sha256")
    sums.write_text(f"{digest}  {out.name}\n")
    allocated = os.stat(out).st_blocks * 512
    say("")
    say(f"Built {out} in {clock(steps.elapsed())}")
    say(f"  size {out.stat().st_size / (1 << 20):.0f} MiB ({allocated / (1 << 20):.0f} MiB "
        f"allocated, sparse); sha256 {digest[:16]}… in {sums.name}")  # fmt: skip
    say(f"  log: {log}")
    say(f"  write it: dd if={out.name} of=/dev/sdX bs=4M conv=fsync status=progress")
    say(f"  check it boots: image-build/boot-test {out}")


def check_update_args(args: argparse.Namespace) -> None:
    """Refuse bad update options before the long build, naming the option."""
    try:
        bundle.compatible_for(args.tenant)
        if args.bundle_cert or args.bundle_version:  # before the long build, not after it
            bundle.manifest("x", args.bundle_version or version())
    except bundle.BundleError as exc:
        raise BuildError(f"--tenant/--bundle-version: {exc}") from None
    if args.release_keyring and not args.release_keyring.is_file():
        raise BuildError(f"--release-keyring {args.release_keyring}: no such file")
    if (args.bundle_cert is None) != (args.bundle_key is None):
        raise BuildError("--bundle-cert and --bundle-key go together")
    for option, path in (("--bundle-cert", args.bundle_cert), ("--bundle-key", args.bundle_key)):
        if path is not None and not path.is_file():
            raise BuildError(f"{option} {path}: no such file")
    if args.bundle_cert and args.single_root:
        raise BuildError("--single-root images take no update bundles")


def check_host(workdir: Path) -> None:
    if os.geteuid() != 0:
        raise BuildError(
            "run as root: mmdebstrap and chroot need it, and the image's files must belong to "
            "root (sudo image-build/build …)"
        )
    missing = sorted({pkg for tool, pkg in TOOLS.items() if not _which(tool)})
    if platform.machine() != "aarch64" and not Path("/usr/libexec/qemu-binfmt").is_dir():
        missing += ["qemu-user-static", "binfmt-support"]
    if missing:
        raise BuildError(
            "missing tools; install them with:\n    apt-get install --no-install-recommends "
            + " ".join([*missing, "arch-test"])
        )
    if platform.machine() != "aarch64":
        ensure_binfmt()
    workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(workdir).free
    if free < FREE_SPACE_NEEDED:
        raise BuildError(f"{workdir}: {free >> 30} GiB free, the build needs 5 GiB (--workdir)")


def ensure_binfmt() -> None:
    """arm64 programs run here through qemu-user-static, registered with binfmt_misc."""
    if not (BINFMT / "status").exists():
        say("        binfmt_misc is not mounted: mount -t binfmt_misc binfmt_misc " + str(BINFMT))
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT], what="mounting binfmt_misc")
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        say("        qemu-aarch64 is not registered: update-binfmts --enable qemu-aarch64")
        run(["update-binfmts", "--enable", "qemu-aarch64"], what="registering qemu-aarch64")
    text = entry.read_text() if entry.exists() else ""
    if not text.startswith("enabled"):
        raise BuildError(f"{entry}: qemu-aarch64 is still not enabled")
    flags = re.search(r"^flags: (\S*)", text, re.MULTILINE)
    if flags is None or "F" not in flags.group(1):
        raise BuildError(
            f"{entry}: the handler lacks the F flag, so it cannot run inside a chroot; "
            "use Debian's qemu-user-static (its binfmt entry has it)"
        )


def build_wheel(folder: Path) -> Path:
    python = PROJECT / ".venv/bin/python"
    interpreter = str(python) if python.exists() else sys.executable
    with tempfile.TemporaryDirectory(prefix="jukebox-src-") as source:
        # A clean copy: no build/ or egg-info of the checkout's own editable install.
        src = Path(source) / "jukebox"
        ignore = shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
            "demo-output", "tests", "bench", "*.img",
        )  # fmt: skip
        shutil.copytree(PROJECT, src, ignore=ignore, symlinks=True)
        run(
            [interpreter, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", folder, src],
            what="building the project's wheel",
        )
    wheels = sorted(folder.glob("jukebox-*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"pip wheel left {[w.name for w in wheels]} in {folder}")
    return wheels[0]


def check_config_here(config: Path) -> str:
    python = PROJECT / ".venv/bin/python"
    if not python.exists():
        return f"no {python}: checked in the image only (step 7)"
    output = run(
        [python, "-m", "jukebox", "run", "--check", "--config", config],
        what=f"checking {config}",
        cwd=PROJECT,
    )
    return output.strip()


def run_logged(command: list[str], log: Path, steps: Steps) -> None:
    """mmdebstrap, its whole output in `log`; on the terminal its I:/W:/E: lines and our steps."""
    with log.open("w") as record:
        record.write("$ " + " ".join(command) + "\n")
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=rootfs.mmdebstrap_env(),
        )
        assert process.stdout is not None
        for line in process.stdout:
            record.write(line)
            record.flush()
            text = line.rstrip("\n")
            if text.startswith(HOOK_MARK):
                say(text[len(HOOK_MARK) :])
            elif text.startswith(("I: ", "W: ", "E: ")):
                say(f"        {text}  (+{clock(steps.elapsed())})")
        code = process.wait()
    if code != 0:
        lines = log.read_text(errors="replace").splitlines()
        tail = "\n    ".join(lines[-25:])
        raise BuildError(f"mmdebstrap failed (exit code {code}); the end of {log}:\n    {tail}")


def split_tree(root: Path, work: Path) -> tuple[Path, Path]:
    """Move /boot/firmware's files out of the root (the FAT), and lay out the data partition.

    The data partition's top belongs to the jukebox user (the unit's StateDirectory, so
    systemd has nothing to change); network/ is root's, for wpa_supplicant's settings;
    log/journal/ is the persistent system journal, bound on /var/log/journal by /etc/fstab
    (journald's own owner and mode: root, group systemd-journal, setgid).
    """
    # dbus's tmpfiles.d line would make this link at every boot, on a read-only root; made
    # here because mmdebstrap's clean-up removes it after the customize hook.
    dbus = root / "var/lib/dbus"
    if dbus.is_dir() and not (dbus / "machine-id").is_symlink():
        (dbus / "machine-id").unlink(missing_ok=True)
        (dbus / "machine-id").symlink_to("/etc/machine-id")
    boot = work / "boot"
    boot.mkdir()
    firmware = root / "boot/firmware"
    for item in sorted(firmware.iterdir()):
        shutil.move(str(item), boot / item.name)
    data = work / "data"
    data.mkdir()
    os.chown(data, *_user(root, rootfs.USER))
    data.chmod(0o700)
    network = data / "network"
    network.mkdir()
    network.chmod(0o700)
    journal = data / JOURNAL_DIR
    journal.mkdir(parents=True)
    journal.parent.chmod(0o755)
    os.chown(journal, 0, _group(root, "systemd-journal"))
    journal.chmod(0o2755)
    return boot, data


def _group(root: Path, name: str) -> int:
    """The group's gid in the target's /etc/group; root's when it has none."""
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    return 0


def _user(root: Path, name: str) -> tuple[int, int]:
    """The user's uid and gid in the target's /etc/passwd (not the host's)."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise BuildError(f"no user {name} in {root}/etc/passwd")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def remove_work(work: Path, *, keep_root: bool) -> None:
    """Remove the scratch folder, unless something is still mounted inside it."""
    mounted = [m for m in _mount_points() if m == work or work in m.parents]
    if mounted:
        say(f"        left {work} in place: still mounted there: {', '.join(map(str, mounted))}")
        return
    if keep_root and (work / "root").exists():
        say(f"        root folder kept: {work / 'root'}")
        for item in work.iterdir():
            if item.name != "root":
                _remove(item)
        return
    _remove(work)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _mount_points() -> list[Path]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.append(Path(fields[4].encode().decode("unicode_escape")))
    return points


def _which(tool: str) -> bool:
    return bool(shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin"))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
