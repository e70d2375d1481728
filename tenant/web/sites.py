"""Sites: their kiosks and playlists, and "push to this site's kiosks" (the API's push, so a
curator pushes only to their own sites), then each kiosk's rollout, live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from tenant import fleet
from tenant.api import fleet as fleet_api
from tenant.api.fleet_models import PushBody
from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.store import Tenant
from tenant.web.content import known_sites, may_see, parse_hours
from tenant.web.forms import form_of, problem_of
from tenant.web.kiosks import _board_row, _done
from tenant.web.render import page
from tenant.web.session import Caller, Console, ConsoleError

router = APIRouter(
    prefix="/t/{tenant}/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
Site = Annotated[str, Path(min_length=1, max_length=300)]


@router.get("/sites")
def sites_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    rows = fleet.fleet_status(ctx, tenant)
    sites = [
        {"name": s, "kiosks": sum(1 for r in rows if r["site"] == s),
         "online": sum(1 for r in rows if r["site"] == s and r["online"])}
        for s in known_sites(ctx, tenant, console)
    ]  # fmt: skip
    return page(request, "sites.html", console, tenant.slug, sites=sites)


def _site(
    request: Request, ctx: ServiceContext, tenant: Tenant, console: Console, site: str, *,
    status: int = 200, error: str | None = None, form: dict[str, Any] | None = None,
) -> HTMLResponse:  # fmt: skip
    if site not in known_sites(ctx, tenant, console):
        raise ConsoleError(404, f"no site {site!r} here")
    kiosks = [_board_row(r) for r in fleet.fleet_status(ctx, tenant) if r["site"] == site]
    playlists = [p for p in ctx.store.list_playlists(tenant.slug) if may_see(console, p)]
    return page(
        request, "site.html", console, tenant.slug, status=status, error=error, site=site,
        kiosks=kiosks, playlists=playlists, form=form or {},
    )  # fmt: skip


@router.get("/sites/{site}")
def site_page(
    site: Site, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    return _site(request, ctx, tenant, console, site)


@router.post("/sites/{site}/push")
async def push(
    site: Site, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Publish the site's kiosks' desired state with the settings given (blank: kept)."""
    form = await form_of(request)
    if site not in known_sites(ctx, tenant, console):
        raise ConsoleError(404, f"no site {site!r} here")
    values: dict[str, Any] = {"sites": [site]}
    try:
        if form.get("featured"):
            values["featured"] = form["featured"]
        if form.get("volume_min") or form.get("volume_max"):
            values["volume"] = {
                "min": int(form.get("volume_min") or 0),
                "max": int(form.get("volume_max") or 100),
            }
        if form.get("hours", "").strip():
            values["opening_hours"] = parse_hours(form["hours"])
        body = PushBody(**values)
        fleet_api.push_desired(body, ctx, tenant, console.staff)
    except ValidationError as exc:
        return _site(request, ctx, tenant, console, site, status=422, error=problem_of(exc),
                     form=dict(form))  # fmt: skip
    except ValueError as exc:
        return _site(request, ctx, tenant, console, site, status=422, error=str(exc),
                     form=dict(form))  # fmt: skip
    except ApiError as exc:
        return _site(request, ctx, tenant, console, site, status=exc.status,
                     error=exc.description, form=dict(form))  # fmt: skip
    return _done(tenant, f"sites/{site}", "Pushed")
