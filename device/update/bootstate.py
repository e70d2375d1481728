"""The A/B boot state on the boot partition, shared by U-Boot's script and RAUC.

`bootstate.txt` holds three lines, as U-Boot's ``env export -t`` writes them::

    BOOT_ORDER=B A
    BOOT_A_LEFT=3
    BOOT_B_LEFT=1

The boot script (image-build/files/boot/boot.cmd) takes the first slot of BOOT_ORDER with
tries left, counts one try down and writes the file back (``fatwrite``) before booting it.
RAUC reads and changes it through this module (its ``custom`` bootloader backend, the
`jukebox update bootloader` handler): the same file on a Pi and under QEMU, where U-Boot keeps
its own environment in flash. RAUC's semantics: `set-primary` puts a slot first with one try
(a new slot is tried once); `good` gives a slot its tries back; `bad` takes them away.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from contract.files import atomic_write
from contract.layout import DEFAULT_BOOT_DIR

SLOTS = ("A", "B")
TRIES = 3  # a committed slot survives this many boots that die before the health gate
TRIAL_TRIES = 1  # a new slot is tried once


class BootStateError(ValueError):
    """The boot state file or a request is unusable; the message names the line or slot."""


@dataclass(frozen=True)
class BootState:
    order: tuple[str, ...] = SLOTS
    left: tuple[tuple[str, int], ...] = (("A", TRIES), ("B", TRIES))

    def tries(self, slot: str) -> int:
        return dict(self.left)[_slot(slot)]

    def primary(self) -> str | None:
        """The slot U-Boot boots next: the first in order with tries left."""
        return next((s for s in self.order if self.tries(s) > 0), None)

    def with_tries(self, slot: str, tries: int) -> BootState:
        left = dict(self.left)
        left[_slot(slot)] = tries
        return replace(self, left=tuple(sorted(left.items())))

    def set_primary(self, slot: str) -> BootState:
        order = (_slot(slot), *(s for s in self.order if s != slot))
        return replace(self, order=order).with_tries(slot, TRIAL_TRIES)

    def set_state(self, slot: str, state: str) -> BootState:
        if state not in ("good", "bad"):
            raise BootStateError(f"state {state!r}: expected good or bad")
        return self.with_tries(slot, TRIES if state == "good" else 0)

    def state(self, slot: str) -> str:
        return "good" if self.tries(slot) > 0 else "bad"

    def text(self) -> str:
        lines = [f"BOOT_ORDER={' '.join(self.order)}"]
        lines += [f"BOOT_{s}_LEFT={n}" for s, n in self.left]
        return "\n".join(lines) + "\n"


def _slot(name: str) -> str:
    if name not in SLOTS:
        raise BootStateError(f"slot {name!r}: expected one of {', '.join(SLOTS)}")
    return name


def parse(text: str, where: str = "bootstate.txt") -> BootState:
    """The file's state; what it lacks keeps the default (both slots, full tries)."""
    state = BootState()
    for number, raw in enumerate(text.replace("\0", "").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise BootStateError(f"{where}:{number}: {line!r} is not NAME=value")
        if name == "BOOT_ORDER":
            order = tuple(value.split())
            if sorted(order) != sorted(SLOTS):
                raise BootStateError(f"{where}:{number}: BOOT_ORDER {value!r} must name A and B")
            state = replace(state, order=order)
        elif name in ("BOOT_A_LEFT", "BOOT_B_LEFT"):
            if not value.isdigit() or int(value) > 9:
                raise BootStateError(f"{where}:{number}: {name} {value!r} is not 0 to 9")
            state = state.with_tries(name[5], int(value))
        # other names (U-Boot's own) are left alone
    return state


def load(path: Path) -> BootState:
    try:
        return parse(path.read_text(errors="replace"), str(path))
    except FileNotFoundError:
        return BootState()


def save(path: Path, state: BootState) -> None:
    atomic_write(path, state.text().encode(), mode=0o644)  # durable on the FAT too


def handle(path: Path, args: list[str]) -> str:
    """RAUC's custom backend: get-primary, set-primary S, get-state S, set-state S good|bad,
    get-current (the booted slot is on the kernel command line: rauc.slot=)."""
    match args:
        case ["get-primary"]:
            primary = load(path).primary()
            if primary is None:
                raise BootStateError(f"{path}: no slot has tries left")
            return primary
        case ["set-primary", slot]:
            save(path, load(path).set_primary(slot))
            return ""
        case ["get-state", slot]:
            return load(path).state(slot)
        case ["set-state", slot, state]:
            save(path, load(path).set_state(slot, state))
            return ""
        case ["get-current"]:
            return booted_slot() or ""
    raise BootStateError(f"unknown request {' '.join(args)!r}")


def booted_slot(cmdline: Path = Path("/proc/cmdline")) -> str | None:
    """The slot the boot script chose (``rauc.slot=A`` on the kernel command line)."""
    try:
        words = cmdline.read_text().split()
    except OSError:
        return None
    for word in words:
        if word.startswith("rauc.slot="):
            return word.split("=", 1)[1]
    return None


def main(argv: Sequence[str], boot_dir: Path = DEFAULT_BOOT_DIR) -> int:
    """RAUC's handler (image-build/ab/rauc-bootloader runs ``python -m`` this module): RAUC
    calls it several times per `rauc status` or install, so it imports only this module, not
    the whole `jukebox` command line (seconds per call on a Pi, a minute under emulation)."""
    try:
        answer = handle(boot_dir / "bootstate.txt", list(argv))
    except (BootStateError, OSError) as exc:
        sys.stderr.write(f"jukebox rauc-bootloader: {exc}\n")
        return 1
    if answer:
        sys.stdout.write(answer + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
