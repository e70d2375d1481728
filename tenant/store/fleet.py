"""What the kiosks tell over MQTT (status, heartbeat, reported state, command results) and
what the tenant wants of them (desired state, commands sent).

Every write is idempotent, keyed by (tenant, device[, request]): the same retained message
delivered again, or to two ingesters, leaves the same row. The writes themselves are in
reports.py, so that the ingester can make many of them in one transaction (`record_reports`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from tenant.store.database import Database
from tenant.store.records import Command, DesiredState, DeviceStatus, record
from tenant.store.reports import (
    DeviceReport,
    HeartbeatReport,
    ResultReport,
    StateReport,
    StatusReport,
    StoredPlays,
    write_reports,
)
from tenant.store.schema import assignments, commands, desired_states, device_status
from tenant.store.upsert import insert_ignore, upsert


class FleetQueries(Database):
    # ------------------------------------------------------------------ from the devices

    def record_reports(self, reports: Sequence[DeviceReport], now_ms: int) -> list[StoredPlays]:
        """Write a group of reports in one transaction, committed when this returns (the
        ingester acknowledges plays only then); one StoredPlays per PlaysReport, in order."""
        with self._write() as conn:
            return write_reports(conn, reports, now_ms)

    def record_status(
        self,
        slug: str,
        device_id: str,
        online: bool,
        reason: str | None,
        boot_id: str | None,
        now_ms: int,
    ) -> None:
        self.record_reports([StatusReport(slug, device_id, online, reason, boot_id)], now_ms)

    def record_heartbeat(self, slug: str, device_id: str, heartbeat: str, now_ms: int) -> None:
        self.record_reports([HeartbeatReport(slug, device_id, heartbeat)], now_ms)

    def record_reported(
        self,
        slug: str,
        device_id: str,
        version: int,
        status: str,
        problem: str | None,
        missing: str | None,
        now_ms: int,
    ) -> None:
        report = StateReport(slug, device_id, version, status, problem, missing)
        self.record_reports([report], now_ms)

    def record_result(
        self,
        slug: str,
        device_id: str,
        request_id: str,
        command: str | None,
        ok: bool,
        error: str | None,
        result: str | None,
        now_ms: int,
    ) -> None:
        """A command's result (a result for a request we never sent is kept too)."""
        report = ResultReport(slug, device_id, request_id, command, ok, error, result)
        self.record_reports([report], now_ms)

    def device_statuses(
        self, slug: str, device_ids: Sequence[str] | None = None
    ) -> dict[str, DeviceStatus]:
        """Every device's status, or only those of `device_ids` (a board page of 100 of 2,000:
        the heartbeats of the others are not read)."""
        query = select(device_status).where(device_status.c.tenant == slug)
        if device_ids is not None:
            query = query.where(device_status.c.device_id.in_(device_ids))
        with self._read() as conn:
            return {row.device_id: record(DeviceStatus, row) for row in conn.execute(query)}

    # ------------------------------------------------------------------ to the devices

    def desired_states(self, slug: str) -> dict[str, DesiredState]:
        query = select(desired_states).where(desired_states.c.tenant == slug)
        with self._read() as conn:
            return {row.device_id: record(DesiredState, row) for row in conn.execute(query)}

    def save_desired(self, slug: str, device_id: str, document: str, now_ms: int) -> int:
        """Store a device's new desired state and return its version (one more than the last)."""
        key = _key(slug, device_id)
        values = {"document": document, "pushed_ms": now_ms}
        with self._write() as conn:
            upsert(
                conn,
                desired_states,
                {**key, **values, "version": 1},
                {**values, "version": desired_states.c.version + 1},
            )
            version: int = conn.execute(
                select(desired_states.c.version).where(
                    desired_states.c.tenant == slug, desired_states.c.device_id == device_id
                )
            ).scalar_one()
        return version

    def add_device_assignments(
        self, slug: str, playlist_ids: Iterable[str], device_ids: Iterable[str]
    ) -> None:
        """Assign playlists to devices, keeping every other assignment they have."""
        rows = [
            {"tenant": slug, "playlist_id": p, "kind": "device", "target": d}
            for p in dict.fromkeys(playlist_ids)
            for d in dict.fromkeys(device_ids)
        ]
        with self._write() as conn:
            insert_ignore(conn, assignments, rows)

    def record_request(
        self, slug: str, device_id: str, request_id: str, command: str, now_ms: int
    ) -> None:
        with self._write() as conn:
            conn.execute(
                commands.insert().values(
                    **_key(slug, device_id),
                    request_id=request_id,
                    command=command,
                    requested_ms=now_ms,
                )
            )

    def get_command(self, slug: str, device_id: str, request_id: str) -> Command | None:
        query = select(commands).where(
            commands.c.tenant == slug,
            commands.c.device_id == device_id,
            commands.c.request_id == request_id,
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(Command, row)


def _key(slug: str, device_id: str) -> dict[str, Any]:
    return {"tenant": slug, "device_id": device_id}
