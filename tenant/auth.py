"""Who is calling: the tenant of the path, then a staff token or a device access token.

Both are FastAPI `HTTPBearer` schemes, so the OpenAPI document declares them. Every credential
belongs to one tenant: it is looked up together with the tenant of the path, so a token under
another tenant's path is unknown (401). Staff and device tokens live in different tables, so
neither opens the other's endpoints. Which staff role may call a route is in tenant/roles.py
only: `staff_caller` reads the route table, so handlers state no role themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tenant import accounts
from tenant.accounts import Staff
from tenant.context import ServiceContext
from tenant.credentials import hash_secret
from tenant.errors import ApiError
from tenant.roles import ROUTES, allowed, route_key
from tenant.store import Device, Tenant

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

staff_bearer = HTTPBearer(
    scheme_name="staffToken",
    description="a staff account's API token (`jukebox admin login`, `jukebox admin token`)",
    auto_error=False,
)
device_bearer = HTTPBearer(
    scheme_name="deviceToken",
    description="a device access token from `POST /t/{tenant}/v1/token`",
    auto_error=False,
)
Bearer = HTTPAuthorizationCredentials | None


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


def _token(credentials: Bearer) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _invalid_token("an 'Authorization: Bearer …' header is required")
    return credentials.credentials.strip()


def _invalid_token(description: str) -> ApiError:
    return ApiError(
        401, "invalid_token", description, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def route_of(request: Request) -> str:
    """The route table key of the route this request matched, e.g. "GET /admin/tracks"."""
    route = request.scope.get("route")
    assert isinstance(route, APIRoute), "staff_caller runs only inside a route"
    methods = route.methods or {request.method}
    method = request.method if request.method in methods else sorted(methods)[0]
    return route_key(method, route.path)


def staff_caller(
    request: Request,
    ctx: Context,
    tenant: CurrentTenant,
    credentials: Annotated[Bearer, Depends(staff_bearer)],
) -> Staff:
    """The staff account calling, if its role may call this route (tenant/roles.py)."""
    staff = accounts.staff_for_token(ctx, tenant.slug, _token(credentials))
    if staff is None:
        raise _invalid_token(
            f"not a staff token of tenant {tenant.slug!r}, or expired, revoked, or its "
            "account disabled"
        )
    key = route_of(request)
    if key not in ROUTES:  # create_app refuses to start with such a route; belt and braces
        raise ApiError(403, "forbidden", f"{key} has no declared role")
    if not allowed(key, staff.role):
        raise ApiError(
            403, "forbidden", f"{staff.username} ({staff.role.value}) may not call {key}"
        )
    return staff


StaffCaller = Annotated[Staff, Depends(staff_caller)]
STAFF = Depends(staff_caller)  # for routers: dependencies=[STAFF]


@dataclass(frozen=True)
class DeviceCaller:
    tenant: Tenant
    device: Device


def device_caller(
    ctx: Context, tenant: CurrentTenant, credentials: Annotated[Bearer, Depends(device_bearer)]
) -> DeviceCaller:
    token = _token(credentials)
    now_ms = ctx.settings.now_ms()
    device = ctx.store.device_for_token(tenant.slug, hash_secret(token), now_ms)
    if device is None:
        raise _invalid_token("unknown, expired or revoked access token: get a new one")
    resolution_ms = int(ctx.settings.last_contact_resolution_s * 1000)
    if device.last_contact_ms is None or now_ms - device.last_contact_ms >= resolution_ms:
        ctx.store.touch(tenant.slug, device.device_id, now_ms, resolution_ms)
    return DeviceCaller(tenant, device)


CurrentDevice = Annotated[DeviceCaller, Depends(device_caller)]
