"""The whole system for end-to-end tests: real kiosk processes, tenant, broker and ingester.

    rig = Rig(folder, broker, tracks, database_url=url)  # tenant over HTTP with `broker`
    kiosk = rig.kiosk("hall", autoplay=True)    # `jukebox run --simulate` in its own folder
    device_id = rig.claim(kiosk)                 # booted, claimed, synced and online on MQTT
    rig.stored_seqs(device_id)                   # what the tenant's database holds
    rig.close()

Every part is the real one: the kiosk daemon in its own process (device/sim/process.py), the
reference tenant over HTTP (tests/support/tenant.py) with its broker connection making device
accounts through dynamic security, mosquitto (tests/support/broker.py), and the ingester
(tenant/ingest), either in this process or as `jukebox tenant ingest` (which a test may kill).
The tenant's database is the one the test's fixtures chose (tests/e2e/conftest.py: SQLite, and
PostgreSQL too for the tests marked ON_EVERY_DATABASE).
The tenant polls fast (claims take about a second) and kiosks send heartbeats every 5 s.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from device.identity.credentials import Credentials, load_credentials
from device.journal.outbox import JournalStats, PlayJournal
from device.journal.report import JournalIdentity, PlayReport
from device.sim.process import KioskProcess
from tenant.ingest import Ingester
from tenant.settings import TenantSettings
from tenant.store import DeviceStatus, TenantStore
from tests.support.broker import SecuredBroker
from tests.support.tenant import RunningTenant
from tests.support.waiting import eventually

__all__ = ["SITE", "SLUG", "E2EKiosk", "IngesterProcess", "Rig", "eventually"]

SLUG = "lib-a"
SITE = "centre"
PLAYLIST = "festival"
T = TypeVar("T")

KIOSK_CONFIG = """
[device]
state_dir = "state"
name = "{name}"
[audio]
backend = "null"
[display]
driver = "none"
[playback]
autoplay = {autoplay}
at_playlist_end = "loop"
progress_checkpoint_s = 0.5
[tenant]
url = "{url}"
sync_interval_s = 5
heartbeat_s = 5
{ca_line}
[[buttons]]
name = "play"
pin = 17
press = "play_pause"
[rotary]
pin_a = 5
pin_b = 6
"""


class E2EKiosk(KioskProcess):
    """A kiosk daemon in its own folder: jukebox.toml, state/, control.sock, kiosk.log."""

    def __init__(
        self,
        root: Path,
        tenant_url: str,
        *,
        name: str,
        autoplay: bool = False,
        ca_file: Path | None = None,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / "jukebox.toml", root / "control.sock", root / "kiosk.log")
        self.root = root
        self.name = name
        self.tenant_url = tenant_url
        self.ca_file = ca_file
        self.configure(autoplay=autoplay)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite3"

    def configure(self, *, autoplay: bool) -> None:
        """Write its configuration (read at the next start)."""
        ca_line = f'ca_file = "{self.ca_file}"' if self.ca_file else ""
        self.config.write_text(
            KIOSK_CONFIG.format(
                name=self.name,
                autoplay=str(autoplay).lower(),
                url=self.tenant_url,
                ca_line=ca_line,
            )
        )

    def boot(self, timeout: float = 30) -> None:
        """Start it and wait until its control socket answers."""
        self.start()
        self.connect(timeout)

    def credentials(self) -> Credentials:
        credentials = load_credentials(self.state_dir)
        assert credentials is not None, f"{self.name} holds no credentials"
        return credentials

    @contextmanager
    def journal(self) -> Iterator[PlayJournal]:
        """Its journal as a second reader sees it (the publisher's view)."""
        identity = JournalIdentity("", "", "", "", "")
        with PlayJournal(self.journal_path, identity, exclusive=False) as journal:
            yield journal

    def journal_stats(self) -> JournalStats:
        with self.journal() as journal:
            return journal.stats()

    def plays(self) -> list[PlayReport]:
        with self.journal() as journal:
            return journal.plays()

    def log_text(self) -> str:
        assert self.log is not None
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class IngesterProcess:
    """`jukebox tenant ingest` as its own process, so that a test can SIGKILL it."""

    def __init__(
        self, data_dir: Path, database_url: str, log: Path, client_id: str = "jk-ingest-e2e"
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.log = log
        self.client_id = client_id
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jukebox", "tenant", "ingest", "--data",
                 str(self.data_dir), "--database-url", self.database_url,
                 "--client-id", self.client_id],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Rig:
    """Tenant (with one site and a playlist of short tracks) + broker + ingester."""

    def __init__(
        self,
        folder: Path,
        broker: SecuredBroker,
        tracks: list[Path],
        *,
        database_url: str,
        ingester_process: bool = False,
    ) -> None:
        self.folder = folder
        self.broker = broker
        self.settings = TenantSettings(poll_interval_s=0.3, slow_down_step_s=1.0)
        self.tenant = RunningTenant(
            folder / "tenant",
            (SLUG,),
            settings=self.settings,
            database_url=database_url,
            broker=broker.settings,
        ).start()
        self.store = TenantStore(database_url)
        self.kiosks: list[E2EKiosk] = []
        self.track_ids = [str(self.tenant.import_file(SLUG, path)["id"]) for path in tracks]
        self.tenant.create_playlist(
            SLUG, PLAYLIST, "Festival", self.track_ids, featured=True, sites=(SITE,)
        )
        self.ingester: Ingester | None = None
        self.ingester_process: IngesterProcess | None = None
        if ingester_process:
            self.ingester_process = IngesterProcess(
                self.tenant.data_dir, database_url, folder / "ingest.log"
            )
        self.start_ingester()

    # ------------------------------------------------------------------ ingester

    def start_ingester(self) -> None:
        if self.ingester_process is not None:
            self.ingester_process.start()
            return
        self.ingester = Ingester(
            self.store, self.broker.settings, client_id="jk-ingest-e2e", now_ms=self.settings.now_ms
        ).start()

    def stop_ingester(self) -> None:
        if self.ingester_process is not None:
            self.ingester_process.stop()
        if self.ingester is not None:
            self.ingester.stop()
            self.ingester = None

    # ------------------------------------------------------------------ kiosks

    def kiosk(self, name: str, *, autoplay: bool = False, ca_file: Path | None = None) -> E2EKiosk:
        kiosk = E2EKiosk(
            self.folder / name,
            self.tenant.url(SLUG),
            name=name,
            autoplay=autoplay,
            ca_file=ca_file,
        )
        self.kiosks.append(kiosk)
        return kiosk

    def claim(self, kiosk: E2EKiosk) -> str:
        """Boot the kiosk (if needed), claim it for SITE with its name, and wait until it has
        synced its playlist and the ingester heard it come online; returns its device id."""
        if kiosk.process is None or kiosk.process.poll() is not None:
            kiosk.boot()
        kiosk.wait_until(lambda s: s["claim_code"] is not None, 30, "a claim code")
        device_id: str = self.tenant.claim(
            SLUG, kiosk.status()["claim_code"], site=SITE, name=kiosk.name
        )["device_id"]
        kiosk.wait_until(
            lambda s: s["tenant_state"] == "active" and s["playlist_id"] == PLAYLIST,
            30,
            f"{kiosk.name} claimed and synced",
        )
        self.wait_status(device_id, lambda s: s.online is True, "online on the broker")
        return device_id

    # ------------------------------------------------------------------ the tenant's view

    def device_status(self, device_id: str) -> DeviceStatus | None:
        return self.store.device_statuses(SLUG).get(device_id)

    def wait_status(
        self,
        device_id: str,
        condition: Callable[[DeviceStatus], bool],
        what: str,
        timeout: float = 30,
    ) -> DeviceStatus:
        def check() -> DeviceStatus | None:
            status = self.device_status(device_id)
            return status if status is not None and condition(status) else None

        return eventually(check, timeout, f"{device_id} {what}")

    def stored_plays(self, device_id: str) -> list[dict[str, Any]]:
        return [row for row in self.store.play_rows(SLUG) if row["device_id"] == device_id]

    def stored_seqs(self, device_id: str) -> list[int]:
        return sorted(int(row["seq"]) for row in self.stored_plays(device_id))

    def close(self) -> None:
        for kiosk in self.kiosks:
            kiosk.close()
        self.stop_ingester()
        self.tenant.stop()
        self.store.close()
