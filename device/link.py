"""The kiosk's link with its tenant: identity, enrollment, content sync and the MQTT link
(play reports, status, remote administration), each on its own threads.

Nothing here blocks the core: enrollment and sync talk to it only through events, and the
kiosk keeps playing its verified cache whatever the network does.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from contract.media import MediaCache
from device import FIRMWARE_VERSION
from device.config import TenantConfig
from device.domain import Library
from device.events import EventSink
from device.identity.enrollment import Enrollment
from device.identity.keys import DeviceKey
from device.mqtt.supervisor import MqttSetup, MqttSupervisor
from device.platform.backoff import Backoff
from device.sync.fetch_process import ProcessFetcher
from device.sync.syncer import DOWNLOADS_DIR, Syncer
from device.tenant_api.client import TenantClient
from device.update.client import UpdateClient
from device.update.moment import RebootGate

log = logging.getLogger(__name__)

REVOKED_PAUSE_S = 1.0


class TenantLink:
    def __init__(
        self,
        config: TenantConfig,
        state_dir: Path,
        cache: MediaCache,
        key: DeviceKey,
        sink: EventSink,
    ) -> None:
        verify: bool | str = str(config.ca_file) if config.ca_file else config.verify_tls
        self.client = TenantClient(
            config.url,
            timeout=config.request_timeout_s,
            verify=verify,
            user_agent=f"jukebox/{FIRMWARE_VERSION}",
        )
        self.enrollment = Enrollment(
            state_dir,
            self.client,
            key,
            sink,
            FIRMWARE_VERSION,
            enrollment_token=config.enrollment_token,
            backoff=Backoff(base_s=2.0, cap_s=300.0),
        )
        self._syncer_args = (cache, state_dir, sink, config)
        self.syncer: Syncer | None = None
        self.mqtt: MqttSupervisor | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._updates: UpdateClient | None = None

    def show(self, library: Library) -> None:
        """The syncer, told what the core shows: the library synced last time, which the
        daemon read from disk and handed to the core before this link was built."""
        cache, state_dir, sink, config = self._syncer_args
        session = self.enrollment.session
        self.syncer = Syncer(
            session,
            cache,
            state_dir,
            sink,
            quota_bytes=config.cache_quota_mb * 1024 * 1024,
            interval_s=config.sync_interval_s,
            fetcher=ProcessFetcher(
                session,
                session.base_url,
                cache,
                state_dir / DOWNLOADS_DIR,
                verify=self.client.verify,
                user_agent=f"jukebox/{FIRMWARE_VERSION}",
            ),
            shown=library,
        )

    def start(self, mqtt: MqttSetup | None = None) -> None:
        """Enroll, sync, and (given `mqtt`) run the MQTT link while the kiosk holds an account.

        `mqtt` comes here rather than to the constructor because remote administration, which
        it carries, is built from this link's `sync_now` and `playlists_present`.
        """
        assert self.syncer is not None, "show() first: the syncer must know what the core shows"
        self._threads.append(self.enrollment.start(self._stop))
        sync = threading.Thread(target=self._sync_forever, name="sync", daemon=True)
        sync.start()
        self._threads.append(sync)
        if mqtt is not None:
            _, state_dir, _, config = self._syncer_args
            self.mqtt = MqttSupervisor(
                lambda: self.enrollment.status,
                lambda: self.enrollment.credentials,
                config,
                state_dir,
                mqtt,
                firmware_version=FIRMWARE_VERSION,
                boot_id=mqtt.identity.boot_id,
            )
            self._threads.append(self.mqtt.start(self._stop))

    def _sync_forever(self) -> None:
        """Sync while claimed; after a revocation, wait for the re-claim and sync again."""
        while not self._stop.is_set():
            if not self.enrollment.wait_until_active(timeout=1.0):
                continue
            assert self.syncer is not None
            self.syncer.run(self._stop)
            self._stop.wait(REVOKED_PAUSE_S)

    def sync_now(self) -> None:
        """Remote administration's "sync now" (device/remote): never blocks."""
        if self.syncer is not None:
            self.syncer.wake()

    def content_replaced(self) -> None:
        """A technician's content pack became the library: the syncer starts from it."""
        if self.syncer is not None:
            self.syncer.reload_active()

    def playlists_present(self) -> frozenset[str]:
        """The synced playlists wholly on disk, for remote administration's reported state."""
        return self.syncer.playlists_present() if self.syncer is not None else frozenset()

    def updates(self, gate: RebootGate, runtime_dir: Path | None) -> UpdateClient:
        """The firmware update client (device/update), on its own thread from `start_updates`."""
        _, state_dir, _, _ = self._syncer_args
        return UpdateClient(
            state_dir,
            lambda: self.enrollment.session,
            gate,
            running=FIRMWARE_VERSION,
            runtime_dir=runtime_dir,
            tenant_up=lambda: self.enrollment.status.state == "active",
            mqtt_up=self._mqtt_up,
        )

    def _mqtt_up(self) -> bool:
        link = self.mqtt.link if self.mqtt is not None else None
        return link is not None and link.online

    def start_updates(self, client: UpdateClient) -> None:
        self._updates = client
        thread = threading.Thread(target=client.run, args=(self._stop,), name="update", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        if self._updates is not None:
            self._updates.wake()  # it sleeps on its own event between looks
        for thread in self._threads:
            thread.join(timeout=5)
        self.client.close()
