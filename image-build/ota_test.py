"""image-build/ota-test: the A/B image's updates and fallbacks, booted in QEMU (slow).

    image-build/ota-test jukebox.img --cert release/signing.pem --key release/signing.key

The image must be an A/B image built with `--release-keyring` of the same release keys and
`--tenant` (the compatible string is read from it). From its slot A this makes two bundles:
N+1 (the same root, a higher version) and N+1-bad (its /etc/jukebox/jukebox.toml broken, so
the daemon exits with a configuration error and never sends READY). Each scenario runs on a
sparse scratch copy, through U-Boot and the image's boot.scr (qemu_ab.py), with the bundle and
`update/request.json` written into the data partition by debugfs (what the kiosk's update
client does after its download), and keeps the serial console as evidence in
`IMAGE.ota-test-<scenario>.log`:

- ``bad``: N+1-bad is installed at boot by jukebox-update.service; the guest is reset (QMP)
  30 s later, as the safe-moment reboot would; U-Boot boots slot B once; the health gate
  finds no READY within its limit, marks B bad and reboots; slot A boots and the gate reports
  ``rolled_back``.
- ``power-cut``: QEMU is killed while RAUC writes slot B; the next boot is slot A (RAUC had
  not switched), jukebox-update.path starts the install again, and it completes.
- ``good``: N → N+1 through a running tenant's `jukebox admin firmware upload|rollout`,
  installed while playing, rebooted by the kiosk at the safe moment, committed by the health
  gate, and shown committed by `jukebox admin firmware status` (image-build/ota_good.py: it
  needs a tenant the guest reaches and an image provisioned for it; only with
  ``--scenario good``).
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
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bundle
import ota_good
import qemu_ab
from progress import BuildError, Steps, run, say
from qemuboot import fat_drive

SCENARIOS = ("bad", "power-cut")  # the default; "good" needs a tenant (ota_good.py)
CUT_AFTER_S = 30.0  # power-cut: QEMU is killed this long after RAUC started installing
RESET_AFTER_S = 30.0  # bad: after the install, time for the kernel to write the FAT out
DATA_ROOM = 256 << 20  # the data partition's room beyond the bundle
MARKERS = {
    "slot": re.compile(r"jukebox-boot: slot ([AB]) \(partition"),
    "ready": re.compile(r"kiosk (\S+) ready \(firmware"),
    "installing": re.compile(r"rauc.*installing|installing \S+: \d+%", re.I),
    "installed": re.compile(r"update \S+ installed in the other slot|\"phase\": \"installed\""),
    # On the old slot after the fall back (the gate's record; on the new slot it says
    # "rebooting", with "rolled back: …" in its result already).
    "rolled_back": re.compile(r"\"phase\": \"rolled_back\"|rollback reported: "),
    "marked_bad": re.compile(r"not healthy|\"phase\": \"rebooting\""),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="image-build/ota-test", description=__doc__.split("\n")[0])
    p.add_argument("image", type=Path)
    p.add_argument("--cert", type=Path, required=True, help="the release signing certificate")
    p.add_argument("--key", type=Path, required=True, help="its key")
    p.add_argument("--scenario", choices=(*SCENARIOS, "good"), action="append",
                   help="default: bad and power-cut")  # fmt: skip
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per boot (1800)")
    p.add_argument("--memory", default="1024")
    p.add_argument("--bundles", type=Path, help="keep the bundles here and reuse them")
    p.add_argument("--bundle", type=Path,
                   help="the N+1 bundle to use, e.g. the build's OUT.raucb made with "
                   "--bundle-version 9999.0 (default: made from slot A)")  # fmt: skip
    p.add_argument("--cut-after", type=float, default=CUT_AFTER_S,
                   help="power-cut: seconds after RAUC starts installing (30)")  # fmt: skip
    ota_good.add_arguments(p)
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    steps = Steps(2 + len(args.scenario or SCENARIOS))
    try:
        with tempfile.TemporaryDirectory(prefix="jukebox-ota-test-") as scratch:
            work = Path(scratch)
            scenarios = args.scenario or SCENARIOS
            steps.step("Bundles N+1 and N+1-bad from the image's slot A")
            rootfs = extract_partition(args.image, 2, work / "rootfs.ext4")
            compatible = read_compatible(rootfs)
            store = args.bundles or work
            store.mkdir(parents=True, exist_ok=True)
            good = bad = None
            if args.bundle:  # N+1 from the build (--bundle-version 9999.0), same root
                good = args.bundle
            elif set(scenarios) - {"bad"}:
                good = make(store, rootfs, compatible, args, "good")
            if "bad" in scenarios:
                bad_root = work / "bad.ext4"
                shutil.copyfile(rootfs, bad_root)
                debugfs(bad_root, "rm /etc/jukebox/jukebox.toml")
                broken = work / "broken.toml"
                broken.write_text("this is not = = toml\n")
                debugfs(bad_root, f"write {broken} /etc/jukebox/jukebox.toml")
                bad = make(store, bad_root, compatible, args, "bad")
            for made in (good, bad):
                if made is not None:
                    steps.note(f"{made}: {made.stat().st_size / (1 << 20):.1f} MiB, {compatible}")
            verdicts = []
            for scenario in scenarios:
                steps.step(f"Scenario {scenario}")
                chosen = bad if scenario == "bad" else good
                assert chosen is not None
                verdicts.append((scenario, run_scenario(scenario, args, chosen, work, steps)))
    except BuildError as exc:
        say(f"\nFAIL: {exc}")
        return 1
    for scenario, verdict in verdicts:
        say(f"{scenario}: {verdict}")
    return 0 if all(v.startswith("PASS") for _, v in verdicts) else 1


def make(store: Path, rootfs: Path, compatible: str, args: argparse.Namespace, name: str) -> Path:
    """The bundle `name`, made unless `--bundles` holds one newer than the image."""
    out = store / f"{name}.raucb"
    if args.bundles and out.exists() and out.stat().st_mtime > args.image.stat().st_mtime:
        say(f"        {out}: kept from an earlier run (newer than the image)")
        return out
    bundle.make_bundle(
        out, rootfs_image=rootfs, compatible=compatible, version="9999.0",
        cert=args.cert, key=args.key, workdir=store,
    )  # fmt: skip
    return out


def run_scenario(scenario: str, args: argparse.Namespace, bundle_file: Path, work: Path,
                 steps: Steps) -> str:  # fmt: skip
    disk = work / f"{scenario}.img"
    run(["cp", "--sparse=always", args.image, disk], what="copying the image")
    if scenario != "good":
        inject(disk, bundle_file, work, read_owner(work / "rootfs.ext4"))
    else:  # a card larger than the image: first boot grows the data partition into the rest,
        with disk.open("r+b") as f:  # where the kiosk downloads the bundle
            f.truncate(disk.stat().st_size + bundle_file.stat().st_size + 2 * DATA_ROOM)
    qemu_ab.set_extra_args(fat_drive(disk), qemu_ab.CONSOLE_ARGS, work)
    log = args.image.with_name(f"{args.image.name}.ota-test-{scenario}.log")
    if scenario == "good":  # the tenant delivers the bundle: nothing injected
        return ota_good.run_good(args, disk, bundle_file, log, steps)
    with log.open("w") as record:
        console = Console(record, steps)
        if scenario == "power-cut":
            console.boot(disk, args, until="installing", cut_after=args.cut_after)
            steps.note("QEMU killed while installing")
            console.boot(disk, args, until="installed")
            slots = console.values("slot")
            cut_before_done = console.index("installed") > console.index("installing", 1)
            ok = slots[:2] == ["A", "A"] and cut_before_done
            return ("PASS" if ok else "FAIL") + f": boots {slots}; {console.times()}; log {log}"
        # installed, reset (the safe-moment reboot), B tried, bad, reboot, A, rollback reported
        console.boot(disk, args, until="installed", then="rolled_back")
        slots = console.values("slot")
        ok = slots[:3] == ["A", "B", "A"] and console.index("marked_bad") >= 0
        return ("PASS" if ok else "FAIL") + f": boots {slots}; {console.times()}; log {log}"


class Console:
    """The serial console of one scenario's boots: into the log, with seconds since the
    scenario's start, and the markers seen (name, captured value, seconds)."""

    def __init__(self, record: TextIO, steps: Steps) -> None:
        self.record = record
        self.steps = steps
        self.started = time.monotonic()
        self.seen: list[tuple[str, str, float]] = []
        self.boot_started = 0.0

    def values(self, what: str) -> list[str]:
        return [value for name, value, _ in self.seen if name == what]

    def index(self, what: str, nth: int = 0) -> int:
        """Where the nth `what` is among the markers seen; -1 when not seen."""
        found = [i for i, (name, _, _) in enumerate(self.seen) if name == what]
        return found[nth] if len(found) > nth else -1

    def times(self) -> str:
        return ", ".join(f"{name}{'=' + value if value else ''} at {t:.0f} s"
                         for name, value, t in self.seen)  # fmt: skip

    def boot(self, disk: Path, args: argparse.Namespace, *, until: str,
             cut_after: float | None = None, then: str | None = None) -> None:  # fmt: skip
        """One QEMU run (reboots inside it included) until the marker `until` is seen; then
        QEMU is killed (`cut_after` seconds later: a power cut), or, with `then`, the guest
        is reset RESET_AFTER_S later (a reboot: the virt guest booted by U-Boot has no power
        button systemd sees) and the run goes on until the marker `then`."""
        qmp = disk.with_suffix(".qmp")
        self.boot_started = self._now()
        command = qemu_ab.uboot_command(disk, "cortex-a53", args.memory)
        command = [*command[: command.index("-nic")], *command[command.index("-nic") + 2 :]]
        command += ["-qmp", f"unix:{qmp},server=on,wait=off"]
        self.record.write(f"# {' '.join(command)}\n")
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        timer = threading.Timer(args.timeout, process.kill)
        timer.start()
        assert process.stdout is not None
        cut_at: float | None = None
        reset_at: float | None = None
        try:
            for raw in process.stdout:
                if until in self._line(raw):
                    if then is not None:
                        reset_at, until, then = time.monotonic() + RESET_AFTER_S, then, None
                        continue
                    if cut_after is None:
                        break
                    cut_at = time.monotonic() + cut_after
                if reset_at is not None and time.monotonic() >= reset_at:
                    self.steps.note(f"+{self._now():.0f} s: reset (QMP), the reboot")
                    self.record.write("# QMP system_reset\n")
                    qmp_command(qmp, "system_reset")
                    reset_at = None
                if cut_at is not None and time.monotonic() >= cut_at:
                    self.steps.note(f"+{self._now():.0f} s: power cut (QEMU killed)")
                    break
            else:
                if until not in self.values_seen():
                    raise BuildError(f"{until!r} not seen within {args.timeout:.0f} s")
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
            process.wait()
            self.record.flush()

    def values_seen(self) -> set[str]:
        return {name for name, _, _ in self.seen}

    def _now(self) -> float:
        return time.monotonic() - self.started

    def _line(self, raw: bytes) -> set[str]:
        """Record one console line; the names of every marker it matched (a rollback line
        matches both ``rolled_back`` and ``marked_bad``: waiting for either must see it)."""
        line = raw.decode("utf-8", "replace").rstrip()
        now = self._now()
        self.record.write(f"{now:8.2f} {line}\n")
        self.record.flush()  # the log can be followed while it runs
        matched: set[str] = set()
        for what, pattern in MARKERS.items():
            found = pattern.search(line)
            if found:
                if what == "installing" and any(
                    name == what and t >= self.boot_started for name, _, t in self.seen
                ):
                    continue  # one install's lines: the boot's first one counts
                self.seen.append((what, found.group(1) if found.groups() else "", now))
                self.steps.note(f"+{now:.0f} s {what}: {line.strip()[:150]}")
                matched.add(what)
        return matched


def qmp_command(qmp: Path, command: str) -> None:
    """One QMP command to QEMU (after the capabilities handshake)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(qmp))
        stream = sock.makefile("rw")
        stream.readline()  # the greeting
        for request in ("qmp_capabilities", command):
            stream.write(json.dumps({"execute": request}) + "\n")
            stream.flush()
            while "return" not in (answer := json.loads(stream.readline())):
                if "error" in answer:
                    raise BuildError(f"QMP {request}: {answer['error']}")


def inject(disk: Path, bundle_file: Path, work: Path, owner: tuple[int, int]) -> None:
    """The bundle and request.json into the data partition, as the update client leaves them
    (owned by the kiosk's user, `owner`, as its downloads are). The card's data partition is
    32 MiB until its first boot grows it: the scratch disk and that partition are made large
    enough first, as first boot would (a kiosk downloads after its first boot)."""
    room = bundle_file.stat().st_size + DATA_ROOM
    with disk.open("r+b") as f:
        f.truncate(disk.stat().st_size + room)
    run(["sfdisk", "--no-reread", "--no-tell-kernel", "-N", "4", disk], what="growing the data "
        "partition", data=", +\n")  # fmt: skip
    data = extract_partition(disk, 4, work / "data.ext4")
    run(["e2fsck", "-fp", data], what="checking the data partition")
    run(["resize2fs", data], what="growing the data partition's filesystem")
    request = work / "request.json"
    request.write_text(json.dumps({"version": "9999.0", "bundle": "ota.raucb", "seq": 1}))
    commands = ["mkdir /update", f"write {bundle_file} /update/ota.raucb",
                f"write {request} /update/request.json"]  # fmt: skip
    for path in ("/update", "/update/ota.raucb", "/update/request.json"):
        commands += [
            f"set_inode_field {path} uid {owner[0]}",
            f"set_inode_field {path} gid {owner[1]}",
        ]
    for command in commands:
        said = debugfs(data, command)
        if re.search(
            r"(?i)could not|error|no free space| while ", said
        ):  # debugfs exits 0 whatever happened
            raise BuildError(f"debugfs {command}: {said.strip()[-300:]}")
    stat = debugfs(data, "stat /update/ota.raucb")
    if f"Size: {bundle_file.stat().st_size}" not in stat:
        raise BuildError(f"the data partition's /update/ota.raucb is not whole: {stat[:300]}")
    offset = partition(disk, 4)[0]
    run(["dd", f"if={data}", f"of={disk}", "bs=4M", "conv=notrunc,sparse", "oflag=seek_bytes",
         f"seek={offset}", "status=none"], what="writing the data partition")  # fmt: skip


def partition(image: Path, number: int) -> tuple[int, int]:
    table = json.loads(run(["sfdisk", "--json", image], what="reading the partition table"))
    part = table["partitiontable"]["partitions"][number - 1]
    return part["start"] * 512, part["size"] * 512


def extract_partition(image: Path, number: int, out: Path) -> Path:
    offset, size = partition(image, number)
    run(["dd", f"if={image}", f"of={out}", "bs=4M", "iflag=skip_bytes,count_bytes",
         f"skip={offset}", f"count={size}", "conv=sparse", "status=none"],
        what=f"reading partition {number}")  # fmt: skip
    return out


def read_owner(rootfs: Path, user: str = "jukebox") -> tuple[int, int]:
    """The kiosk user's uid and gid, from the root's /etc/passwd."""
    for line in debugfs(rootfs, "cat /etc/passwd").splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 3:
            return int(fields[2]), int(fields[3])
    raise BuildError(f"no user {user!r} in the image's /etc/passwd")


def read_compatible(rootfs: Path) -> str:
    text = debugfs(rootfs, "cat /etc/rauc/system.conf")
    found = re.search(r"^compatible=(\S+)", text, re.MULTILINE)
    if not found:
        raise BuildError("the image's slot A has no /etc/rauc/system.conf: not an A/B image")
    return found.group(1)


def debugfs(filesystem: Path, request: str) -> str:
    """debugfs's output, both streams: it says what went wrong there, and exits 0 anyway."""
    done = subprocess.run(["debugfs", "-w", "-R", request, str(filesystem)], capture_output=True,
                          text=True, check=False, env={**os.environ, "PAGER": "cat"})  # fmt: skip
    if done.returncode != 0:
        raise BuildError(f"debugfs {request} failed: {done.stderr.strip()[-300:]}")
    return done.stdout + done.stderr


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
