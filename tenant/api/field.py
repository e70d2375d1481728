"""`/v1/admin/*` of field readiness: site settings, enrollment tokens, retiring, alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tenant import alerts, enrollment_tokens, retire, site_settings
from tenant.api.models import ErrorBody
from tenant.api.routers import staff_router
from tenant.audit import record_change
from tenant.auth import Context, CurrentTenant, StaffCaller
from tenant.errors import ApiError
from tenant.store.field import AlertSettings
from tenant.timefmt import OutOfCalendar, parse_rfc3339

router = staff_router("admin")

Json = dict[str, Any]


class SiteSettingsBody(BaseModel):
    site: str | None = Field(default=None, max_length=300, description="None: the network's")
    timezone: Annotated[str | None, Field(max_length=64)] = None
    when_closed: Literal["allow", "refuse"] | None = None
    clear: list[Literal["timezone", "when_closed"]] = Field(default=[], max_length=2)


class EnrollmentTokenBody(BaseModel):
    site: str = Field(min_length=1, max_length=300)
    expires: str | None = Field(default=None, max_length=64, description="RFC 3339 or a date")
    uses: int | None = Field(default=None, ge=1, le=1_000_000)


class AlertSettingsBody(BaseModel):
    webhook_url: str | None = Field(default=None, max_length=1000, pattern=r"^https?://")
    offline_after_s: int | None = Field(default=None, ge=60, le=30 * 86400)


@router.get("/settings/sites")
def get_site_settings(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    """The network's settings (site null) and each site's, with what holds there."""
    return site_settings.settings_view(ctx, tenant)


@router.put("/settings/sites", responses={503: {"model": ErrorBody}})
def put_site_settings(
    body: SiteSettingsBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Set a site's (or the network's) time zone and behaviour when closed; sent at once."""
    changes: dict[str, str | None] = {name: None for name in body.clear}
    if body.timezone is not None:
        changes["timezone"] = body.timezone
    if body.when_closed is not None:
        changes["when_closed"] = body.when_closed
    return site_settings.save(ctx, tenant, body.site, changes, actor=caller.username)


@router.post("/enrollment-tokens", status_code=201)
def create_enrollment_token(
    body: EnrollmentTokenBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """A token that claims kiosks for a site; the token is in this answer only."""
    expires_ms = None
    if body.expires is not None:
        try:
            expires_ms = parse_rfc3339(body.expires)
        except (ValueError, OutOfCalendar) as exc:
            raise ApiError(422, "invalid_request", f"expires: {exc}") from exc
    return enrollment_tokens.create(
        ctx, tenant, body.site, expires_ms=expires_ms, uses=body.uses, actor=caller.username
    )


@router.get("/enrollment-tokens")
def list_enrollment_tokens(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    """Every enrollment token: site, expiry, uses (never the token itself)."""
    return enrollment_tokens.list_tokens(ctx, tenant)


@router.delete("/enrollment-tokens/{token_id}")
def revoke_enrollment_token(
    token_id: str, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """The token claims no more kiosks."""
    return enrollment_tokens.revoke(ctx, tenant, token_id, actor=caller.username)


@router.post("/tracks/{track_id}/retire")
def retire_track(track_id: str, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Take a track off every kiosk at its next sync; its plays stay in reports."""
    return retire.retire_track(ctx, tenant, track_id, staff=caller)


@router.post("/playlists/{playlist_id}/retire", responses={503: {"model": ErrorBody}})
def retire_playlist(
    playlist_id: str, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Take a playlist off every kiosk; its plays stay in reports."""
    return retire.retire_playlist(ctx, tenant, playlist_id, staff=caller)


@router.get("/alerts")
def list_alerts(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    """Kiosks offline too long, with a full outbox, a sync error, no audio or no panel."""
    return alerts.current(ctx, tenant)


@router.get("/alerts/settings")
def get_alert_settings(ctx: Context, tenant: CurrentTenant) -> Json:
    """The webhook alerts go to, and the offline threshold."""
    return alerts.alert_settings_view(ctx, tenant)


@router.put("/alerts/settings")
def put_alert_settings(
    body: AlertSettingsBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Set (null: remove) the webhook, and the offline threshold."""
    before = alerts.alert_settings_view(ctx, tenant)
    settings = AlertSettings(
        tenant.slug, body.webhook_url, body.offline_after_s, ctx.settings.now_ms()
    )
    ctx.store.save_alert_settings(settings)
    after = alerts.alert_settings_view(ctx, tenant)
    record_change(
        ctx, tenant.slug, caller.username, "alerts.settings", "tenant", tenant.slug,
        before=before, after=after,
    )  # fmt: skip
    return after


@router.post("/alerts/check")
def check_alerts(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    """Compare the conditions with the last check and send what started or ended."""
    return alerts.check(ctx, tenant)
