"""The `Updater` port and its one real adapter, the `rauc` command (RAUC 1.8, Debian's).

`inspect` verifies a bundle against the keyring (`rauc info --keyring`: signature, chain and
every byte, for a ``plain`` bundle) and reads its compatible and version; `install` writes it
into the inactive slot and makes that slot the next boot's, once (`rauc install`, through
rauc-service); `slots` reads `rauc status`; `mark` commits or rejects the booted slot.
Tests of the core use a fake (tests/update/fakes.py); this adapter is tested on real bundles.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from device.update.versions import BundleInfo, UpdateRefused

log = logging.getLogger(__name__)

KEYRING = Path("/etc/rauc/keyring.pem")
INFO_TIMEOUT_S = 600.0  # a plain bundle is hashed whole: a few hundred MB on an SD card
INSTALL_TIMEOUT_S = 3600.0
# `rauc status` asks the bootloader handler about each slot; at boot, with the kiosk starting
# beside it, that took over a minute under QEMU's emulation.
STATUS_TIMEOUT_S = 300.0


class InstallFailed(Exception):
    """`rauc install` (or `rauc status`) failed; the message has RAUC's last words. Retried."""


@dataclass(frozen=True)
class Slot:
    name: str  # the boot name, A or B
    version: str | None  # of the bundle installed there, when RAUC recorded one
    state: str  # booted, inactive, active; with RAUC's boot status: "booted good"


@dataclass(frozen=True)
class Slots:
    booted: str | None
    slots: tuple[Slot, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "booted": self.booted,
            "slots": [
                {"name": s.name, "state": s.state, **({"version": s.version} if s.version else {})}
                for s in self.slots
            ],
        }


class Updater(Protocol):
    def inspect(self, bundle: Path) -> BundleInfo: ...

    def install(self, bundle: Path, progress: Callable[[int, str], None]) -> None: ...

    def slots(self) -> Slots: ...

    def mark(self, good: bool) -> None: ...


class RaucUpdater:
    def __init__(self, keyring: Path = KEYRING, rauc: str | None = None) -> None:
        self.keyring = Path(keyring)
        self.rauc = rauc or shutil.which("rauc") or "rauc"

    def inspect(self, bundle: Path) -> BundleInfo:
        """Raises UpdateRefused (unsigned, untrusted signer, altered bytes, unreadable)."""
        result = self._run(
            ["info", "--keyring", str(self.keyring), "--output-format=json", str(bundle)],
            INFO_TIMEOUT_S,
        )
        if result.returncode != 0:
            raise UpdateRefused(f"bundle refused by rauc info: {_last_words(result)}")
        try:
            data = json.loads(result.stdout)
            return BundleInfo(compatible=str(data["compatible"]), version=str(data["version"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise UpdateRefused(f"rauc info gave no compatible and version: {exc}") from None

    def install(self, bundle: Path, progress: Callable[[int, str], None]) -> None:
        """`rauc install --progress`; its percentage lines go to `progress`."""
        command = [self.rauc, "install", "--progress", str(bundle)]
        log.info("running %s", " ".join(command))
        try:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        except OSError as exc:
            raise InstallFailed(f"cannot run {self.rauc}: {exc}") from exc
        assert process.stdout is not None
        tail: list[str] = []
        for line in process.stdout:
            text = line.strip()
            if text:
                tail = [*tail[-4:], text]
                percent = _percent(text)
                if percent is not None:
                    progress(percent, text)
        code = process.wait()
        if code != 0:
            raise InstallFailed(f"rauc install failed (exit {code}): {' / '.join(tail[-3:])}")

    def slots(self) -> Slots:
        # Without --detailed, RAUC leaves out each slot's slot_status (the bundle version
        # installed there): the report would name no version (rauc 1.8, src/main.c).
        result = self._run(["status", "--detailed", "--output-format=json"], STATUS_TIMEOUT_S)
        if result.returncode != 0:
            raise InstallFailed(f"rauc status failed: {_last_words(result)}")
        return parse_status(result.stdout)

    def mark(self, good: bool) -> None:
        word = "mark-good" if good else "mark-bad"
        result = self._run(["status", word, "booted"], STATUS_TIMEOUT_S)
        if result.returncode != 0:
            raise InstallFailed(f"rauc status {word} failed: {_last_words(result)}")

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.rauc, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallFailed(f"rauc {args[0]}: {exc}") from exc


def parse_status(text: str) -> Slots:
    """`rauc status --detailed --output-format=json`: the booted slot and, per root slot,
    its version."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InstallFailed(f"rauc status: not JSON: {exc}") from None
    slots = []
    for entry in data.get("slots", []) if isinstance(data, dict) else []:
        for _name, slot in entry.items() if isinstance(entry, dict) else ():
            if not isinstance(slot, dict) or slot.get("class") not in (None, "rootfs"):
                continue
            status = slot.get("slot_status") or {}
            bundle = status.get("bundle") or {} if isinstance(status, dict) else {}
            version = bundle.get("version") if isinstance(bundle, dict) else None
            state = " ".join(str(w) for w in (slot.get("state"), slot.get("boot_status")) if w)
            slots.append(
                Slot(str(slot.get("bootname", "?")), version if isinstance(version, str) else None,
                     state or "unknown")
            )  # fmt: skip
    booted = data.get("booted") if isinstance(data, dict) else None
    return Slots(booted if isinstance(booted, str) else None, tuple(slots))


def _percent(line: str) -> int | None:
    """``installing: 40% Copying image to rootfs.1`` or ``40% …`` → 40."""
    for word in line.replace(":", " ").split():
        if word.endswith("%") and word[:-1].isdigit():
            return min(100, int(word[:-1]))
    return None


def _last_words(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (result.stderr or result.stdout).strip().splitlines() if ln.strip()]
    return " / ".join(lines[-2:])[:300] or f"exit code {result.returncode}"
