"""`/v1/admin/*` of remote administration: push, status, commands, and plays (admin token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Query

from tenant import fleet
from tenant.api.fleet_models import (
    CommandAnswer,
    CommandBody,
    FleetDevice,
    PlaysAnswer,
    PushAnswer,
    PushBody,
    RulesAnswer,
    RulesBody,
)
from tenant.api.models import ErrorBody
from tenant.api.routers import staff_router
from tenant.audit import record_change
from tenant.auth import Context, CurrentTenant, StaffCaller
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.store import GroupBy, Tenant
from tenant.timefmt import OutOfCalendar, check_ms, parse_rfc3339, rfc3339

router = staff_router("admin")

Json = dict[str, object]
DAY_MS = int(timedelta(days=1).total_seconds() * 1000)


@router.post("/push", response_model=PushAnswer, responses={503: {"model": ErrorBody}})
def push_desired(body: PushBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Assign playlists and settings to kiosks and publish each one's desired state."""
    request = fleet.PushRequest(
        devices=body.devices,
        sites=body.sites,
        all=body.all,
        playlists=body.playlists,
        settings=body.settings(),
    )
    return {"devices": fleet.push(ctx, tenant, request, caller)}


@router.get("/status", response_model=list[FleetDevice])
def fleet_status(
    ctx: Context,
    tenant: CurrentTenant,
    device: Annotated[list[str], Query(description="only these devices (repeatable)")] = [],  # noqa: B006
) -> list[Json]:
    """Every active kiosk (or those named): online, last heartbeat, reported state, rollout."""
    return fleet.fleet_status(ctx, tenant, device)


@router.post(
    "/devices/{device_id}/commands",
    status_code=202,
    response_model=CommandAnswer,
    responses={503: {"model": ErrorBody}},
)
def send_command(
    device_id: str, body: CommandBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Send a command to a kiosk; poll the answer's request for its result."""
    args: dict[str, object] = {}
    if body.seconds is not None:
        args["seconds"] = body.seconds
    if body.lines is not None:
        args["lines"] = body.lines
    return fleet.send_command(ctx, tenant, device_id, body.command, args, actor=caller.username)


@router.get("/devices/{device_id}/commands/{request_id}", response_model=CommandAnswer)
def get_command(device_id: str, request_id: str, ctx: Context, tenant: CurrentTenant) -> Json:
    """A command sent earlier, and its result once the kiosk answered."""
    return fleet.command_view(ctx, tenant, device_id, request_id)


@router.get("/plays", response_model=PlaysAnswer)
def play_counts(
    ctx: Context,
    tenant: CurrentTenant,
    by: GroupBy = "track",
    from_: Annotated[str | None, Query(alias="from", description="a date or time (UTC)")] = None,
    to: Annotated[
        str | None, Query(description="excluded; a date alone means the end of that day")
    ] = None,
) -> Json:
    """Plays per track, artist, site, device or day, with counted streams and time listened."""
    from_ms = _moment(from_, "from")
    to_ms = _moment(to, "to")
    if to is not None and to_ms is not None and len(to.strip()) == 10:
        to_ms = _checked(to_ms + DAY_MS, "to", f"the end of {to.strip()}")  # the whole day named
    counted_s = _counted_stream_s(ctx, tenant)
    groups = ctx.store.play_groups(tenant.slug, by, int(counted_s * 1000), from_ms, to_ms)
    return {
        "by": by,
        "counted_stream_s": counted_s,
        "from": rfc3339(from_ms),
        "to": rfc3339(to_ms),
        "groups": [
            {
                "key": g.key,
                "label": g.label,
                "plays": g.plays,
                "counted": g.counted,
                "listened_ms": g.listened_ms,
                "time_estimated": g.time_estimated,
            }
            for g in groups
        ],
    }


@router.get("/rules", response_model=RulesAnswer)
def get_rules(ctx: Context, tenant: CurrentTenant) -> Json:
    """The tenant's rules for reports: from how long a play counts as a stream."""
    return _rules(ctx, tenant)


@router.put("/rules", response_model=RulesAnswer)
def put_rules(body: RulesBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Set the tenant's own threshold of a counted stream (null: back to the default)."""
    value = body.counted_stream_s
    before = _rules(ctx, tenant)
    ctx.store.set_counted_stream_ms(tenant.slug, None if value is None else round(value * 1000))
    after = _rules(ctx, tenant)
    record_change(
        ctx, tenant.slug, caller.username, "rules.update", "rules", tenant.slug,
        before=before, after=after,
    )  # fmt: skip
    return after


def _counted_stream_s(ctx: ServiceContext, tenant: Tenant) -> float:
    own = ctx.store.counted_stream_ms(tenant.slug)
    return ctx.settings.counted_stream_s if own is None else own / 1000


def _rules(ctx: ServiceContext, tenant: Tenant) -> Json:
    return {
        "counted_stream_s": _counted_stream_s(ctx, tenant),
        "default_counted_stream_s": ctx.settings.counted_stream_s,
        "own": ctx.store.counted_stream_ms(tenant.slug) is not None,
    }


def _moment(text: str | None, name: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_rfc3339(text)
    except OutOfCalendar as exc:
        raise ApiError(422, "invalid_request", f"{name}: {exc}") from exc
    except ValueError as exc:
        raise ApiError(
            422, "invalid_request", f"{name}: expected a date or time like 2026-07-01, not {text!r}"
        ) from exc


def _checked(ms: int, name: str, text: str) -> int:
    try:
        return check_ms(ms, text)
    except OutOfCalendar as exc:
        raise ApiError(422, "invalid_request", f"{name}: {exc}") from exc
