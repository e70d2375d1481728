"""Facts about the machine for reports and the technician screen."""

from __future__ import annotations

import fcntl
import socket
import struct
import uuid
from pathlib import Path

SIOCGIFADDR = 0x8915


def boot_id() -> str:
    """The kernel's id of this boot, so the tenant can group plays timed by one monotonic clock."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def ipv4_addresses() -> list[str]:
    """The IPv4 addresses of the non-loopback interfaces, without spawning `ip`."""
    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            if name == "lo":
                continue
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
            except OSError:
                continue  # interface without an IPv4 address
            addresses.append(socket.inet_ntoa(answer[20:24]))
    return addresses


def device_id(state_dir: Path) -> str:
    """A stable id kept in the state directory (the tenant's claim flow replaces it later)."""
    path = state_dir / "device-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    new_id = "jk-" + uuid.uuid4().hex[:12]
    temporary = path.with_suffix(".tmp")
    temporary.write_text(new_id + "\n")
    temporary.replace(path)
    return new_id
