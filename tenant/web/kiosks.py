"""Sign-in, sign-out and the kiosks board: live status, claim, rename, move, revoke, commands.

Every action calls what the API calls (enrollment.claim/revoke, the device update handler,
fleet.send_command), so the role checks and audit rows are the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tenant import accounts, enrollment, fleet
from tenant.api import admin
from tenant.api.fleet_models import CommandBody
from tenant.api.models import DeviceUpdateBody
from tenant.auth import Context, CurrentTenant
from tenant.errors import ApiError
from tenant.roles import Role
from tenant.store import ACTIVE, Tenant
from tenant.timefmt import parse_rfc3339
from tenant.web.forms import form_of, problem_of
from tenant.web.profile import language_at_sign_in
from tenant.web.render import menu_for, page
from tenant.web.session import (
    COOKIE,
    SESSION_S,
    SESSION_TOKEN_NAME,
    Caller,
    Console,
    console_path,
    is_tls,
)

router = APIRouter(
    prefix="/t/{tenant}/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
COMMANDS = ("identify", "resync", "reboot", "diagnostics")
DeviceId = Annotated[str, Path(max_length=100)]


# ---------------------------------------------------------------------------------- sign-in


@router.get("/signin")
def signin_page(request: Request, tenant: CurrentTenant, next: str = "") -> HTMLResponse:
    """The sign-in form."""
    return page(request, "signin.html", None, tenant.slug, next=_safe_next(tenant, next))


@router.post("/signin")
async def signin(request: Request, ctx: Context, tenant: CurrentTenant) -> Response:
    """Check the password with `accounts.login` (the API's rate limits and audit rows) and
    keep the session's token in an HttpOnly cookie."""
    form = await form_of(request)
    username, password = form.get("username", ""), form.get("password", "")
    next_path = _safe_next(tenant, form.get("next", ""))
    address = request.client.host if request.client else "unknown"
    try:
        token, _record, user = accounts.login(
            ctx, request.app.state.logins, tenant.slug, username[:64], password[:1000],
            address, SESSION_TOKEN_NAME, SESSION_S,
        )  # fmt: skip
    except ApiError as exc:
        return page(
            request, "signin.html", None, tenant.slug, status=exc.status, next=next_path,
            error=exc.description, username=username[:64],
        )  # fmt: skip
    response = RedirectResponse(next_path or console_path(tenant.slug), status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=SESSION_S, path=console_path(tenant.slug), httponly=True,
        samesite="lax", secure=is_tls(request),
    )  # fmt: skip
    language_at_sign_in(request, response, tenant.slug, user)
    return response


@router.post("/signout")
def signout(ctx: Context, tenant: CurrentTenant, console: Caller) -> Response:
    """End the session: its token is revoked (an audit row), the cookie forgotten."""
    if console.by_cookie:
        accounts.revoke_token(ctx, tenant.slug, console.staff.username, console.staff.token_id)
    response = RedirectResponse(console_path(tenant.slug, "signin"), status_code=303)
    response.delete_cookie(COOKIE, path=console_path(tenant.slug))
    return response


@router.get("/")
def home(tenant: CurrentTenant, console: Caller) -> Response:
    """The first page the role may open."""
    first = menu_for(console.staff.role)
    return RedirectResponse(console_path(tenant.slug, first[0][0] if first else "signin"), 303)


def _safe_next(tenant: Tenant, next_path: str) -> str:
    """Only a page of this tenant's console (no open redirect)."""
    base = console_path(tenant.slug)
    ok = next_path.startswith(base) and "//" not in next_path and "\\" not in next_path
    return next_path if ok else ""


# ---------------------------------------------------------------------------------- board


PAGE_SIZE = 100  # kiosks per board page: 2,000 rows rendered every 3 s took 650 ms


@dataclass(frozen=True)
class Board:
    """One page of the board: its rows, and what the pager and site filter need."""

    rows: list[dict[str, Any]]
    site: str
    page: int
    pages: int
    total: int
    sites: list[str]

    @property
    def query(self) -> str:
        """This page's query string, for the live refresh and the pager."""
        return "?" + urlencode({"site": self.site, "page": self.page})


def visible_kiosks(
    ctx: Context, tenant: Tenant, console: Console, site: str = "", page_no: int = 1
) -> Board:
    """A page of the board's rows: the active kiosks (a curator's sites only, one site if
    asked), sorted by site and name; the statuses of that page alone are turned into rows
    (three queries whatever the number of kiosks, none per kiosk)."""
    kiosks = [d for d in ctx.store.list_devices(tenant.slug) if d.status == ACTIVE]
    if console.staff.role is Role.CURATOR:
        kiosks = [d for d in kiosks if d.site in console.staff.sites]
    sites = sorted({d.site or "" for d in kiosks})
    if site:
        kiosks = [d for d in kiosks if (d.site or "") == site]
    kiosks.sort(key=lambda d: (d.site or "", d.name or "", d.device_id))
    pages = max(1, -(-len(kiosks) // PAGE_SIZE))
    page_no = min(max(1, page_no), pages)
    shown = kiosks[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    # fleet.fleet_status's views, from the devices listed above (it would list them again)
    statuses = ctx.store.device_statuses(tenant.slug, [d.device_id for d in shown])
    desired = ctx.store.desired_states(tenant.slug)
    now_ms = ctx.settings.now_ms()
    views = [
        fleet.status_view(d, statuses.get(d.device_id), desired.get(d.device_id), now_ms)
        for d in shown
    ]
    return Board([_board_row(v) for v in views], site, page_no, pages, len(kiosks), sites)


def _ms(text: Any) -> int | None:
    return parse_rfc3339(text) if isinstance(text, str) else None


def _board_row(view: dict[str, Any]) -> dict[str, Any]:
    beat = view["heartbeat"] or {}
    reported = view["reported"] or {}
    problems = []
    if not view["online"] and view["offline_reason"]:
        problems.append(str(view["offline_reason"]))
    if reported.get("problem"):
        problems.append(str(reported["problem"]))
    if reported.get("missing"):
        problems.append("missing: " + ", ".join(map(str, reported["missing"][:5])))
    if beat.get("undervoltage"):
        problems.append("undervoltage")
    content = beat.get("content") or {}
    if content.get("sync") and content.get("sync") not in ("ok", "idle", "synced", "complete"):
        problems.append("sync: " + str(content["sync"]))
    update = beat.get("update") or {}
    if update.get("phase") in ("failed", "rolled_back", "refused"):
        problems.append(f"update {update['phase']}: {update.get('result') or ''}".strip())
    playing = beat.get("playing") or None
    return {
        "device_id": view["device_id"],
        "name": view["name"] or view["device_id"],
        "site": view["site"] or "",
        "online": bool(view["online"]),
        "seen": view["online_since"] is not None or view["heartbeat_at"] is not None,
        "since_ms": _ms(view["online_since"]),
        "playing": playing,
        "volume": beat.get("volume"),
        "content": content,
        "firmware": beat.get("firmware_version"),
        "outbox": beat.get("outbox"),
        "heartbeat_ms": _ms(view["heartbeat_at"]),
        "rollout": view["rollout"],
        "desired_version": view["desired_version"],
        "problems": problems,
    }


Site = Annotated[str, Query(max_length=300)]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]


@router.get("/kiosks")
def kiosks_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller, site: Site = "",
    page_no: PageNo = 1,
) -> HTMLResponse:  # fmt: skip
    """The live board, and for technicians the claim box and each kiosk's actions."""
    return _kiosks(request, ctx, tenant, console, site=site, page_no=page_no)


def _kiosks(
    request: Request, ctx: Context, tenant: Tenant, console: Console, *, status: int = 200,
    error: str | None = None, notice: str | None = None, site: str = "", page_no: int = 1,
) -> HTMLResponse:  # fmt: skip
    board = visible_kiosks(ctx, tenant, console, site, page_no)
    return page(
        request, "kiosks.html", console, tenant.slug, status=status, error=error, notice=notice,
        rows=board.rows, board=board, commands=COMMANDS,
        manage=console.staff.role in (Role.TECHNICIAN, Role.NETWORK_ADMIN),
    )  # fmt: skip


@router.get("/kiosks/board")
def board_rows(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller, site: Site = "",
    page_no: PageNo = 1,
) -> HTMLResponse:  # fmt: skip
    """The board's rows alone (the same page and site), fetched every few seconds by
    console.js."""
    board = visible_kiosks(ctx, tenant, console, site, page_no)
    return page(request, "board.html", console, tenant.slug, rows=board.rows)


@router.post("/kiosks/claim")
async def claim(request: Request, ctx: Context, tenant: CurrentTenant, console: Caller) -> Response:
    """Claim the kiosk showing this code for a site (enrollment.claim, as the API)."""
    form = await form_of(request)
    code, site, name = form.get("code", ""), form.get("site", ""), form.get("name", "")
    if not code or not site or len(site) > 300 or len(code) > 32 or len(name) > 300:
        return _kiosks(request, ctx, tenant, console, status=422,
                       error="claim: give the code shown on the kiosk and its site")  # fmt: skip
    try:
        enrollment.claim(ctx, tenant, code, site, name or None, actor=console.staff.username)
    except ApiError as exc:
        return _kiosks(request, ctx, tenant, console, status=exc.status, error=exc.description)
    return _done(tenant, "kiosks", "Claimed.")


@router.post("/kiosks/{device_id}")
async def update_kiosk(
    device_id: DeviceId, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Rename or move a kiosk (the API's PATCH /admin/devices/{id})."""
    form = await form_of(request)
    values = {k: form[k] for k in ("name", "site") if form.get(k)}
    try:
        body = DeviceUpdateBody(**values)
        admin.update_device(device_id, body, ctx, tenant, console.staff)
    except ValidationError as exc:
        return _kiosks(request, ctx, tenant, console, status=422, error=problem_of(exc))
    except ApiError as exc:
        return _kiosks(request, ctx, tenant, console, status=exc.status, error=exc.description)
    return _done(tenant, "kiosks", "Saved.")


@router.post("/kiosks/{device_id}/revoke")
def revoke(
    device_id: DeviceId, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    try:
        enrollment.revoke(ctx, tenant, device_id, actor=console.staff.username)
    except ApiError as exc:
        return _kiosks(request, ctx, tenant, console, status=exc.status, error=exc.description)
    return _done(tenant, "kiosks", "Revoked.")


@router.post("/kiosks/{device_id}/commands")
async def command(
    device_id: DeviceId, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Send identify, resync, reboot or diagnostics; the result page follows its answer."""
    form = await form_of(request)
    try:
        body = CommandBody(command=form.get("command", ""))  # type: ignore[arg-type]
        sent = fleet.send_command(
            ctx, tenant, device_id, body.command, {}, actor=console.staff.username
        )
    except ValidationError as exc:
        return _kiosks(request, ctx, tenant, console, status=422, error=problem_of(exc))
    except ApiError as exc:
        return _kiosks(request, ctx, tenant, console, status=exc.status, error=exc.description)
    where = f"kiosks/{quote(device_id)}/commands/{quote(str(sent['request_id']))}"
    return RedirectResponse(console_path(tenant.slug, where), status_code=303)


@router.get("/kiosks/{device_id}/commands/{request_id}")
def command_result(
    device_id: DeviceId, request_id: Annotated[str, Path(max_length=100)], request: Request,
    ctx: Context, tenant: CurrentTenant, console: Caller,
) -> HTMLResponse:  # fmt: skip
    """A command and its result once the kiosk answered (the page refreshes until then)."""
    try:
        view = fleet.command_view(ctx, tenant, device_id, request_id)
    except ApiError as exc:
        return _kiosks(request, ctx, tenant, console, status=exc.status, error=exc.description)
    result = view["result"]
    text = json.dumps(result, indent=2, ensure_ascii=False) if result is not None else ""
    device = ctx.store.get_device(tenant.slug, device_id)
    return page(
        request, "command.html", console, tenant.slug, view=view, result_text=text,
        kiosk=(device.name if device and device.name else device_id),
    )  # fmt: skip


def _done(tenant: Tenant, where: str, notice: str) -> RedirectResponse:
    """After a change: back to the page (Post/Redirect/Get) with a message from the catalogue."""
    return RedirectResponse(
        console_path(tenant.slug, where) + "?done=" + quote(notice), status_code=303
    )
