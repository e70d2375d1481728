"""A RemoteAdmin wired to a real kiosk core (test fakes for its ports) and a recording publisher.

The publisher stands in for the MQTT link (device/mqtt, tested against a real broker in
tests/mqtt); it checks every payload against its schema and that it can be sent (UTF-8 JSON).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from contract.protocol import encode
from device.config import parse_config
from device.core.kiosk import Kiosk, KioskContext
from device.journal.outbox import PlayJournal
from device.platform.logs import RecentLogs
from device.remote import RemoteAdmin
from tests.conftest import make_library
from tests.fakes import FakeClock, FakeDisplay, FakePlayer

DEVICE_ID = "jk-aaaabbbbccccddddeeee"


@dataclass
class RecordingPublisher:
    reported: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def publish_reported(self, payload: dict[str, Any]) -> None:
        encode("reported-state", payload)
        self.reported.append(payload)
        self.order.append(f"reported {payload['status']}")

    def publish_result(self, payload: dict[str, Any]) -> None:
        encode("command-result", payload)
        self.results.append(payload)
        self.order.append(f"result {payload['command']}")


class RemoteRig:
    """The admin under test, the core it drives, and what it published."""

    def __init__(self, tmp_path: Path, journal: PlayJournal) -> None:
        self.tmp_path = tmp_path
        self.state_dir = tmp_path / "state"
        self.state_dir.mkdir(exist_ok=True)
        self.journal = journal
        config = parse_config(
            {
                "device": {"name": "Salle 2"},
                "audio": {"default_volume": 40, "min_volume": 20, "max_volume": 60},
                "display": {"driver": "none"},
            },
            "test.toml",
            tmp_path,
        )
        self.clock = FakeClock()
        self.player = FakePlayer()
        self.display = FakeDisplay()
        library = make_library(tmp_path / "x.flac", ("festival", 2), ("local", 2))
        self.kiosk = Kiosk(
            config,
            self.player,
            self.display,
            journal,
            self.clock,
            library,
            context=KioskContext(device_id=DEVICE_ID),
            timezone=UTC,
        )
        self.kiosk.start()
        self.publisher = RecordingPublisher()
        self.present: set[str] = set()
        self.syncs = 0
        self.reboots: list[float] = []
        self.logs = RecentLogs(capacity=50)
        self.admin = self.new_admin()

    def new_admin(self, **overrides: Any) -> RemoteAdmin:
        def sync_now() -> None:
            self.syncs += 1

        options: dict[str, Any] = {
            "sync_now": sync_now,
            "playlists_present": lambda: frozenset(self.present),
            "status": lambda: self.kiosk.status,
            "rebooter": self,
            "recent_logs": self.logs.lines,
            "state_dir": self.state_dir,
            "journal_stats": self.journal.stats,
            "firmware_version": "9.9.9",
            "recheck_s": 0.05,
            "reboot_delay_s": 0.01,
            **overrides,
        }
        return RemoteAdmin(self.kiosk.post, self.publisher, **options)

    def reboot(self) -> None:  # the Rebooter port
        self.reboots.append(time.monotonic())
        self.publisher.order.append("reboot")

    def drain(self) -> int:
        """Let the core take what the admin posted, as its loop would; how many events."""
        count = 0
        while True:
            try:
                event = self.kiosk.events.get_nowait()
            except queue.Empty:
                return count
            self.kiosk.handle(event)
            count += 1


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
