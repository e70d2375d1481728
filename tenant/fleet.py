"""Remote administration over MQTT: desired states pushed to kiosks, their rollout, commands.

A push assigns playlists to the targeted kiosks (device scope, next to their site's), then
builds each kiosk's complete desired state (docs/protocol.md: the whole state, never a patch),
stores it with a version one higher than the last, and publishes it retained through the
service's broker connection. Settings not named in a push keep their previous value.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from contract.protocol import PayloadError, validate
from tenant.accounts import Staff
from tenant.audit import record_change
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.scope import check_devices, check_sites
from tenant.site_settings import desired_settings
from tenant.store import ACTIVE, DesiredState, Device, DeviceStatus, Tenant
from tenant.timefmt import rfc3339

log = logging.getLogger(__name__)

Json = dict[str, Any]
# What a push may set in a desired state; each stays until a later push changes or clears it.
SETTINGS = (
    "featured", "volume", "opening_hours", "schedule", "language", "autoplay", "idle_timeout_s"
)  # fmt: skip

# How far a kiosk got with its latest desired state.
APPLIED, SYNCING, REJECTED = "applied", "syncing", "rejected"
PENDING, OFFLINE = "pending", "offline"


@dataclass(frozen=True)
class PushRequest:
    devices: Sequence[str] = ()
    sites: Sequence[str] = ()
    all: bool = False
    playlists: Sequence[str] = ()
    settings: Mapping[str, Any] | None = None  # only the settings given (None values clear)


def push(ctx: ServiceContext, tenant: Tenant, request: PushRequest, staff: Staff) -> list[Json]:
    """Assign, build, store and publish; `[{"device_id", "version", "desired"}]`. A curator
    may push only to the kiosks of their sites."""
    settings = dict(request.settings or {})
    _check_settings(settings)
    check_sites(staff, request.sites, "push")
    targets = _targets(ctx, tenant.slug, request)
    check_devices(staff, targets, "push")
    wanted = list(dict.fromkeys(request.playlists))
    if settings.get("featured"):
        wanted.append(settings["featured"])
    wanted += [entry["playlist"] for entry in settings.get("schedule") or ()]
    wanted = list(dict.fromkeys(wanted))
    known = {p.id for p in ctx.store.list_playlists(tenant.slug)}
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise ApiError(422, "unknown_playlist", f"unknown playlist(s): {', '.join(unknown[:10])}")
    if ctx.broker is None:
        raise ApiError(503, "no_broker", "this tenant service has no broker (no broker.json)")
    now_ms = ctx.settings.now_ms()
    previous = ctx.store.desired_states(tenant.slug)
    documents = {}
    for device in targets:
        assigned = ctx.store.playlists_for_device(
            tenant.slug, device.device_id, device.site, now_ms
        )
        playlists = list(dict.fromkeys([p.id for p in assigned] + wanted))
        documents[device.device_id] = desired_document(
            previous.get(device.device_id),
            playlists,
            settings,
            desired_settings(ctx, tenant.slug, device.site),
        )
    ctx.store.add_device_assignments(tenant.slug, wanted, [d.device_id for d in targets])
    pushed = []
    for device_id, document in documents.items():
        version = ctx.store.save_desired(tenant.slug, device_id, json.dumps(document), now_ms)
        record_change(
            ctx, tenant.slug, staff.username, "device.push", "device", device_id,
            before=json.loads(previous[device_id].document) if device_id in previous else None,
            after={**document, "version": version},
        )  # fmt: skip
        payload = {**document, "version": version}
        try:
            ctx.broker.publish_desired(tenant.slug, device_id, payload)
        except Exception as exc:  # the broker's own errors; the state is saved and pushed again
            log.warning(
                "tenant %s: desired state %d of %s not published: %s",
                tenant.slug,
                version,
                device_id,
                exc,
            )
            raise ApiError(
                503,
                "broker_unavailable",
                f"desired state {version} of {device_id} saved but not published: {exc}",
            ) from exc
        pushed.append({"device_id": device_id, "version": version, "desired": payload})
    log.info("tenant %s: desired state pushed to %d kiosk(s)", tenant.slug, len(pushed))
    return pushed


def desired_document(
    previous: DesiredState | None,
    playlists: Sequence[str],
    settings: Mapping[str, Any],
    site: Mapping[str, Any] | None = None,
) -> Json:
    """A device's desired state without its version: `playlists`, the settings given, the
    previous state's other settings, and its site's settings (tenant/site_settings.py)."""
    document: Json = {"v": 1, "playlists": list(playlists)}
    kept = json.loads(previous.document) if previous is not None else {}
    for key in SETTINGS:
        value = settings[key] if key in settings else kept.get(key)
        if value is not None:
            document[key] = value
    if "firmware" in kept:  # a rollout's (tenant/firmware.py): a push keeps it
        document["firmware"] = kept["firmware"]
    document.update(site or {})
    try:
        validate("desired-state", {**document, "version": 1})
    except PayloadError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return document


def _check_settings(settings: Mapping[str, Any]) -> None:
    volume = settings.get("volume")
    if volume is not None and volume["min"] > volume["max"]:
        raise ApiError(422, "invalid_request", "volume: min is above max")


def _targets(ctx: ServiceContext, slug: str, request: PushRequest) -> list[Device]:
    if not (request.all or request.devices or request.sites):
        raise ApiError(422, "invalid_request", "name the devices, the sites, or all")
    active = [d for d in ctx.store.list_devices(slug) if d.status == ACTIVE]
    by_id = {d.device_id: d for d in active}
    unknown = [d for d in request.devices if d not in by_id]
    if unknown:
        raise ApiError(
            422, "unknown_device", f"unknown or inactive device(s): {', '.join(unknown[:10])}"
        )
    sites = set(request.sites)
    chosen = [
        d
        for d in active
        if request.all or d.device_id in request.devices or (d.site is not None and d.site in sites)
    ]
    if not chosen:
        raise ApiError(422, "no_device", "no active device in the sites named")
    return chosen


# ---------------------------------------------------------------------------------- status


def rollout(desired: DesiredState | None, status: DeviceStatus | None) -> str | None:
    """applied, syncing or rejected once the kiosk reported the latest version; else pending
    (online) or offline (offline, or never seen); None when nothing was pushed to it."""
    if desired is None:
        return None
    if (
        status is not None
        and (status.reported_version or 0) >= desired.version
        and status.reported_status in (APPLIED, SYNCING, REJECTED)
    ):
        return status.reported_status
    if status is not None and status.online:
        return PENDING
    return OFFLINE


def status_view(
    device: Device, status: DeviceStatus | None, desired: DesiredState | None, now_ms: int
) -> Json:
    """One kiosk as `GET /admin/status` shows it. A kiosk that is no longer active is offline
    whatever it last said: revoking deletes its broker account, and its retained "online"
    status stays behind (its last will is refused along with the account)."""
    s = status or DeviceStatus(device.tenant, device.device_id)
    if device.status != ACTIVE:
        s = replace(s, online=False, reason=device.status)
    reported = None
    if s.reported_version is not None:
        reported = {
            "version": s.reported_version,
            "status": s.reported_status,
            "problem": s.reported_problem,
            "missing": json.loads(s.reported_missing) if s.reported_missing else [],
        }
    return {
        "device_id": device.device_id,
        "name": device.name,
        "site": device.site,
        "status": device.status,
        "online": s.online,
        "online_since": rfc3339(s.since_ms),
        "offline_reason": None if s.online else s.reason,
        "heartbeat": json.loads(s.heartbeat) if s.heartbeat else None,
        "heartbeat_at": rfc3339(s.heartbeat_ms),
        "heartbeat_age_s": _age(s.heartbeat_ms, now_ms),
        "reported": reported,
        "reported_at": rfc3339(s.reported_ms),
        "reported_age_s": _age(s.reported_ms, now_ms),
        "desired_version": desired.version if desired else None,
        "pushed_at": rfc3339(desired.pushed_ms) if desired else None,
        "rollout": rollout(desired, s),
    }


def fleet_status(ctx: ServiceContext, tenant: Tenant, device_ids: Sequence[str] = ()) -> list[Json]:
    """Every claimed kiosk (or those named), with what the ingester last heard from it."""
    wanted = set(device_ids)
    statuses = ctx.store.device_statuses(tenant.slug)
    desired = ctx.store.desired_states(tenant.slug)
    now_ms = ctx.settings.now_ms()
    return [
        status_view(d, statuses.get(d.device_id), desired.get(d.device_id), now_ms)
        for d in ctx.store.list_devices(tenant.slug)
        if (d.device_id in wanted if wanted else d.status == ACTIVE)
    ]


def _age(then_ms: int | None, now_ms: int) -> float | None:
    return None if then_ms is None else max(0.0, (now_ms - then_ms) / 1000)


# ---------------------------------------------------------------------------------- commands


def send_command(
    ctx: ServiceContext, tenant: Tenant, device_id: str, command: str, args: Json, *, actor: str
) -> Json:
    """Publish one command with a new request id; its result arrives through the ingester."""
    device = ctx.store.get_device(tenant.slug, device_id)
    if device is None or device.status != ACTIVE:
        raise ApiError(404, "not_found", f"no active device {device_id!r}")
    if ctx.broker is None:
        raise ApiError(503, "no_broker", "this tenant service has no broker (no broker.json)")
    request_id = uuid.uuid4().hex
    payload: Json = {"v": 1, "request_id": request_id, "command": command}
    if args:
        payload["args"] = args
    try:
        validate("command-request", payload)
    except PayloadError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    now_ms = ctx.settings.now_ms()
    ctx.store.record_request(tenant.slug, device_id, request_id, command, now_ms)
    record_change(
        ctx, tenant.slug, actor, "device.command", "device", device_id,
        after={"command": command, "args": args, "request_id": request_id},
    )  # fmt: skip
    try:
        ctx.broker.publish_command(tenant.slug, device_id, payload)
    except Exception as exc:
        raise ApiError(503, "broker_unavailable", f"command not published: {exc}") from exc
    log.info("tenant %s: %s sent to %s (%s)", tenant.slug, command, device_id, request_id)
    return command_view(ctx, tenant, device_id, request_id)


def command_view(ctx: ServiceContext, tenant: Tenant, device_id: str, request_id: str) -> Json:
    found = ctx.store.get_command(tenant.slug, device_id, request_id)
    if found is None:
        raise ApiError(404, "not_found", f"no request {request_id!r} for {device_id!r}")
    return {
        "device_id": device_id,
        "request_id": request_id,
        "command": found.command,
        "requested_at": rfc3339(found.requested_ms),
        "done": found.ok is not None,
        "ok": found.ok,
        "error": found.error,
        "result": json.loads(found.result) if found.result else None,
        "result_at": rfc3339(found.result_ms),
    }
