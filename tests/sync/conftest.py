"""A real tenant service for the sync tests, with synthesised FLACs imported as tracks, and a
freshly claimed device per test (playlists are assigned to that device only, so tests sharing
the service never see each other's content)."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from contract.media import MediaCache
from demo.tracks import TrackSpec, synthesise_track
from device.domain import Library, Sha256
from device.events import Event, LibraryUpdated, SyncProgress
from device.identity.keys import DeviceKey
from device.sync.source import WallClock, utc_now
from device.sync.syncer import Syncer
from device.tenant_api.client import TenantClient
from device.tenant_api.session import TenantSession
from tests.support.tenant import RunningTenant, running_tenant

SLUG = "lib-a"
SITE = "centre"
Json = dict[str, Any]


@dataclass(frozen=True)
class Media:
    """A track the tenant knows, and the bytes it serves for it."""

    track: Json
    path: Path

    @property
    def sha(self) -> Sha256:
        return Sha256(self.track["sha256"])

    @property
    def id(self) -> str:
        return str(self.track["id"])

    @property
    def size(self) -> int:
        return int(self.track["size"])

    def tenant_file(self, tenant: RunningTenant) -> Path:
        """Where the tenant keeps it (its own sha256-addressed store)."""
        return tenant.data_dir / "media" / self.sha[:2] / self.sha


@pytest.fixture(scope="session")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTenant]:
    with running_tenant(tmp_path_factory.mktemp("tenant"), (SLUG,)) as service:
        yield service


@pytest.fixture(scope="session")
def media(tenant: RunningTenant, tmp_path_factory: pytest.TempPathFactory) -> list[Media]:
    """Eight short FLACs with tags, imported into the tenant."""
    folder = tmp_path_factory.mktemp("sync-flac")
    found = []
    for i in range(8):
        spec = TrackSpec(
            f"Chanson {i}",
            f"Groupe {i}",
            1.0 + 0.25 * i,
            isrc=f"FRZ0326001{i:02d}",
            album="Festival des Suds" if i % 2 else None,
            frequency_hz=220 + 55 * i,
        )
        path = synthesise_track(folder / f"chanson-{i}.flac", spec)
        found.append(Media(tenant.import_file(SLUG, path), path))
    return found


class RecordingHttp:
    """A TenantHttp that forwards to the real session and remembers every exchange."""

    def __init__(self, inner: TenantSession) -> None:
        self.inner = inner
        self.base_url = inner.base_url
        self.exchanges: list[tuple[str, dict[str, str], int]] = []

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        response = self.inner.get(path, headers=headers, stream=stream, timeout=timeout)
        self.exchanges.append((path, dict(headers or {}), response.status_code))
        return response

    def media_requests(self) -> list[tuple[str, dict[str, str], int]]:
        return [e for e in self.exchanges if "/v1/media/" in e[0]]


_names = itertools.count()


@dataclass
class Device:
    """One claimed kiosk: its state directory, cache, session and what its sync posted."""

    tenant: RunningTenant
    state_dir: Path
    key: DeviceKey
    session: TenantSession
    http: RecordingHttp
    cache: MediaCache
    events: list[Event] = field(default_factory=list)
    prefix: str = ""

    @property
    def device_id(self) -> str:
        return self.key.device_id

    def syncer(
        self,
        quota_bytes: int = 1 << 30,
        interval_s: float = 300.0,
        wall_clock: WallClock = utc_now,
        **options: Any,
    ) -> Syncer:
        return Syncer(
            self.http,
            self.cache,
            self.state_dir,
            self.events.append,
            quota_bytes,
            interval_s,
            wall_clock=wall_clock,
            **options,
        )

    def playlist(
        self,
        name: str,
        tracks: Sequence[Media],
        *,
        featured: bool = False,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        """Create (or replace) a playlist assigned to this device only; returns its id."""
        playlist_id = f"{self.prefix}-{name}"
        self.tenant.create_playlist(
            SLUG,
            playlist_id,
            f"Playlist {name}",
            [m.id for m in tracks],
            note=f"Note for {name}",
            featured=featured,
            devices=(self.device_id,),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return playlist_id

    def unassign(self, playlist_id: str) -> None:
        self.tenant.assign(SLUG, playlist_id, devices=())

    def libraries(self) -> list[Library]:
        return [e.library for e in self.events if isinstance(e, LibraryUpdated)]

    def progress(self) -> list[SyncProgress]:
        return [e for e in self.events if isinstance(e, SyncProgress)]

    def media_dir_entries(self) -> list[str]:
        root = self.state_dir / "cache" / "media"
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def claim_device(tenant: RunningTenant, state_dir: Path) -> tuple[DeviceKey, TenantSession]:
    """Enroll a new key, have the admin claim it, and open a session (as the kiosk does)."""
    key = DeviceKey.load_or_create(state_dir)
    client = TenantClient(tenant.url(SLUG))
    answer = client.enroll(key.public_bytes, "0.1.0")
    if answer.status == "pending":
        assert answer.claim_code is not None
        tenant.claim(SLUG, answer.claim_code, site=SITE)
    return key, TenantSession(client, key)


@pytest.fixture
def device(tenant: RunningTenant, tmp_path: Path) -> Iterator[Device]:
    if not tenant.running:
        tenant.start()
    state_dir = tmp_path / "state"
    key, session = claim_device(tenant, state_dir)
    cache = MediaCache(state_dir / "cache")
    device = Device(
        tenant, state_dir, key, session, RecordingHttp(session), cache, prefix=f"d{next(_names)}"
    )
    yield device
    session.client.close()


def sha_of(data: bytes) -> Sha256:
    return Sha256(hashlib.sha256(data).hexdigest())


def age(path: Path, seconds_ago: float) -> None:
    """Make a cached file look last used `seconds_ago`."""
    when = os.stat(path).st_mtime - seconds_ago
    os.utime(path, (when, when))
