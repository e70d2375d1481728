"""The frozen records the data-access layer returns (one per table row, plain values)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

PENDING = "pending"
ACTIVE = "active"
REVOKED = "revoked"
DATABASE_FILE = "tenant.sqlite3"


@dataclass(frozen=True)
class Tenant:
    slug: str
    name: str
    mqtt_host: str
    mqtt_port: int
    mqtt_tls: bool
    created_ms: int


@dataclass(frozen=True)
class Device:
    tenant: str
    device_id: str
    public_key: str
    firmware_version: str
    status: str
    site: str | None
    name: str | None
    claim_code_hash: str | None
    claim_expires_ms: int | None
    poll_interval_ms: int
    last_poll_ms: int | None
    mqtt_nonce: str | None
    enrolled_ms: int
    claimed_ms: int | None
    revoked_ms: int | None
    last_contact_ms: int | None


@dataclass(frozen=True)
class Track:
    tenant: str
    id: str
    sha256: str
    size: int
    title: str
    artist: str
    album: str | None
    isrc: str | None
    duration_ms: int | None
    replaygain_track_gain_db: float | None
    created_ms: int


@dataclass(frozen=True)
class Playlist:
    tenant: str
    id: str
    title: str
    note: str
    valid_from_ms: int | None
    valid_until_ms: int | None
    hours: str  # JSON list
    revision: str
    featured: bool
    created_ms: int
    updated_ms: int
    track_ids: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()


R = TypeVar("R")


def record(cls: type[R], row: Any) -> R:
    mapping = row._mapping
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: mapping[name] for name in names if name in mapping})


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{(data_dir / DATABASE_FILE).absolute()}"
