"""Staff accounts over HTTP: `POST /v1/login`, one's own tokens, accounts and the audit log.

Who may call what is in tenant/roles.py; a network administrator sees and revokes every
token, other roles only their own.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tenant import accounts
from tenant.accounts import AccountError, LastAdminError, LoginLimiter, Staff
from tenant.api.models import ErrorBody
from tenant.api.routers import staff_router
from tenant.auth import Context, CurrentTenant, StaffCaller
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.roles import Role
from tenant.store import AuditEntry
from tenant.timefmt import parse_rfc3339, rfc3339

Json = dict[str, object]
DAY_S = 86400
DEFAULT_LOGIN_DAYS = 90

public = APIRouter(prefix="/t/{tenant}/v1", tags=["staff"], responses={422: {"model": ErrorBody}})
router = staff_router("staff")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    token_name: str = Field(default="jukebox admin login", min_length=1, max_length=100)
    expires_in_days: float | None = Field(default=DEFAULT_LOGIN_DAYS, gt=0, le=3650)


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    role: Role
    sites: list[str] = Field(default_factory=list, max_length=1000)
    password: str = Field(min_length=1, max_length=1000)


class UserUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    sites: list[str] | None = Field(default=None, max_length=1000)
    disabled: bool | None = None


class TokenAnswer(BaseModel):
    token_id: str
    username: str
    name: str
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class NewTokenAnswer(TokenAnswer):
    token: str
    role: str


class UserAnswer(BaseModel):
    username: str
    role: str
    sites: list[str]
    disabled: bool
    has_password: bool


class MeAnswer(BaseModel):
    username: str
    role: str
    sites: list[str]
    token_id: str


class AuditAnswer(BaseModel):
    id: int | None
    at: str | None
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None


def _token_json(view: dict[str, object]) -> Json:
    times = {k: rfc3339(v) for k, v in view.items() if k.endswith("_ms") and isinstance(v, int)}
    return {
        "token_id": view["token_id"],
        "username": view["username"],
        "name": view["name"],
        "created_at": times.get("created_ms"),
        "expires_at": times.get("expires_ms"),
        "revoked_at": times.get("revoked_ms"),
        "last_used_at": times.get("last_used_ms"),
    }


def limiter_of(request: Request) -> LoginLimiter:
    found = request.app.state.logins
    assert isinstance(found, LoginLimiter)
    return found


@public.post(
    "/login",
    status_code=201,
    response_model=NewTokenAnswer,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
def login(body: LoginBody, request: Request, ctx: Context, tenant: CurrentTenant) -> JSONResponse:
    """A staff account's username and password for a new API token (shown only now)."""
    address = request.client.host if request.client else "unknown"
    expires = None if body.expires_in_days is None else body.expires_in_days * DAY_S
    token, record, user = accounts.login(
        ctx, limiter_of(request), tenant.slug, body.username, body.password, address,
        body.token_name, expires,
    )  # fmt: skip
    answer = {**_token_json(accounts.token_view(record)), "token": token, "role": user.role}
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/me", response_model=MeAnswer)
def whoami(caller: StaffCaller) -> Json:
    """The account and token of this call."""
    return {
        "username": caller.username,
        "role": caller.role.value,
        "sites": list(caller.sites),
        "token_id": caller.token_id,
    }


@router.get("/tokens", response_model=list[TokenAnswer])
def list_tokens(ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> list[Json]:
    """One's own tokens; a network administrator's listing holds every account's."""
    username = None if caller.role is Role.NETWORK_ADMIN else caller.username
    return [
        _token_json(accounts.token_view(t))
        for t in ctx.store.list_staff_tokens(tenant.slug, username)
    ]


@router.post("/tokens", status_code=201, response_model=NewTokenAnswer)
def create_token(
    body: TokenBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> JSONResponse:
    """A new named token for one's own account, for a script (shown only now)."""
    expires = None if body.expires_in_days is None else body.expires_in_days * DAY_S
    try:
        token, record = accounts.issue_token(
            ctx, tenant.slug, caller.username, caller.username, body.name, expires
        )
    except AccountError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    answer = {**_token_json(accounts.token_view(record)), "token": token, "role": caller.role}
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store"})


@router.delete("/tokens/{token_id}", response_model=TokenAnswer)
def revoke_token(token_id: str, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Revoke a token (one's own; a network administrator any): it stops working at once."""
    found = ctx.store.get_staff_token(tenant.slug, token_id)
    mine = found is not None and found.username == caller.username
    if found is None or not (mine or caller.role is Role.NETWORK_ADMIN):
        raise ApiError(404, "not_found", f"no token {token_id!r} of yours")
    accounts.revoke_token(ctx, tenant.slug, caller.username, token_id)
    revoked = ctx.store.get_staff_token(tenant.slug, token_id)
    assert revoked is not None
    return _token_json(accounts.token_view(revoked))


@router.get("/users", response_model=list[UserAnswer])
def list_users(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    return [accounts.user_view(u) for u in ctx.store.list_users(tenant.slug)]


@router.post("/users", status_code=201, response_model=UserAnswer)
def add_user(body: UserBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Create a staff account with a first password."""
    try:
        user = accounts.add_user(
            ctx, tenant.slug, caller.username, body.username, body.role, body.sites, body.password
        )
    except AccountError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return accounts.user_view(user)


@router.patch("/users/{username}", response_model=UserAnswer, responses={409: {"model": ErrorBody}})
def update_user(
    username: str, body: UserUpdateBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Change an account's role or sites, or disable it (its tokens stop at once); the last
    enabled network administrator can be neither disabled nor given another role (409)."""
    try:
        user = accounts.update_user(
            ctx, tenant.slug, caller.username, username, role=body.role, sites=body.sites,
            disabled=body.disabled,
        )  # fmt: skip
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except LastAdminError as exc:
        raise ApiError(409, "last_admin", str(exc)) from exc
    except AccountError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return accounts.user_view(user)


@router.get("/audit", response_model=list[AuditAnswer])
def read_audit(
    ctx: Context,
    tenant: CurrentTenant,
    since: Annotated[str | None, Query(description="a date or time (UTC)")] = None,
    user: Annotated[str | None, Query(description="only this actor")] = None,
    object: Annotated[str | None, Query(description="TYPE or TYPE:ID, e.g. device:jk-…")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[Json]:
    """The audit log, oldest first (the newest `limit` entries that match)."""
    return [_audit_json(e) for e in _audit(ctx, tenant.slug, since, user, object, limit)]


def _audit(
    ctx: ServiceContext, slug: str, since: str | None, user: str | None, obj: str | None,
    limit: int,
) -> list[AuditEntry]:  # fmt: skip
    since_ms = None
    if since:
        try:
            since_ms = parse_rfc3339(since)
        except ValueError as exc:
            raise ApiError(
                422, "invalid_request", f"since: expected a date or time, not {since!r}"
            ) from exc
    object_type, object_id = None, None
    if obj:
        object_type, _, rest = obj.partition(":")
        object_id = rest or None
    return list(
        ctx.store.audit_entries(
            slug,
            since_ms=since_ms,
            actor=user,
            object_type=object_type,
            object_id=object_id,
            limit=limit,
        )
    )


def _audit_json(entry: AuditEntry) -> Json:
    return {
        "id": entry.id,
        "at": rfc3339(entry.at_ms),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": None if entry.before is None else json.loads(entry.before),
        "after": None if entry.after is None else json.loads(entry.after),
    }


__all__ = ["Staff", "public", "router"]
