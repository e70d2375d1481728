"""`/v1/admin/firmware/*` (releases, settings, rollouts, status) and the kiosks' bundle
download `/v1/firmware/{sha256}` (device token); tenant/firmware.py does the work."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contract.ids import Sha256, is_sha256
from tenant import firmware
from tenant.api.models import ErrorBody
from tenant.api.routers import ADMIN_PREFIX, staff_router
from tenant.auth import Context, CurrentDevice, CurrentTenant, StaffCaller
from tenant.errors import ApiError
from tenant.firmware_watch import firmware_status, phase_for
from tenant.ranges import media_response
from tenant.store.firmware import FirmwareStore

Json = dict[str, Any]
VERSION = r"^[0-9]{1,9}(?:\.[0-9]{1,9}){0,3}$"
ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

router = staff_router("firmware", prefix=ADMIN_PREFIX + "/firmware", also=(409,))


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FirmwareSettingsBody(Body):
    keyring: str | None = Field(None, description="the release CA in PEM (ca.pem)")
    max_rollback_percent: int | None = Field(None, ge=0, le=100)


class FirmwareReleaseBody(Body):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the bundle, uploaded as media")


class FirmwareRolloutBody(Body):
    version: str = Field(pattern=VERSION)
    sites: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=200)
    devices: list[Annotated[str, Field(pattern=ID)]] = Field(default_factory=list, max_length=1000)
    percent: int | None = Field(None, ge=1, le=100)
    allow_downgrade: bool = False
    resume: bool = Field(False, description="go on with a paused rollout")


@router.get("/settings")
def get_settings(ctx: Context, tenant: CurrentTenant) -> Json:
    """The release keyring, the compatible string bundles must name, the pause rule's share."""
    return firmware.settings_view(FirmwareStore(ctx.store).settings(tenant.slug))


@router.put("/settings")
def put_settings(
    body: FirmwareSettingsBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Set the release keyring and/or the share of rollbacks that pauses a rollout."""
    return firmware.set_settings(
        ctx, tenant, caller.username,
        keyring=body.keyring, max_rollback_percent=body.max_rollback_percent,
    )  # fmt: skip


@router.get("/releases")
def list_releases(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    """The uploaded bundles, oldest first."""
    return [firmware.release_view(r) for r in FirmwareStore(ctx.store).releases(tenant.slug)]


@router.post("/releases", responses={503: {"model": ErrorBody}})
def add_release(
    body: FirmwareReleaseBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Record a bundle uploaded as media, once `rauc info` verified it against the keyring."""
    return firmware.upload(ctx, tenant, body.sha256, caller.username)


@router.post("/rollouts", responses={503: {"model": ErrorBody}})
def start_rollout(
    body: FirmwareRolloutBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Put the version into the targeted kiosks' desired states (published over MQTT)."""
    request = firmware.RolloutRequest(
        version=body.version, sites=body.sites, devices=body.devices, percent=body.percent,
        allow_downgrade=body.allow_downgrade, resume=body.resume,
    )  # fmt: skip
    return firmware.rollout(ctx, tenant, request, caller)


@router.get("/status")
def status(ctx: Context, tenant: CurrentTenant) -> Json:
    """Per kiosk: running version, booted slot, target, phase, progress, result; rollouts."""
    return firmware_status(ctx.store, tenant.slug)


# ---------------------------------------------------------------------------------- device

device_router = APIRouter(
    prefix="/t/{tenant}/v1", tags=["device"], responses={422: {"model": ErrorBody}}
)
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the bundle"},
    206: {"description": "the byte range asked for"},
    304: {"description": "If-None-Match matched"},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody, "description": "not this kiosk's firmware"},
    409: {"model": ErrorBody, "description": "its rollout is paused"},
    416: {"model": ErrorBody},
}


def bundle(
    sha256: Annotated[str, Path(max_length=64)],
    request: Request,
    ctx: Context,
    caller: CurrentDevice,
) -> Response:
    """The bundle this kiosk's desired state names; while its rollout is paused, only to a
    kiosk that had started with it (a paused rollout adds no kiosk)."""
    slug, device_id = caller.tenant.slug, caller.device.device_id
    desired = ctx.store.desired_states(slug).get(device_id)
    entry = json.loads(desired.document).get("firmware") if desired else None
    path = ctx.media.path_for(Sha256(sha256)) if is_sha256(sha256) else None
    if not isinstance(entry, dict) or entry.get("sha256") != sha256 or path is None:
        raise ApiError(404, "not_found", "no such firmware for this device")
    store = FirmwareStore(ctx.store)
    rollout = store.rollout(slug, str(entry.get("version")))
    paused = rollout is not None and rollout.paused_ms is not None
    if paused and phase_for(store.updates(slug).get(device_id), str(entry.get("version"))) is None:
        assert rollout is not None
        raise ApiError(409, "rollout_paused", f"rollout paused: {rollout.paused_reason}")
    return media_response(request, path, sha256)


for _method in ("GET", "HEAD"):
    device_router.add_api_route(
        "/firmware/{sha256}",
        bundle,
        methods=[_method],
        response_class=Response,
        responses=_RESPONSES,
        operation_id=f"{_method.lower()}_firmware",
    )
