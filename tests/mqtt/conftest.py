"""Helpers for the MQTT link tests: a journal full of finished plays and a link to a broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contract.protocol import DeviceTopics
from device.domain import DurationMs, EndReason, EventId, PlaylistId, StartedBy, TrackId
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity
from device.mqtt.health import HeartbeatSource
from device.mqtt.link import MqttLink
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount
from device.platform.backoff import Backoff

TENANT = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
TOPICS = DeviceTopics(TENANT, DEVICE)
IDENTITY = JournalIdentity(
    tenant=TENANT, site="centre", device_id=DEVICE, firmware_version="0.1.0", boot_id="boot-1"
)


def record_plays(journal: PlayJournal, count: int, error: str | None = None) -> list[EventId]:
    """`count` plays started and finished, as the kiosk core writes them."""
    ids = []
    for i in range(count):
        event_id = journal.open_play(
            playlist_id=PlaylistId("festival"),
            playlist_revision="rev-1",
            track_id=TrackId(f"sha256:{i:04x}"),
            isrc=None,
            track_duration_ms=180_000,
            started_by=StartedBy.VISITOR,
            started_wall_ms=1_780_000_000_000 + i,
            clock_synced=True,
            started_uptime_ms=1000 + i,
        )
        journal.close_play(
            event_id,
            listened_ms=DurationMs(30_000),
            reason=EndReason.ERROR if error else EndReason.FINISHED,
            ended_wall_ms=1,
            error=error,
        )
        ids.append(event_id)
    return ids


class Recorder:
    """A RemoteInbox that keeps what it is given (remote administration is tested in
    tests/remote; here only the routing is)."""

    def __init__(self) -> None:
        self.desired: list[bytes] = []
        self.commands: list[bytes] = []

    def on_desired(self, payload: bytes) -> None:
        self.desired.append(payload)

    def on_command(self, payload: bytes) -> None:
        self.commands.append(payload)


def wait_for(condition: Callable[[], object], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@pytest.fixture
def kiosk_journal(tmp_path: Path) -> Iterator[PlayJournal]:
    """The kiosk's own (exclusive) journal."""
    journal = PlayJournal(tmp_path / "journal.sqlite3", IDENTITY)
    yield journal
    journal.close()


@pytest.fixture
def outbox(kiosk_journal: PlayJournal) -> Iterator[PlayJournal]:
    """The publisher's view of the same file."""
    journal = PlayJournal(kiosk_journal.path, IDENTITY, exclusive=False)
    yield journal
    journal.close()


LinkFactory = Callable[..., MqttLink]


@pytest.fixture
def make_link(tmp_path: Path, outbox: PlayJournal) -> Iterator[LinkFactory]:
    """Build (not start) links to a broker on 127.0.0.1:port; all are closed after the test."""
    links: list[MqttLink] = []

    def make(
        port: int,
        *,
        inbox: Recorder | None = None,
        remote: RemoteOutbox | None = None,
        ack_timeout_s: float = 30.0,
        account: BrokerAccount | None = None,
        **kwargs: object,
    ) -> MqttLink:
        from device.mqtt.publisher import PlayPublisher

        def publisher(*args: object) -> PlayPublisher:
            return PlayPublisher(
                *args,  # type: ignore[arg-type]
                ack_timeout_s=ack_timeout_s,
                poll_s=0.2,
                backoff=Backoff(base_s=0.2, cap_s=0.5),
            )

        link = MqttLink(
            account or BrokerAccount("127.0.0.1", port, False, DEVICE, "unused"),
            TOPICS,
            outbox,
            inbox=inbox or Recorder(),
            remote=remote or RemoteOutbox(),
            heartbeat=HeartbeatSource(
                firmware_version="0.1.0",
                state_dir=tmp_path,
                outbox=lambda: outbox.stats().finished,
            ),
            boot_id="boot-1",
            publisher=publisher,
            backoff=Backoff(base_s=0.1, cap_s=0.5),
            refused_backoff=Backoff(base_s=0.5, cap_s=1.0),
            **kwargs,  # type: ignore[arg-type]
        )
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()
