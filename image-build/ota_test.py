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

- ``bad``: N+1-bad is installed at boot by jukebox-update.service; the guest is powered off
  and on (QMP) as the safe-moment reboot would; U-Boot boots slot B once; the health gate
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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bundle
import ota_good
import qemu_ab
from progress import BuildError, Steps, run, say
from qemuboot import fat_drive, press_power_button

HEALTH_LIMIT_S = 600
SCENARIOS = ("bad", "power-cut")  # the default; "good" needs a tenant (ota_good.py)
MARKERS = {
    "slot": re.compile(r"jukebox-boot: slot ([AB])"),
    "installing": re.compile(r"rauc.*(Installing|Copying image)|installing: \d+%", re.I),
    "installed": re.compile(r"update \S+ installed in the other slot|Installing .* succeeded"),
    "rolled_back": re.compile(r"rolled back"),
    "ready": re.compile(r"kiosk (\S+) ready \(firmware"),
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
    ota_good.add_arguments(p)
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    steps = Steps(2 + len(args.scenario or SCENARIOS))
    try:
        with tempfile.TemporaryDirectory(prefix="jukebox-ota-test-") as scratch:
            work = Path(scratch)
            steps.step("Bundles N+1 and N+1-bad from the image's slot A")
            rootfs = extract_partition(args.image, 2, work / "rootfs.ext4")
            compatible = read_compatible(rootfs)
            good = make(work, rootfs, compatible, args, "good")
            bad_root = work / "bad.ext4"
            shutil.copyfile(rootfs, bad_root)
            debugfs(bad_root, "rm /etc/jukebox/jukebox.toml")
            broken = work / "broken.toml"
            broken.write_text("this is not = = toml\n")
            debugfs(bad_root, f"write {broken} /etc/jukebox/jukebox.toml")
            bad = make(work, bad_root, compatible, args, "bad")
            steps.note(f"{compatible}: {good.name}, {bad.name}")
            verdicts = []
            for scenario in args.scenario or SCENARIOS:
                steps.step(f"Scenario {scenario}")
                chosen = bad if scenario == "bad" else good
                verdicts.append((scenario, run_scenario(scenario, args, chosen, work, steps)))
    except BuildError as exc:
        say(f"\nFAIL: {exc}")
        return 1
    for scenario, verdict in verdicts:
        say(f"{scenario}: {verdict}")
    return 0 if all(v.startswith("PASS") for _, v in verdicts) else 1


def make(work: Path, rootfs: Path, compatible: str, args: argparse.Namespace, name: str) -> Path:
    out = work / f"{name}.raucb"
    bundle.make_bundle(
        out, rootfs_image=rootfs, compatible=compatible, version="9999.0",
        cert=args.cert, key=args.key, workdir=work,
    )  # fmt: skip
    return out


def run_scenario(scenario: str, args: argparse.Namespace, bundle_file: Path, work: Path,
                 steps: Steps) -> str:  # fmt: skip
    disk = work / f"{scenario}.img"
    run(["cp", "--sparse=always", args.image, disk], what="copying the image")
    if scenario != "good":
        inject(disk, bundle_file, work)
    qemu_ab.set_extra_args(fat_drive(disk), qemu_ab.CONSOLE_ARGS, work)
    log = args.image.with_name(f"{args.image.name}.ota-test-{scenario}.log")
    if scenario == "good":  # the tenant delivers the bundle: nothing injected
        return ota_good.run_good(args, disk, bundle_file, log, steps)
    seen: list[tuple[str, str]] = []
    with log.open("w") as record:
        if scenario == "power-cut":
            boot(disk, args, record, seen, until="installing", kill=True)
            steps.note("QEMU killed while installing")
            boot(disk, args, record, seen, until="installed")
            slots = [value for what, value in seen if what == "slot"]
            ok = slots[:2] == ["A", "A"] and ("installed", "") in seen
            return ("PASS" if ok else "FAIL") + f": boots {slots}, log {log}"
        boot(disk, args, record, seen, until="installed", power_off=True)
        boot(disk, args, record, seen, until="rolled_back")  # B, bad, reboot, A, report
        slots = [value for what, value in seen if what == "slot"]
        ok = slots[:3] == ["A", "B", "A"] and ("rolled_back", "") in seen
        return ("PASS" if ok else "FAIL") + f": boots {slots}, log {log}"


def boot(disk: Path, args: argparse.Namespace, record: object, seen: list[tuple[str, str]],
         *, until: str, kill: bool = False, power_off: bool = False) -> None:  # fmt: skip
    """One QEMU run (reboots inside it included) until the marker `until` is seen."""
    qmp = disk.with_suffix(".qmp")
    command = qemu_ab.uboot_command(disk, "cortex-a53", args.memory)
    command = [*command[: command.index("-nic")], *command[command.index("-nic") + 2 :]]
    command += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + args.timeout
    assert process.stdout is not None
    try:
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            record.write(line + "\n")  # type: ignore[attr-defined]
            for what, pattern in MARKERS.items():
                found = pattern.search(line)
                if found:
                    seen.append((what, found.group(1) if what == "slot" else ""))
            if seen and seen[-1][0] == until:
                break
            if time.monotonic() > deadline:
                raise BuildError(f"{until!r} not seen within {args.timeout:.0f} s")
        if power_off:
            press_power_button(qmp)
            process.wait(timeout=300)
    finally:
        if kill or process.poll() is None:
            process.kill()
        process.wait()


def inject(disk: Path, bundle_file: Path, work: Path) -> None:
    """The bundle and request.json into the data partition, as the update client leaves them."""
    data = extract_partition(disk, 4, work / "data.ext4")
    request = work / "request.json"
    request.write_text(json.dumps({"version": "9999.0", "bundle": "ota.raucb", "seq": 1}))
    for command in ("mkdir /update", f"write {bundle_file} /update/ota.raucb",
                    f"write {request} /update/request.json"):  # fmt: skip
        debugfs(data, command)
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


def read_compatible(rootfs: Path) -> str:
    text = debugfs(rootfs, "cat /etc/rauc/system.conf")
    found = re.search(r"^compatible=(\S+)", text, re.MULTILINE)
    if not found:
        raise BuildError("the image's slot A has no /etc/rauc/system.conf: not an A/B image")
    return found.group(1)


def debugfs(filesystem: Path, request: str) -> str:
    return run(["debugfs", "-w", "-R", request, filesystem], what=f"debugfs {request}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
