"""The USB adapter: a pyudev monitor whose callbacks only post core events.

Sound cards (udev subsystem "sound") become `SoundCardsChanged` with every card present now;
block devices and partitions (subsystem "block") become `StorageAttached`/`StorageDetached`
with the filesystem type udev probed (ID_FS_TYPE). The core never sees pyudev.

`source="udev"` (the default) receives events after udevd has processed them (with
ID_FS_TYPE, ID_BUS, SOUND_INITIALIZED); `source="kernel"` takes raw kernel uevents, for
machines without udevd (containers, tests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pyudev

from device.events import (
    Event,
    EventSink,
    SoundCardsChanged,
    StorageAttached,
    StorageDetached,
)
from device.usb.cards import read_sound_cards

__all__ = ["UdevMonitor", "classify"]

log = logging.getLogger(__name__)

SUBSYSTEMS = ("sound", "block")
_IGNORED_BLOCK = ("loop", "ram", "zram", "mmcblk0", "dm-", "md")


def system_disk(sys_root: Path = Path("/sys"), dev: int | None = None) -> str | None:
    """The udev DEVPATH of the disk the system runs from (the root file system's, or `dev`'s),
    whatever the kernel calls it: mmcblk0 on a Pi's SD card, sda when it boots from USB, vda
    in QEMU. None when the root is on no block device (a container's overlay)."""
    try:
        dev = os.stat("/").st_dev if dev is None else dev
        node = sys_root / "dev/block" / f"{os.major(dev)}:{os.minor(dev)}"
        device = node.resolve(strict=True)
        if (device / "partition").exists():
            device = device.parent  # .../block/vda/vda2 → .../block/vda
        return "/" + str(device.relative_to(sys_root.resolve()))
    except (OSError, ValueError):
        return None


def classify(
    action: str,
    subsystem: str,
    sys_name: str,
    properties: Mapping[str, str],
    *,
    include_virtual: bool = False,
    system: str | None = None,
    sys_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
) -> Event | None:
    """The core event for one udev event, or None when it means nothing to the kiosk.

    The disk the system runs from (`system`, from system_disk()) and its partitions are never
    storage to look at: udev announces them (its coldplug at boot, a partition's change), and
    a stick's watcher would load its pack checks for nothing. Virtual block devices (loop,
    zram, the Pi's SD card by name) are ignored unless `include_virtual` (tests attach loop
    devices).
    """
    if subsystem == "sound":
        if not sys_name.startswith("card") or action not in ("add", "remove", "change"):
            return None  # pcmC0D0p, controlC0...: the card event covers them
        return SoundCardsChanged(read_sound_cards(sys_root, proc_root))
    if subsystem == "block":
        if properties.get("DEVTYPE") not in ("disk", "partition"):
            return None
        devpath = properties.get("DEVPATH", "")
        if system and (devpath == system or devpath.startswith(system + "/")):
            return None
        if not include_virtual and sys_name.startswith(_IGNORED_BLOCK):
            return None
        if action == "remove":
            return StorageDetached(sys_name)
        if action in ("add", "change"):
            usb = properties.get("ID_BUS") == "usb" or "/usb" in properties.get("DEVPATH", "")
            return StorageAttached(sys_name, properties.get("ID_FS_TYPE", ""), usb)
    return None


class UdevMonitor:
    """device.ports.EventSource over pyudev: posts events until closed; device.ports.Health
    says when hot-plug is unavailable."""

    def __init__(
        self,
        *,
        source: Literal["udev", "kernel"] = "udev",
        include_virtual: bool = False,
        context: Any = None,
    ) -> None:
        self.context = context or pyudev.Context()
        self.source = source
        self.include_virtual = include_virtual
        self.system = system_disk()
        self.problem: str | None = None
        self._observer: Any = None
        self._sink: EventSink | None = None

    def start(self, sink: EventSink) -> None:
        """Subscribe, then post the sound cards already present (one may be plugged at boot)."""
        self._sink = sink
        try:
            monitor = pyudev.Monitor.from_netlink(self.context, source=self.source)
            for subsystem in SUBSYSTEMS:
                monitor.filter_by(subsystem)
            self._observer = pyudev.MonitorObserver(monitor, callback=self._on_device, name="udev")
            self._observer.start()
        except Exception as exc:  # no netlink in this sandbox: hot-plug off, music on
            self.problem = f"usb hot-plug unavailable: {exc}"
            log.error(self.problem)
        sink(SoundCardsChanged(read_sound_cards()))

    def _on_device(self, device: Any) -> None:
        """pyudev's thread: translate, post, never raise."""
        try:
            properties = {str(k): str(v) for k, v in device.properties.items()}
            event = classify(
                str(device.action or ""),
                str(device.subsystem or ""),
                str(device.sys_name),
                properties,
                include_virtual=self.include_virtual,
                system=self.system,
            )
            log.debug("udev %s %s -> %r", device.action, device.sys_name, event)
            if event is not None and self._sink is not None:
                self._sink(event)
        except Exception:
            log.exception("udev event %r could not be handled", device)

    def close(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
