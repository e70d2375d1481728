"""Firmware releases, rollouts, the release settings and the kiosks' update reports.

Kept apart from `TenantStore`'s mixins: `FirmwareStore(store)` shares its engine and write
lock, so the service and the ingester use the same transactions rules (SQLite writes
serialised in the process).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from tenant.store.database import Database
from tenant.store.records import record
from tenant.store.schema import (
    firmware_releases,
    firmware_reports,
    firmware_rollouts,
    firmware_settings,
)
from tenant.store.upsert import upsert, upsert_many


@dataclass(frozen=True)
class FirmwareSettings:
    tenant: str
    keyring: str | None = None
    max_rollback_percent: int | None = None
    updated_ms: int = 0


@dataclass(frozen=True)
class Release:
    tenant: str
    version: str
    sha256: str
    size: int
    compatible: str
    uploaded_by: str
    uploaded_ms: int


@dataclass(frozen=True)
class Rollout:
    tenant: str
    version: str
    scope: str  # JSON list
    allow_downgrade: bool
    started_by: str
    started_ms: int
    updated_ms: int
    paused_ms: int | None
    paused_reason: str | None


@dataclass(frozen=True)
class UpdateReport:
    """One kiosk's `update` object as stored (tenant, device, the object, when heard)."""

    tenant: str
    device_id: str
    report: dict[str, Any]
    reported_ms: int


class FirmwareStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ settings

    def settings(self, slug: str) -> FirmwareSettings:
        query = select(firmware_settings).where(firmware_settings.c.tenant == slug)
        with self.db._read() as conn:
            row = conn.execute(query).first()
        return FirmwareSettings(slug) if row is None else record(FirmwareSettings, row)

    def save_settings(self, settings: FirmwareSettings) -> None:
        values = {
            "keyring": settings.keyring,
            "max_rollback_percent": settings.max_rollback_percent,
            "updated_ms": settings.updated_ms,
        }
        with self.db._write() as conn:
            upsert(conn, firmware_settings, {"tenant": settings.tenant, **values}, values)

    # ------------------------------------------------------------------ releases

    def release(self, slug: str, version: str) -> Release | None:
        t = firmware_releases.c
        query = select(firmware_releases).where(t.tenant == slug, t.version == version)
        with self.db._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(Release, row)

    def releases(self, slug: str) -> list[Release]:
        t = firmware_releases.c
        query = select(firmware_releases).where(t.tenant == slug).order_by(t.uploaded_ms)
        with self.db._read() as conn:
            return [record(Release, row) for row in conn.execute(query)]

    def add_release(self, release: Release) -> None:
        with self.db._write() as conn:
            conn.execute(firmware_releases.insert().values(**release.__dict__))

    # ------------------------------------------------------------------ rollouts

    def rollout(self, slug: str, version: str) -> Rollout | None:
        t = firmware_rollouts.c
        query = select(firmware_rollouts).where(t.tenant == slug, t.version == version)
        with self.db._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(Rollout, row)

    def rollouts(self, slug: str) -> list[Rollout]:
        t = firmware_rollouts.c
        query = select(firmware_rollouts).where(t.tenant == slug).order_by(t.started_ms)
        with self.db._read() as conn:
            return [record(Rollout, row) for row in conn.execute(query)]

    def save_rollout(self, rollout: Rollout) -> None:
        values = {k: v for k, v in rollout.__dict__.items() if k not in ("tenant", "version")}
        with self.db._write() as conn:
            upsert(conn, firmware_rollouts, dict(rollout.__dict__), values)

    def pause(self, slug: str, version: str, reason: str, now_ms: int) -> bool:
        """Pause a running rollout; False when it was paused already (or does not exist), so
        two ingesters judging the same reports record one pause."""
        t = firmware_rollouts.c
        statement = (
            update(firmware_rollouts)
            .where(t.tenant == slug, t.version == version, t.paused_ms.is_(None))
            .values(paused_ms=now_ms, paused_reason=reason[:300], updated_ms=now_ms)
        )
        with self.db._write() as conn:
            return conn.execute(statement).rowcount == 1

    # ------------------------------------------------------------------ update reports

    def record_updates(self, reports: Sequence[UpdateReport]) -> None:
        """The latest `update` of each kiosk (the last of `reports` wins), in one transaction."""
        latest = {(r.tenant, r.device_id): r for r in reports}
        rows = [
            {
                "tenant": r.tenant,
                "device_id": r.device_id,
                "report": json.dumps(r.report, separators=(",", ":"), sort_keys=True),
                "reported_ms": r.reported_ms,
            }
            for r in latest.values()
        ]
        with self.db._write() as conn:
            upsert_many(conn, firmware_reports, rows, ("report", "reported_ms"))

    def updates(self, slug: str) -> dict[str, UpdateReport]:
        query = select(firmware_reports).where(firmware_reports.c.tenant == slug)
        with self.db._read() as conn:
            return {
                row.device_id: UpdateReport(
                    slug, row.device_id, _object(row.report), row.reported_ms
                )
                for row in conn.execute(query)
            }


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
