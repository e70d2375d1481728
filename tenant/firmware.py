"""Firmware over the air at the tenant: release settings, bundle uploads, rollouts.

A bundle is media (content-addressed by sha256, uploaded like a track's file); `upload`
checks it with the real `rauc info` against the network's release keyring, then records the
release with the compatible string and version RAUC read. A rollout puts the `firmware` entry
into each targeted kiosk's desired state (docs/protocol.md) and publishes it like a push; the
kiosk downloads the bundle from `/v1/firmware/{sha256}` with its access token. Whether a
rollout pauses is tenant/firmware_watch.py's business (it runs in the ingester).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from contract.firmware import compatible_for
from contract.ids import Sha256, is_sha256
from contract.protocol import PayloadError, validate
from tenant.accounts import Staff
from tenant.audit import record_change
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.firmware_rollout import in_percent
from tenant.fleet import desired_document
from tenant.site_settings import desired_settings
from tenant.store import ACTIVE, Device, Tenant
from tenant.store.firmware import FirmwareSettings, FirmwareStore, Release, Rollout

log = logging.getLogger(__name__)

Json = dict[str, Any]
VERSION_RE = re.compile(r"^[0-9]{1,9}(?:\.[0-9]{1,9}){0,3}$")  # desired-state.json's pattern
RAUC_TIMEOUT_S = 600.0  # `rauc info` reads the whole bundle to check its signature
PEM_CERT = "-----BEGIN CERTIFICATE-----"
MAX_KEYRING = 64 * 1024


def firmware_store(ctx: ServiceContext) -> FirmwareStore:
    return FirmwareStore(ctx.store)


def bundle_path(sha256: str) -> str:
    """The device route a kiosk downloads a bundle from (relative to `/t/{tenant}`)."""
    return f"/v1/firmware/{sha256}"


# ---------------------------------------------------------------------------------- settings


def settings_view(settings: FirmwareSettings) -> Json:
    from tenant.firmware_rollout import MAX_ROLLBACK_PERCENT

    own = settings.max_rollback_percent
    return {
        "keyring": settings.keyring,
        "max_rollback_percent": MAX_ROLLBACK_PERCENT if own is None else own,
        "compatible": compatible_for(settings.tenant),
    }


def set_settings(
    ctx: ServiceContext,
    tenant: Tenant,
    actor: str,
    *,
    keyring: str | None = None,
    max_rollback_percent: int | None = None,
) -> Json:
    """Set the release keyring (a CA in PEM) and/or the share of rollbacks that pauses."""
    if keyring is not None and (len(keyring) > MAX_KEYRING or PEM_CERT not in keyring):
        raise ApiError(422, "invalid_request", "keyring: expected a CA certificate in PEM (ca.pem)")
    if max_rollback_percent is not None and not 0 <= max_rollback_percent <= 100:
        raise ApiError(422, "invalid_request", "max_rollback_percent: expected 0 to 100")
    store = firmware_store(ctx)
    before = store.settings(tenant.slug)
    after = replace(
        before,
        keyring=keyring if keyring is not None else before.keyring,
        max_rollback_percent=(
            max_rollback_percent if max_rollback_percent is not None
            else before.max_rollback_percent
        ),
        updated_ms=ctx.settings.now_ms(),
    )  # fmt: skip
    store.save_settings(after)
    record_change(
        ctx, tenant.slug, actor, "firmware.settings", "firmware", tenant.slug,
        before=settings_view(before), after=settings_view(after),
    )  # fmt: skip
    return settings_view(after)


# ---------------------------------------------------------------------------------- upload


@dataclass(frozen=True)
class BundleInfo:
    compatible: str
    version: str


def inspect_bundle(bundle: Path, keyring_pem: str) -> BundleInfo:
    """`rauc info` against the keyring: ApiError 422 names what is wrong with the bundle."""
    rauc = shutil.which("rauc")
    if rauc is None:
        raise ApiError(503, "no_rauc", "this tenant service cannot check bundles: install rauc")
    with tempfile.TemporaryDirectory(prefix="jukebox-keyring-") as folder:
        keyring = Path(folder) / "keyring.pem"
        keyring.write_text(keyring_pem)
        command = [rauc, "info", "--keyring", str(keyring), "--output-format=json", str(bundle)]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=RAUC_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ApiError(503, "no_rauc", f"rauc info could not run: {exc}") from exc
    if result.returncode != 0:
        words = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        why = " / ".join(words[-2:]) or f"exit {result.returncode}"
        raise ApiError(422, "bundle_refused", f"bundle refused by rauc info: {why}")
    try:
        data = json.loads(result.stdout)
        return BundleInfo(str(data["compatible"]), str(data["version"]))
    except (ValueError, KeyError, TypeError) as exc:
        problem = f"rauc info named no compatible and version: {exc}"
        raise ApiError(422, "bundle_refused", problem) from None


def upload(ctx: ServiceContext, tenant: Tenant, sha256: str, actor: str) -> Json:
    """Record an uploaded bundle (already media) as a release, once it passed `rauc info`."""
    if not is_sha256(sha256):
        raise ApiError(422, "invalid_request", "sha256: expected 64 lowercase hex digits")
    size = ctx.store.media_size(tenant.slug, sha256)
    path = ctx.media.path_for(Sha256(sha256))
    if size is None or path is None:
        raise ApiError(422, "unknown_media", f"upload the bundle {sha256} as media first")
    store = firmware_store(ctx)
    keyring = store.settings(tenant.slug).keyring
    if keyring is None:
        raise ApiError(
            409, "no_keyring",
            "no release keyring: `jukebox admin firmware keyring ca.pem` (image-build/release-key)",
        )  # fmt: skip
    info = inspect_bundle(path, keyring)
    expected = compatible_for(tenant.slug)
    if info.compatible != expected:
        raise ApiError(
            422, "bundle_refused",
            f"bundle is for {info.compatible!r}, this network's kiosks are {expected!r}",
        )  # fmt: skip
    if not VERSION_RE.match(info.version):
        raise ApiError(
            422, "bundle_refused", f"version {info.version!r}: expected numbers and dots"
        )
    known = store.release(tenant.slug, info.version)
    if known is not None:
        if known.sha256 == sha256:
            return release_view(known) | {"created": False}
        raise ApiError(
            409, "version_taken",
            f"version {info.version} is already bundle {known.sha256[:12]}…: "
            "build the new bundle with a new version",
        )  # fmt: skip
    release = Release(
        tenant.slug, info.version, sha256, size, info.compatible, actor, ctx.settings.now_ms()
    )
    store.add_release(release)
    record_change(
        ctx, tenant.slug, actor, "firmware.upload", "firmware", info.version,
        after=release_view(release),
    )  # fmt: skip
    return release_view(release) | {"created": True}


def release_view(release: Release) -> Json:
    from tenant.timefmt import rfc3339

    return {
        "version": release.version,
        "sha256": release.sha256,
        "size": release.size,
        "compatible": release.compatible,
        "uploaded_by": release.uploaded_by,
        "uploaded_at": rfc3339(release.uploaded_ms),
    }


# ---------------------------------------------------------------------------------- rollout


@dataclass(frozen=True)
class RolloutRequest:
    version: str
    sites: Sequence[str] = ()
    devices: Sequence[str] = ()
    percent: int | None = None
    allow_downgrade: bool = False
    resume: bool = False


def rollout(ctx: ServiceContext, tenant: Tenant, request: RolloutRequest, staff: Staff) -> Json:
    """Give the targeted kiosks the firmware entry (those that have it already are left
    alone); a paused rollout adds no kiosk unless resumed."""
    chosen = sum(bool(x) for x in (request.sites, request.devices, request.percent is not None))
    if chosen != 1:
        raise ApiError(422, "invalid_request", "name exactly one of: sites, devices, percent")
    if request.percent is not None and not 0 < request.percent <= 100:
        raise ApiError(422, "invalid_request", "percent: expected 1 to 100")
    store = firmware_store(ctx)
    release = store.release(tenant.slug, request.version)
    if release is None:
        raise ApiError(
            404, "unknown_release",
            f"no release {request.version}: `jukebox admin firmware upload BUNDLE` first",
        )  # fmt: skip
    if ctx.broker is None:
        raise ApiError(503, "no_broker", "this tenant service has no broker (no broker.json)")
    now_ms = ctx.settings.now_ms()
    existing = store.rollout(tenant.slug, request.version)
    if existing is not None and existing.paused_ms is not None and not request.resume:
        raise ApiError(
            409, "rollout_paused",
            f"rollout of {request.version} is paused ({existing.paused_reason}): "
            "look at `jukebox admin firmware status`, then --resume to go on",
        )  # fmt: skip
    targets = _targets(ctx, tenant.slug, request)
    previous = ctx.store.desired_states(tenant.slug)
    entry: Json = {
        "version": release.version,
        "path": bundle_path(release.sha256),
        "sha256": release.sha256,
        "size": release.size,
    }
    if request.allow_downgrade:
        entry["allow_downgrade"] = True
    scope = {"sites": list(request.sites), "devices": list(request.devices),
             "percent": request.percent, "by": staff.username, "at_ms": now_ms}  # fmt: skip
    record = Rollout(
        tenant.slug, release.version,
        json.dumps([*(json.loads(existing.scope) if existing else []), scope]),
        request.allow_downgrade or bool(existing and existing.allow_downgrade),
        existing.started_by if existing else staff.username,
        existing.started_ms if existing else now_ms,
        now_ms, None, None,
    )  # fmt: skip
    store.save_rollout(record)
    added, already = [], []
    for device in targets:
        before = previous.get(device.device_id)
        kept = json.loads(before.document) if before is not None else None
        if kept is not None and kept.get("firmware") == entry:
            already.append(device.device_id)
            continue
        if kept is None:
            assigned = ctx.store.playlists_for_device(
                tenant.slug, device.device_id, device.site, now_ms
            )
            site = desired_settings(ctx, tenant.slug, device.site)
            kept = desired_document(None, [p.id for p in assigned], {}, site)
        document = {**kept, "firmware": entry}
        try:
            validate("desired-state", {**document, "version": 1})
        except PayloadError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from exc
        device_id = device.device_id
        version = ctx.store.save_desired(tenant.slug, device_id, json.dumps(document), now_ms)
        added.append(device_id)
        try:
            ctx.broker.publish_desired(tenant.slug, device_id, {**document, "version": version})
        except Exception as exc:  # the broker's own errors; saved, published again next time
            raise ApiError(
                503, "broker_unavailable",
                f"desired state {version} of {device.device_id} saved but not published: {exc}",
            ) from exc  # fmt: skip
    record_change(
        ctx, tenant.slug, staff.username,
        "firmware.resume" if existing and existing.paused_ms else "firmware.rollout",
        "firmware", release.version,
        before={"paused": existing.paused_reason} if existing and existing.paused_ms else None,
        after={**scope, "allow_downgrade": request.allow_downgrade, "added": added},
    )  # fmt: skip
    log.info(
        "tenant %s: firmware %s rolled out to %d more kiosk(s)",
        tenant.slug, release.version, len(added),
    )  # fmt: skip
    return {"version": release.version, "added": added, "already": already}


def _targets(ctx: ServiceContext, slug: str, request: RolloutRequest) -> list[Device]:
    active = [d for d in ctx.store.list_devices(slug) if d.status == ACTIVE]
    if request.devices:
        by_id = {d.device_id: d for d in active}
        unknown = [d for d in request.devices if d not in by_id]
        if unknown:
            raise ApiError(
                422, "unknown_device", f"unknown or inactive device(s): {', '.join(unknown[:10])}"
            )
        return [by_id[d] for d in dict.fromkeys(request.devices)]
    if request.sites:
        sites = set(request.sites)
        chosen = [d for d in active if d.site is not None and d.site in sites]
        if not chosen:
            raise ApiError(422, "no_device", "no active device in the sites named")
        return chosen
    percent = request.percent or 0
    return [d for d in active if in_percent(d.device_id, request.version, percent)]
