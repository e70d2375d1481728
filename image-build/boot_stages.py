"""Where a boot's time went, from a boot-test or ota-test console log: one line per stage.

The log's lines start with the seconds since QEMU started (qemuboot.watch writes them); the
stages end at console lines every boot prints: U-Boot's "Starting kernel", the kernel's
"Run /init", systemd's "Welcome to", its targets, jukebox.service's start and the daemon's
"kiosk … ready". A mark reached after a later one (basic.target, which the daemon does not
wait for) is left out of the chain. Used by boot-test (its notes) and by hand:

    python3 image-build/boot_stages.py IMAGE.boot-test.log
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ESCAPES = re.compile(r"\x1b\[[0-9;]*m")
STAMPED = re.compile(r"^\s*(\d+\.\d+) (.*)$")
# (name of the stage, the console line that ends it); in boot order.
MARKS = (
    ("U-Boot (boot.scr, loading the slot's kernel and initrd)", re.compile(r"Starting kernel")),
    ("kernel, until /init", re.compile(r"Run /init as init process")),
    ("initramfs (udev, growing the data partition, root mount)", re.compile(r"Welcome to ")),
    # "Queued start job" stays off the console under `quiet`: then the first line after it
    ("systemd: generators, loading units", re.compile(r"Queued start job for|Created slice ")),
    (
        "early units, udev until the data partition is found",
        re.compile(r"Found device .*JUKEBOX-DATA"),
    ),
    ("fsck, mounts, growfs: local-fs.target", re.compile(r"Reached target .*local-fs\.target")),
    (
        "sysinit (tmpfiles, resolved, timesyncd) to basic.target",
        re.compile(r"Reached target .*basic\.target"),
    ),
    ("to jukebox.service's start", re.compile(r"Starting jukebox\.service")),
    ("the daemon's start to READY", re.compile(r"kiosk \S+ ready \(firmware")),
)


def stages(log: str) -> list[tuple[str, float, float]]:
    """(stage, seconds it took, seconds since QEMU started at its end) for the first boot in
    `log`; a stage whose end line is missing is merged into the next one."""
    seen: dict[int, float] = {}
    for raw in log.splitlines():
        stamped = STAMPED.match(raw)
        if not stamped:
            continue
        when, line = float(stamped.group(1)), ESCAPES.sub("", stamped.group(2))
        for index, (_, pattern) in enumerate(MARKS):
            if index not in seen and pattern.search(line):
                seen[index] = when
        if len(seen) == len(MARKS) or len(MARKS) - 1 in seen:
            break
    result = []
    start = 0.0
    skipped: list[str] = []
    for index, (name, _) in enumerate(MARKS):
        if index not in seen:
            skipped.append(name)  # e.g. "Run /init" under `quiet`: counted with the next
            continue
        if any(when < seen[index] for later, when in seen.items() if later > index):
            continue  # reached after a later mark, so off the daemon's path: basic.target,
            # which jukebox.service no longer waits for (DefaultDependencies=no)
        result.append((" + ".join([*skipped, name]), seen[index] - start, seen[index]))
        start = seen[index]
        skipped = []
    return result


def summary(log: str) -> list[str]:
    return [f"stage {took:6.1f} s (at {end:6.1f} s): {name}" for name, took, end in stages(log)]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: boot_stages.py CONSOLE.log (from boot-test or ota-test)\n")
        return 2
    lines = summary(Path(argv[0]).read_text(errors="replace"))
    if not lines:
        sys.stderr.write(f"{argv[0]}: no boot stage found (not a boot-test console log?)\n")
        return 1
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
