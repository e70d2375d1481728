"""What the kiosks say about their firmware, and the rollout pause rule applied to it.

The ingester hands every `update` object it reads (reported state or heartbeat) to
`UpdateWatch.note` after its group is committed: they are stored (firmware_reports), and
when one says a kiosk rolled back or refused a version being rolled out, that rollout is
judged by tenant/firmware_rollout.py's rule over all of its kiosks and paused, with an
audit row, if too many failed. `firmware_status` is what `jukebox admin firmware status`
shows. Both read a kiosk's rollout from its desired state's `firmware` entry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tenant.firmware_rollout import FAILED_PHASES, MAX_ROLLBACK_PERCENT, pause_verdict, tally
from tenant.store import ACTIVE, AuditEntry, DesiredState, TenantStore
from tenant.store.firmware import FirmwareStore, Rollout, UpdateReport
from tenant.timefmt import rfc3339

log = logging.getLogger(__name__)

Json = dict[str, Any]
RULE_ACTOR = "server:rollout-rule"  # who pauses a rollout in the audit log


def targets(desired: Mapping[str, DesiredState]) -> dict[str, str]:
    """device id → the firmware version its desired state names."""
    found = {}
    for device_id, state in desired.items():
        entry = json.loads(state.document).get("firmware")
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            found[device_id] = entry["version"]
    return found


def phase_for(report: UpdateReport | None, version: str) -> str | None:
    """The kiosk's phase for this version (None: nothing reported about it yet)."""
    if report is None or report.report.get("target") != version:
        return None
    phase = report.report.get("phase")
    return phase if isinstance(phase, str) else None


def judge(
    firmware: FirmwareStore, store: TenantStore, slug: str, version: str, now_ms: int
) -> str | None:
    """Pause `version`'s rollout if the rule says so; the reason when this call paused it."""
    rollout = firmware.rollout(slug, version)
    if rollout is None or rollout.paused_ms is not None:
        return None
    kiosks = [d for d, v in targets(store.desired_states(slug)).items() if v == version]
    reports = firmware.updates(slug)
    counts = tally(phase_for(reports.get(d), version) for d in kiosks)
    limit = firmware.settings(slug).max_rollback_percent
    verdict = pause_verdict(counts, MAX_ROLLBACK_PERCENT if limit is None else limit)
    if not verdict.pause or not firmware.pause(slug, version, verdict.reason, now_ms):
        return None
    after = json.dumps({"reason": verdict.reason})
    entry = AuditEntry(slug, now_ms, RULE_ACTOR, "firmware.pause", "firmware", version, None, after)
    store.append_audit(entry)
    log.warning("tenant %s: firmware %s: %s", slug, version, verdict.reason)
    return verdict.reason


class UpdateWatch:
    """The ingester's side: store the kiosks' `update` reports, pause rollouts going bad."""

    def __init__(self, store: TenantStore) -> None:
        self.store = store
        self.firmware = FirmwareStore(store)

    def note(self, reports: Sequence[UpdateReport], now_ms: int) -> None:
        """Never raises: a failure here must not hold back the ingester (logged)."""
        if not reports:
            return
        try:
            self.firmware.record_updates(reports)
            failed = {
                (r.tenant, r.report["target"])
                for r in reports
                if r.report.get("phase") in FAILED_PHASES
                and isinstance(r.report.get("target"), str)
            }
            for slug, version in sorted(failed):
                judge(self.firmware, self.store, slug, version, now_ms)
        except Exception:
            log.exception("could not store or judge %d firmware update report(s)", len(reports))


# ---------------------------------------------------------------------------------- status


def rollout_view(
    rollout: Rollout, kiosks: Sequence[str], reports: Mapping[str, UpdateReport]
) -> Json:
    counts = tally(phase_for(reports.get(d), rollout.version) for d in kiosks)
    return {
        "version": rollout.version,
        "scope": json.loads(rollout.scope),
        "allow_downgrade": rollout.allow_downgrade,
        "started_by": rollout.started_by,
        "started_at": rfc3339(rollout.started_ms),
        "paused": rollout.paused_ms is not None,
        "paused_at": rfc3339(rollout.paused_ms),
        "paused_reason": rollout.paused_reason,
        "kiosks": len(kiosks),
        "committed": counts.committed,
        "failed": counts.failed,
        "pending": counts.pending,
    }


def running_version(update: Json, heartbeat: Json | None) -> str | None:
    """The booted slot's bundle version, else the version the kiosk's package says."""
    for slot in update.get("slots") or ():
        booted = isinstance(slot, dict) and slot.get("name") == update.get("booted")
        if booted and isinstance(slot.get("version"), str):
            return str(slot["version"])
    version = (heartbeat or {}).get("firmware_version")
    return version if isinstance(version, str) else None


def firmware_status(store: TenantStore, slug: str) -> Json:
    """Every active kiosk's firmware (running, booted slot, target, phase, result) and every
    rollout with its tally."""
    firmware = FirmwareStore(store)
    desired = store.desired_states(slug)
    wanted = targets(desired)
    reports = firmware.updates(slug)
    statuses = store.device_statuses(slug)
    devices = []
    for device in store.list_devices(slug):
        if device.status != ACTIVE:
            continue
        report = reports.get(device.device_id)
        update = report.report if report else {}
        status = statuses.get(device.device_id)
        heartbeat = json.loads(status.heartbeat) if status and status.heartbeat else None
        target = wanted.get(device.device_id)
        devices.append(
            {
                "device_id": device.device_id,
                "name": device.name,
                "site": device.site,
                "online": status.online if status else None,
                "running": running_version(update, heartbeat),
                "booted": update.get("booted"),
                "slots": update.get("slots") or [],
                "target": target,
                "phase": update.get("phase"),
                "update_target": update.get("target"),
                "progress": update.get("progress"),
                "result": update.get("result"),
                "reported_at": rfc3339(report.reported_ms) if report else None,
            }
        )
    rollouts = [
        rollout_view(r, [d for d, v in wanted.items() if v == r.version], reports)
        for r in firmware.rollouts(slug)
    ]
    return {"rollouts": rollouts, "devices": devices}
