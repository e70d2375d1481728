"""A real tenant service on 127.0.0.1 for tests: uvicorn in a background thread.

    with running_tenant(tmp_path / "tenant") as tenant:
        track = tenant.import_file("lib-a", flac_dir / "t0.flac")
        tenant.create_playlist("lib-a", "p1", "First", [track["id"]], sites=("centre",))
        ...  # the device enrolls at tenant.url("lib-a") and shows a claim code
        tenant.claim("lib-a", code, site="centre")
        tenant.stop()     # the tenant is down (connections refused)
        tenant.restart()  # up again: same port, same data

Admin credentials are written to data_dir/admin-<slug>.json, as `jukebox tenant init` does,
and reused when the same data directory is run again.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import uvicorn

from tenant.admin_client import AdminClient, Credentials, load_credentials, write_credentials
from tenant.broker.settings import BrokerSettings, save_broker_settings
from tenant.claim_wait import ClaimWaits
from tenant.service import create_app
from tenant.settings import TenantSettings
from tenant.setup import init_tenant
from tenant.store import default_database_url

__all__ = ["RunningTenant", "running_tenant"]

Json = dict[str, Any]
START_TIMEOUT_S = 15.0


class RunningTenant:
    """The service over `data_dir`, with tenants `slugs`; start() it (or use `with`).

    The database is data_dir/tenant.sqlite3 unless `database_url` names another one (the
    tenant's own suites take it from tests/support/databases.py, which picks each run's).
    """

    def __init__(
        self,
        data_dir: Path,
        slugs: Sequence[str] = ("lib-a",),
        *,
        settings: TenantSettings | None = None,
        database_url: str | None = None,
        port: int = 0,
        mqtt_host: str = "127.0.0.1",
        mqtt_port: int = 8883,
        mqtt_tls: bool = True,
        broker: BrokerSettings | None = None,
    ) -> None:
        """With `broker` (e.g. tests.support.broker's `dynsec_broker.settings`), the service
        manages device accounts on it, and devices are told to connect to it."""
        self.data_dir = Path(data_dir).absolute()
        if broker is not None:
            save_broker_settings(self.data_dir, broker)
            mqtt_host, mqtt_port, mqtt_tls = broker.host, broker.port, broker.tls
        self.slugs = tuple(slugs)
        self.settings = settings or TenantSettings()
        self.database_url = database_url or default_database_url(self.data_dir)
        self.port = port  # 0: a free port, chosen at the first start and kept by restarts
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[str, AdminClient] = {}
        self._tokens: dict[str, str] = {}
        for slug in self.slugs:
            path = self.credentials_path(slug)
            if path.exists():
                self._tokens[slug] = load_credentials(path).token
            else:
                self._tokens[slug] = init_tenant(
                    self.data_dir,
                    slug,
                    f"Library network {slug}",
                    mqtt_host=mqtt_host,
                    mqtt_port=mqtt_port,
                    mqtt_tls=mqtt_tls,
                    database_url=self.database_url,
                )

    # ------------------------------------------------------------------ addresses

    @property
    def service_url(self) -> str:
        if not self.port:
            raise RuntimeError("the tenant service was never started")
        return f"http://127.0.0.1:{self.port}"

    def url(self, slug: str) -> str:
        """The tenant base URL, `{service}/t/{slug}`, that devices are configured with."""
        return f"{self.service_url}/t/{slug}"

    def admin_token(self, slug: str) -> str:
        return self._tokens[slug]

    def credentials_path(self, slug: str) -> Path:
        return self.data_dir / f"admin-{slug}.json"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> RunningTenant:
        """Start serving (on the same port as before, if it ran before) and wait until it
        answers."""
        if self.running:
            return self
        # proto=IPPROTO_TCP, or asyncio does not set TCP_NODELAY on accepted connections and
        # every kept-alive request waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        for slug in self.slugs:
            write_credentials(
                self.credentials_path(slug),
                Credentials(self.service_url, slug, self._tokens[slug]),
            )
        app = create_app(self.data_dir, self.database_url, settings=self.settings)
        config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tenant-service", daemon=True
        )
        self._server, self._thread = server, thread
        self._claim_waits: ClaimWaits = app.state.context.claim_waits
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive():
                sock.close()
                raise RuntimeError("the tenant service stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the tenant service did not start in {START_TIMEOUT_S:g} s")
            time.sleep(0.01)
        requests.get(f"{self.service_url}/healthz", timeout=5).raise_for_status()
        return self

    def stop(self) -> None:
        """Stop serving: new connections are refused until restart()."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        self._claim_waits.close()  # held token polls answer now: uvicorn waits for them
        server.should_exit = True
        thread.join(10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)

    def restart(self) -> RunningTenant:
        """Stop (if running) and start again: same port, same data directory."""
        self.stop()
        return self.start()

    def __enter__(self) -> RunningTenant:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ admin helpers

    def admin(self, slug: str) -> AdminClient:
        """An admin API client for this tenant (closed by stop())."""
        if slug not in self._clients:
            self._clients[slug] = AdminClient(
                Credentials(self.service_url, slug, self._tokens[slug]), timeout=30
            )
        return self._clients[slug]

    def import_file(self, slug: str, path: Path) -> Json:
        """Upload an audio file and register it as a track (tags read with mutagen)."""
        return self.admin(slug).import_file(Path(path)).track

    def create_playlist(
        self,
        slug: str,
        id: str,
        title: str,
        track_ids: Sequence[str],
        note: str = "",
        featured: bool = False,
        sites: Sequence[str] = (),
        devices: Sequence[str] = (),
        valid_from: datetime | str | None = None,
        valid_until: datetime | str | None = None,
        hours: Sequence[Json] = (),
    ) -> Json:
        """Create or replace a playlist, then set its assignment (sites, devices, featured)."""
        admin = self.admin(slug)
        admin.put_playlist(
            id,
            title,
            track_ids,
            note=note,
            valid_from=valid_from,
            valid_until=valid_until,
            hours=hours,
        )
        return admin.assign(id, sites=sites, devices=devices, featured=featured)

    def assign(
        self,
        slug: str,
        playlist_id: str,
        sites: Sequence[str] = (),
        devices: Sequence[str] = (),
        featured: bool = False,
    ) -> Json:
        return self.admin(slug).assign(playlist_id, sites=sites, devices=devices, featured=featured)

    def claim(self, slug: str, code: str, site: str, name: str | None = None) -> Json:
        """Claim the device showing `code` for `site`: `{"device_id", "site", "name"}`."""
        return self.admin(slug).claim(code, site, name)

    def revoke(self, slug: str, device_id: str) -> Json:
        return self.admin(slug).revoke(device_id)

    def devices(self, slug: str) -> list[Json]:
        """`[{"device_id", "name", "site", "status", "last_contact", …}]`."""
        return self.admin(slug).devices()


def running_tenant(
    data_dir: Path,
    slugs: Sequence[str] = ("lib-a",),
    *,
    settings: TenantSettings | None = None,
    **init: Any,
) -> RunningTenant:
    """A started tenant service; use it as a context manager, or call stop() yourself."""
    return RunningTenant(data_dir, slugs, settings=settings, **init).start()
