"""A fake `Updater` for the gate and installer tests; the real adapter (device/update/rauc.py)
is tested on real bundles in test_bundles.py and, installing, by image-build/ota-test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from device.update.rauc import InstallFailed, Slot, Slots
from device.update.versions import BundleInfo, UpdateRefused


@dataclass
class FakeUpdater:
    booted: str = "A"
    versions: dict[str, str | None] = field(default_factory=lambda: {"A": "0.1.0", "B": None})
    info: BundleInfo | None = None  # what inspect reads; None: refused as unsigned
    install_error: str | None = None
    marks: list[bool] = field(default_factory=list)
    installed: list[Path] = field(default_factory=list)
    status_failures: int = 0  # so many `rauc status` calls fail first (its service starting)
    mark_failures: int = 0  # so many marks fail first (the service busy with an install)
    # RAUC's boot status per slot, from the bootloader backend ("good"/"bad"; a slot on trial
    # has used its one try: "bad" until marked good), shown after the state: "booted good".
    boot_status: dict[str, str] = field(default_factory=dict)

    def inspect(self, bundle: Path) -> BundleInfo:
        if self.info is None:
            raise UpdateRefused("bundle refused by rauc info: Signature size is 0")
        return self.info

    def install(self, bundle: Path, progress: Callable[[int, str], None]) -> None:
        if self.install_error:
            raise InstallFailed(self.install_error)
        for percent in (0, 40, 80, 100):
            progress(percent, f"installing: {percent}%")
        other = "B" if self.booted == "A" else "A"
        self.versions[other] = self.info.version if self.info else None
        self.installed.append(bundle)

    def slots(self) -> Slots:
        if self.status_failures > 0:
            self.status_failures -= 1
            raise InstallFailed("rauc status: timed out after 300.0 seconds")
        return Slots(
            self.booted,
            tuple(
                Slot(name, version, self._state(name))
                for name, version in sorted(self.versions.items())
            ),
        )

    def _state(self, name: str) -> str:
        words = ("booted" if name == self.booted else "inactive", self.boot_status.get(name))
        return " ".join(word for word in words if word)

    def mark(self, good: bool) -> None:
        if self.mark_failures > 0:
            self.mark_failures -= 1
            raise InstallFailed("rauc status mark-good: already processing a different method")
        self.marks.append(good)
        self.boot_status[self.booted] = "good" if good else "bad"
