"""Runs an MqttLink while the kiosk holds a broker account, and only then.

The account comes with the claim (device/identity/enrollment.py). The link starts at boot when
the kiosk is already claimed (even with its tenant's HTTP API down: the broker may still be up),
or as soon as a claim becomes active; it stops when the device is revoked or its credentials are
voided, and starts again with the new account after a re-claim. The journal rows stay where they
are throughout: a later claim sends them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.protocol import DeviceTopics
from device.config import TenantConfig
from device.core.kiosk import KioskStatus
from device.events import EnrollmentChanged
from device.identity.credentials import Credentials
from device.journal.outbox import JournalError, PlayJournal
from device.journal.report import JournalIdentity
from device.mqtt.health import HeartbeatSource
from device.mqtt.link import HEARTBEAT_S, MqttLink
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount
from device.ports import RemoteInbox

__all__ = ["MqttSetup", "MqttSupervisor"]

log = logging.getLogger(__name__)

CHECK_S = 1.0


@dataclass(frozen=True)
class MqttSetup:
    """What the daemon gives the link besides the account: the outbox, the kiosk's snapshot
    and remote administration: `inbox` takes desired states and commands, `remote` is what
    remote administration publishes into (it outlives every link)."""

    journal_path: Path
    identity: JournalIdentity
    inbox: RemoteInbox
    status: Callable[[], KioskStatus | None] = lambda: None
    remote: RemoteOutbox = field(default_factory=RemoteOutbox)
    desired_version: Callable[[], int | None] = lambda: None
    update: Callable[[], dict[str, Any]] = dict  # firmware updates (device/update), or nothing
    panel: Callable[[], str | None] = lambda: None  # "ok", "missing", None: no panel by design
    audio_ok: Callable[[], bool] = lambda: True
    heartbeat_s: float = HEARTBEAT_S


class MqttSupervisor:
    def __init__(
        self,
        status: Callable[[], EnrollmentChanged],
        credentials: Callable[[], Credentials | None],
        config: TenantConfig,
        state_dir: Path,
        setup: MqttSetup,
        *,
        firmware_version: str,
        boot_id: str,
    ) -> None:
        self._status = status
        self._credentials = credentials
        self.config = config
        self.state_dir = Path(state_dir)
        self.setup = setup
        self.firmware_version = firmware_version
        self.boot_id = boot_id
        self.link: MqttLink | None = None
        self._running_for: Credentials | None = None
        self._journal: PlayJournal | None = None

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop,), name="mqtt-supervisor", daemon=True
        )
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("MQTT supervisor check failed")
            stop.wait(CHECK_S)
        self.close()

    def wanted(self) -> Credentials | None:
        """The credentials to be connected with now, or None."""
        credentials = self._credentials()
        if credentials is None or credentials.mqtt is None:
            return None
        status = self._status()
        claimed = status.state == "active" or (status.state == "unreachable" and status.tenant_id)
        return credentials if claimed else None

    def check(self) -> None:
        wanted = self.wanted()
        if wanted == self._running_for:
            return
        if self.link is not None:
            revoked = self._status().state == "revoked"
            self._stop_link("revoked" if revoked else "shutdown")
        if wanted is not None:
            self._start_link(wanted)

    def close(self) -> None:
        if self.link is not None:
            self._stop_link("shutdown")
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _start_link(self, credentials: Credentials) -> None:
        assert credentials.mqtt is not None
        try:
            topics = DeviceTopics(credentials.tenant_id, credentials.device_id)
        except ValueError as exc:
            log.error("no MQTT link: %s", exc)
            self._running_for = credentials  # do not retry every second
            return
        if self._journal is None:
            try:
                self._journal = PlayJournal(
                    self.setup.journal_path, self.setup.identity, exclusive=False
                )
            except JournalError as exc:
                log.error("no MQTT link, the play outbox is unusable: %s", exc)
                return
        account = BrokerAccount.from_credentials(
            credentials.mqtt, ca_file=self.config.ca_file, verify_tls=self.config.verify_tls
        )
        journal = self._journal
        heartbeat = HeartbeatSource(
            firmware_version=self.firmware_version,
            state_dir=self.state_dir,
            status=self.setup.status,
            outbox=lambda: journal.stats().finished,
            desired_version=self.setup.desired_version,
            update=self.setup.update,
            panel=self.setup.panel,
            audio_ok=self.setup.audio_ok,
        )
        self.link = MqttLink(
            account,
            topics,
            journal,
            inbox=self.setup.inbox,
            remote=self.setup.remote,
            heartbeat=heartbeat,
            heartbeat_s=self.setup.heartbeat_s,
            boot_id=self.boot_id,
        )
        self.link.start()
        self._running_for = credentials
        log.info("MQTT link started for %s (%s)", topics.prefix, account)

    def _stop_link(self, reason: str) -> None:
        link, self.link = self.link, None
        self._running_for = None
        if link is not None:
            log.info("MQTT link stopping (%s)", reason)
            link.close(reason)
