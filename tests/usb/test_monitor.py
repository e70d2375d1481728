"""The USB adapter against real pyudev: devices read from /sys and real kernel uevents.

This machine has no udevd, so the monitor listens to raw kernel uevents (`source="kernel"`,
which carry no ID_FS_TYPE); loop devices the tests attach stand in for USB sticks. Sound
cards are read from a /sys-shaped folder, since this machine has none.
"""

from __future__ import annotations

import os
import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyudev

from device.events import Event, SoundCard, SoundCardsChanged, StorageAttached, StorageDetached
from device.usb.cards import read_sound_cards
from device.usb.monitor import UdevMonitor, classify, system_disk
from tests.stick.conftest import needs_loop

pytestmark = pytest.mark.timeout(30)
WAIT_S = 5.0


def _properties(device: pyudev.Device) -> dict[str, str]:
    return {str(k): str(v) for k, v in device.properties.items()}


def test_block_devices_read_from_sys_become_storage_events() -> None:
    context = pyudev.Context()
    devices = list(context.list_devices(subsystem="block"))
    assert devices, "no block device in /sys"
    for device in devices:
        props = _properties(device)
        added = classify("add", "block", device.sys_name, props, include_virtual=True)
        removed = classify("remove", "block", device.sys_name, props, include_virtual=True)
        assert added == StorageAttached(device.sys_name, props.get("ID_FS_TYPE", ""), False)
        assert removed == StorageDetached(device.sys_name)


def test_loop_zram_and_the_system_card_are_ignored_unless_asked() -> None:
    context = pyudev.Context()
    for device in context.list_devices(subsystem="block"):
        event = classify("add", "block", device.sys_name, _properties(device))
        if device.sys_name.startswith(("loop", "zram", "ram", "mmcblk0")):
            assert event is None
        else:
            assert isinstance(event, StorageAttached)


def test_the_disk_the_system_runs_from_is_found_in_the_kernels_sys() -> None:
    """This machine's root is on a real block device (or on none, in a container)."""
    disk = system_disk()
    if disk is None:
        pytest.skip("the root file system is on no block device here")
    device = pyudev.Devices.from_path(pyudev.Context(), disk)
    assert device.device_type == "disk"
    root = os.stat("/").st_dev
    inside = [device, *device.children]
    assert any(d.device_number == root for d in inside)  # the root's partition, or the disk
    for each in inside:  # every udev event of that disk means nothing to the kiosk
        props = _properties(each)
        assert classify("add", "block", each.sys_name, props, system=disk) is None
        assert classify("change", "block", each.sys_name, props, system=disk) is None


def test_the_system_disk_is_ignored_whatever_its_name(tmp_path: Path) -> None:
    """A Pi booted from a USB disk (sda), QEMU's virtio disk (vda): their partitions are not
    sticks; another disk's are."""
    sys_root = tmp_path / "sys"
    usb = "devices/platform/scb/fd500000.pcie/usb2/2-1/host0/block/sda"
    (sys_root / usb / "sda2").mkdir(parents=True)
    (sys_root / usb / "sda2/partition").write_text("2\n")
    (sys_root / "dev/block").mkdir(parents=True)
    (sys_root / "dev/block/8:2").symlink_to(f"../../{usb}/sda2")
    disk = system_disk(sys_root, os.makedev(8, 2))
    assert disk == f"/{usb}"
    props = {"DEVTYPE": "partition", "ID_FS_TYPE": "ext4", "ID_BUS": "usb"}
    mine = {"sda": {**props, "DEVTYPE": "disk", "DEVPATH": f"/{usb}"}}
    mine |= {name: {**props, "DEVPATH": f"/{usb}/{name}"} for name in ("sda1", "sda2", "sda3")}
    for name, properties in mine.items():
        assert classify("add", "block", name, properties, system=disk) is None
    stick = {
        **props,
        "DEVPATH": "/devices/platform/scb/fd500000.pcie/usb2/2-2/host1/block/sdb/sdb1",
    }
    assert classify("add", "block", "sdb1", stick, system=disk) == StorageAttached(
        "sdb1", "ext4", True
    )
    assert system_disk(sys_root, os.makedev(8, 9)) is None  # no such device: nothing ignored


def test_a_udev_filesystem_type_and_usb_bus_are_kept() -> None:
    props = {"DEVTYPE": "partition", "ID_FS_TYPE": "vfat", "ID_BUS": "usb"}
    assert classify("add", "block", "sda1", props) == StorageAttached("sda1", "vfat", True)
    assert classify("bind", "block", "sda1", props) is None
    assert classify("add", "block", "sda1", {"DEVTYPE": "whatever"}) is None


def _fake_sys(root: Path, cards: dict[int, tuple[str, bool]]) -> tuple[Path, Path]:
    """A /sys and /proc shaped like the kernel's for these (index -> (id, on usb)) cards."""
    sys_root, proc_root = root / "sys", root / "proc"
    lines = []
    for index, (card_id, usb) in cards.items():
        bus = "usb1/1-1/1-1:1.0" if usb else "platform/bcm2835_audio"
        device = sys_root / "devices" / bus / "sound" / f"card{index}"
        device.mkdir(parents=True)
        (device / "id").write_text(card_id + "\n")
        link = sys_root / "class" / "sound" / f"card{index}"
        link.mkdir(parents=True)
        (link / "id").write_text(card_id + "\n")
        (link / "device").symlink_to(device)
        name = "USB Audio Device" if usb else "bcm2835 Headphones"
        lines.append(f"{index:2d} [{card_id:<15}]: driver - {name}")
        lines.append(f"                      {name} at somewhere")
    (proc_root / "asound").mkdir(parents=True)
    (proc_root / "asound" / "cards").write_text("\n".join(lines) + "\n")
    return sys_root, proc_root


def test_sound_cards_are_read_with_their_names_and_bus(tmp_path: Path) -> None:
    sys_root, proc_root = _fake_sys(tmp_path, {0: ("Headphones", False), 1: ("Device", True)})

    cards = read_sound_cards(sys_root, proc_root)

    assert cards == (
        SoundCard(0, "Headphones", "bcm2835 Headphones", usb=False),
        SoundCard(1, "Device", "USB Audio Device", usb=True),
    )
    event = classify("add", "sound", "card1", {}, sys_root=sys_root, proc_root=proc_root)
    assert event == SoundCardsChanged(cards)
    assert classify("add", "sound", "pcmC1D0p", {}, sys_root=sys_root) is None


def test_no_sound_class_means_no_cards(tmp_path: Path) -> None:
    assert read_sound_cards(tmp_path, tmp_path) == ()


# ---------------------------------------------------------------------------- real uevents


@pytest.fixture
def monitor() -> Iterator[tuple[UdevMonitor, queue.Queue[Event]]]:
    events: queue.Queue[Event] = queue.Queue()
    usb = UdevMonitor(source="kernel", include_virtual=True)
    usb.start(events.put)
    assert usb.problem is None, usb.problem
    yield usb, events
    usb.close()


def _next(events: queue.Queue[Event], wanted: type, device: str) -> Event:
    while True:
        event = events.get(timeout=WAIT_S)
        if isinstance(event, wanted) and getattr(event, "device", None) == device:
            return event


@needs_loop
def test_the_monitor_posts_the_cards_present_at_start(
    monitor: tuple[UdevMonitor, queue.Queue[Event]],
) -> None:
    _usb, events = monitor
    assert events.get(timeout=WAIT_S) == SoundCardsChanged(read_sound_cards())


@needs_loop
def test_real_kernel_uevents_of_an_attached_disk_become_core_events(
    monitor: tuple[UdevMonitor, queue.Queue[Event]], tmp_path: Path
) -> None:
    """A loop device attached to an ext4 image; this kernel parses no partition tables, so
    the whole disk plays the stick, and its add/remove are synthesised through sysfs (real
    uevents from the kernel, as `udevadm trigger` makes them)."""
    _usb, events = monitor
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    node = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    name = Path(node).name
    uevent = Path(f"/sys/block/{name}/uevent")
    try:
        assert _next(events, StorageAttached, name) == StorageAttached(name)  # the attach
        for action in ("change", "add"):
            uevent.write_text(action)
            assert _next(events, StorageAttached, name) == StorageAttached(name)
        uevent.write_text("remove")
        assert _next(events, StorageDetached, name) == StorageDetached(name)
    finally:
        subprocess.run(["losetup", "-d", node], check=True)


@needs_loop
def test_nothing_is_posted_after_close(
    monitor: tuple[UdevMonitor, queue.Queue[Event]], tmp_path: Path
) -> None:
    usb, events = monitor
    usb.close()
    while not events.empty():
        events.get()
    Path("/sys/block/loop0/uevent").write_text("change")
    with pytest.raises(queue.Empty):
        events.get(timeout=0.5)
