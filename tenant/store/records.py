"""The frozen records the data-access layer returns (one per table row, plain values)."""

from __future__ import annotations

import functools
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
    retired_ms: int | None = None  # retired: off every kiosk, still in reports


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
    retired_ms: int | None = None  # retired: off every kiosk, still in reports
    track_ids: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceStatus:
    """What the ingester last heard from a device on the broker (None: never heard)."""

    tenant: str
    device_id: str
    online: bool | None = None
    since_ms: int | None = None
    reason: str | None = None
    boot_id: str | None = None
    status_ms: int | None = None
    heartbeat: str | None = None  # JSON
    heartbeat_ms: int | None = None
    reported_version: int | None = None
    reported_status: str | None = None
    reported_problem: str | None = None
    reported_missing: str | None = None  # JSON list
    reported_ms: int | None = None


@dataclass(frozen=True)
class DesiredState:
    tenant: str
    device_id: str
    version: int
    document: str  # JSON, the payload without its version
    pushed_ms: int


@dataclass(frozen=True)
class Command:
    tenant: str
    device_id: str
    request_id: str
    command: str | None
    requested_ms: int | None
    ok: bool | None
    error: str | None
    result: str | None  # JSON object
    result_ms: int | None


@dataclass(frozen=True)
class PlayGroup:
    """Plays of one track, artist, site, device or day."""

    key: str
    label: str
    plays: int
    counted: int  # listened at least the tenant's counted-stream threshold
    listened_ms: int
    time_estimated: int = 0  # plays dated by estimate: the kiosk's clock was not synced


R = TypeVar("R")


def record(cls: type[R], row: Any) -> R:
    """A record from a row's columns of the same names (the others keep their defaults)."""
    values = dict(zip(row._fields, row, strict=True))
    names = _shared(cls, row._fields)  # type: ignore[arg-type]  # a class is hashable
    return cls(**{name: values[name] for name in names})


@functools.cache
def _shared(cls: type[Any], columns: tuple[str, ...]) -> tuple[str, ...]:
    """The fields of `cls` among `columns`, once per query shape: the board turns 2,000 rows
    into records per refresh, and dataclasses.fields() and row lookups per row were half of it."""
    return tuple(f.name for f in fields(cls) if f.name in columns)


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{(data_dir / DATABASE_FILE).absolute()}"


@dataclass(frozen=True)
class StaffUser:
    tenant: str
    username: str
    password_hash: str
    role: str
    sites: str  # JSON list
    disabled: bool
    created_ms: int
    updated_ms: int
    language: str | None = None  # the console's language; None: the browser's


@dataclass(frozen=True)
class StaffToken:
    tenant: str
    token_id: str
    username: str
    name: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    last_used_ms: int | None


@dataclass(frozen=True)
class AuditEntry:
    tenant: str
    at_ms: int
    actor: str
    action: str
    object_type: str
    object_id: str
    before: str | None = None  # JSON
    after: str | None = None  # JSON
    id: int | None = None  # given by the database
