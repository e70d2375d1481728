"""ota-test's `good` scenario: N → N+1 through the tenant, installed while playing, rebooted at
the safe moment, committed (slow; docs/image.md).

    image-build/ota-test jukebox.img --cert release/signing.pem --key release/signing.key \\
        --scenario good --credentials admin.json --keyring release/ca.pem --playlist morning

It needs a running tenant service with its broker and ingester that the guest reaches through
QEMU's user network (the host is 10.0.2.2 from the guest), and an image provisioned for it:
its site.toml names `http://10.0.2.2:PORT/t/SLUG` and an enrollment token of the site, so
the kiosk is claimed as it enrolls (docs/tenant.md). `--credentials` is a network
administrator's `jukebox admin` credentials file. Everything at the tenant goes through the
`jukebox admin` commands, as a network administrator would type them:

1. the image boots slot A (N) on a scratch copy, enrolls and reaches READY (serial log);
2. `jukebox admin push --device ID --playlist P` gives it something to play (it autoplays,
   or the operator presses play);
3. `jukebox admin firmware keyring`, `upload` (the N+1 bundle from slot A) and
   `rollout 9999.0 --devices ID`: the kiosk downloads the bundle and installs it into slot B
   while a play is on (`play … started` before `update … installed`, no reboot between);
4. the kiosk reboots by itself at the safe moment (`rebooting into the updated slot`), U-Boot
   boots slot B, the health gate sees READY, the tenant and MQTT, and commits it;
5. `jukebox admin firmware status` shows the kiosk running 9999.0 on slot B, `committed`.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, TextIO

import qemu_ab
from progress import BuildError, Steps, say

VERSION = "9999.0"  # the version ota_test.make gives its bundles
MARKERS = {
    "slot": re.compile(r"jukebox-boot: slot ([AB])"),
    "ready": re.compile(r"kiosk (\S+) ready \(firmware"),
    "playing": re.compile(r"play (\S+) started: "),
    "installed": re.compile(r"update \S+ installed in the other slot"),
    "safe_reboot": re.compile(r"rebooting into the updated slot: (.*)"),
    "committed": re.compile(r"slot ([AB]) committed: READY"),
}
STATUS_WAIT_S = 300.0
PUSH_TRIES = 8  # 15 s apart: the kiosk enrolls with its token after READY
# A sound card for mpv (virt has none; the image keeps USB audio, not PCI sound cards): without
# one, mpv has no audio output and a track "ends" at once, so no play would be on.
AUDIO = ["-audiodev", "none,id=sound", "-device", "qemu-xhci",
         "-device", "usb-audio,audiodev=sound"]  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    good = p.add_argument_group("the good scenario (a running tenant; see ota_good.py)")
    good.add_argument("--credentials", type=Path, help="a network administrator's credentials")
    good.add_argument("--keyring", type=Path, help="the release CA (ca.pem) for the tenant")
    good.add_argument("--playlist", help="a playlist of the tenant the kiosk plays meanwhile")
    good.add_argument("--jukebox", default="jukebox", help="the jukebox command (default: PATH)")


def run_good(args: argparse.Namespace, disk: Path, bundle_file: Path, log: Path,
             steps: Steps) -> str:  # fmt: skip
    """Boot the scratch copy with a network and drive the rollout; "PASS: …" or "FAIL: …"."""
    if not (args.credentials and args.keyring and args.playlist):
        raise BuildError("the good scenario needs --credentials, --keyring and --playlist")
    qmp = disk.with_suffix(".qmp")
    command = qemu_ab.uboot_command(disk, "cortex-a53", args.memory)
    nic = command.index("-nic")
    # The guest reaches the host as 10.0.2.2; no option ROM (U-Boot does not netboot here, and
    # QEMU's efi-virtio.rom comes with ipxe-qemu, which a test host need not have).
    command[nic : nic + 2] = ["-netdev", "user,id=net", "-device",
                              "virtio-net-pci,netdev=net,romfile="]  # fmt: skip
    command += ["-qmp", f"unix:{qmp},server=on,wait=off", *AUDIO]
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)  # fmt: skip
    assert process.stdout is not None
    try:
        with log.open("w") as record:
            # The console is read all along, also while the tenant's commands run: a console
            # nobody reads fills QEMU's pipe and stalls the guest.
            console = Console(process.stdout, record, started)
            threading.Thread(target=console.read, name="console", daemon=True).start()
            device = console.until("ready", args.timeout)
            steps.note(f"kiosk {device} ready on slot A")
            push = ["push", "--device", device, "--playlist", args.playlist, "--featured",
                    args.playlist, "--autoplay", "on", "--wait", "120"]  # fmt: skip
            for _ in range(PUSH_TRIES):  # the kiosk may not have enrolled yet
                if admin(args, *push, check=False):
                    break
                time.sleep(15)
            admin(args, "firmware", "keyring", str(args.keyring))
            admin(args, "firmware", "upload", str(bundle_file))
            admin(args, "firmware", "rollout", VERSION, "--devices", device)
            rollout_at = time.monotonic() - started
            console.until("installed", args.timeout)
            steps.note("installed into slot B; waiting for the safe moment")
            console.until("committed", args.timeout)
            committed = _status(args, device)
    finally:
        process.kill()
        process.wait()
    seen = console.seen
    names = [what for what, _, _ in seen]
    slots = [value for what, value, _ in seen if what == "slot"]
    at = {what: t for what, _, t in reversed(seen)}  # each marker's first time
    figures = (
        f"rollout to installed {at['installed'] - rollout_at:.0f} s, safe-moment reboot to "
        f"committed {at['committed'] - at['safe_reboot']:.0f} s"
        if "safe_reboot" in at
        else "no safe-moment reboot seen"
    )
    played_before_install = "playing" in names[: names.index("installed")]
    checks = {
        "boots A then B": slots[:2] == ["A", "B"],
        "a play was on while installing": played_before_install,
        "no reboot before the safe moment": slots.count("A") == 1 and "safe_reboot" in names,
        f"the tenant shows {VERSION} committed on B": committed,
    }
    failed = [what for what, ok in checks.items() if not ok]
    verdict = "PASS" if not failed else f"FAIL ({', '.join(failed)})"
    return f"{verdict}: boots {slots}; {figures}; log {log}"


def admin(args: argparse.Namespace, *argv: str, check: bool = True) -> bool:
    """Run `jukebox admin …` as the operator would; whether it succeeded (`check`: or fail)."""
    command = [args.jukebox, "admin", "--credentials", str(args.credentials), *argv]
    say("$ " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    say(done.stdout.rstrip() + (f"\n{done.stderr.rstrip()}" if done.returncode else ""))
    if done.returncode != 0 and check:
        raise BuildError(f"{' '.join(argv[:2])} failed: {done.stderr.strip()}")
    return done.returncode == 0


class Console:
    """QEMU's console, read on a thread: each line into `record` with the seconds since
    `started`, and the markers into `seen`; `until` waits for one."""

    def __init__(self, stream: IO[bytes], record: TextIO, started: float) -> None:
        self.stream = stream
        self.record = record
        self.started = started
        self.seen: list[tuple[str, str, float]] = []
        self.markers: queue.Queue[tuple[str, str] | None] = queue.Queue()

    def read(self) -> None:
        for raw in self.stream:
            line = raw.decode("utf-8", "replace").rstrip()
            now = time.monotonic() - self.started
            self.record.write(f"{now:8.2f} {line}\n")
            self.record.flush()
            for what, pattern in MARKERS.items():
                found = pattern.search(line)
                if found:
                    value = found.group(1) if found.groups() else ""
                    self.seen.append((what, value, now))
                    say(f"        +{now:.0f} s {what}: {line.strip()[:150]}")
                    self.markers.put((what, value))
        self.markers.put(None)  # QEMU stopped

    def until(self, what: str, timeout: float) -> str:
        """The value of the next marker `what` (BuildError after `timeout` s or QEMU's end)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                marker = self.markers.get(timeout=left)
            except queue.Empty:
                break
            if marker is None:
                raise BuildError(f"QEMU stopped before {what!r}")
            if marker[0] == what:
                return marker[1]
        raise BuildError(f"{what!r} not seen within {timeout:.0f} s")


def _status(args: argparse.Namespace, device: str) -> bool:
    """Whether `firmware status` shows the kiosk committed on B running VERSION (the health
    gate's report reaches the tenant with the next heartbeat)."""
    deadline = time.monotonic() + STATUS_WAIT_S
    while time.monotonic() < deadline:
        command = [args.jukebox, "admin", "--credentials", str(args.credentials),
                   "firmware", "status"]  # fmt: skip
        text = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        row = next((line for line in text.splitlines() if line.startswith(device)), "")
        if f" {VERSION} " in row and " B " in row and "committed" in row:
            say(row)
            return True
        time.sleep(5)
    say(json.dumps({"device": device, "status": "not committed at the tenant"}))
    return False
