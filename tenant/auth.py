"""Who is calling: the tenant of the path, then an admin token or a device access token.

Every credential belongs to one tenant: it is looked up together with the tenant of the path,
so a token under another tenant's path is unknown (401), and admin and device tokens live in
different tables, so neither opens the other's endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from tenant.context import ServiceContext
from tenant.credentials import hash_secret
from tenant.errors import ApiError
from tenant.store import Device, Tenant

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


def context_of(request: Request) -> ServiceContext:
    ctx = request.app.state.context
    assert isinstance(ctx, ServiceContext)
    return ctx


Context = Annotated[ServiceContext, Depends(context_of)]


def current_tenant(
    ctx: Context,
    tenant: Annotated[str, Path(pattern=SLUG_PATTERN, description="the tenant's slug")],
) -> Tenant:
    found = ctx.store.get_tenant(tenant)
    if found is None:
        raise ApiError(404, "unknown_tenant", f"there is no tenant {tenant!r} here")
    return found


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _invalid_token("an 'Authorization: Bearer …' header is required")
    return token


def _invalid_token(description: str) -> ApiError:
    return ApiError(
        401, "invalid_token", description, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def admin_tenant(request: Request, ctx: Context, tenant: CurrentTenant) -> Tenant:
    token = bearer_token(request)
    if not ctx.store.is_admin_token(tenant.slug, hash_secret(token)):
        raise _invalid_token(f"not an admin token of tenant {tenant.slug!r}")
    return tenant


@dataclass(frozen=True)
class DeviceCaller:
    tenant: Tenant
    device: Device


def device_caller(request: Request, ctx: Context, tenant: CurrentTenant) -> DeviceCaller:
    token = bearer_token(request)
    now_ms = ctx.settings.now_ms()
    device = ctx.store.device_for_token(tenant.slug, hash_secret(token), now_ms)
    if device is None:
        raise _invalid_token("unknown, expired or revoked access token: get a new one")
    resolution_ms = int(ctx.settings.last_contact_resolution_s * 1000)
    if device.last_contact_ms is None or now_ms - device.last_contact_ms >= resolution_ms:
        ctx.store.touch(tenant.slug, device.device_id, now_ms, resolution_ms)
    return DeviceCaller(tenant, device)


AdminTenant = Annotated[Tenant, Depends(admin_tenant)]
CurrentDevice = Annotated[DeviceCaller, Depends(device_caller)]
