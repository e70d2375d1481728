"""Sites: their kiosks and playlists, and "push to this site's kiosks" (the API's push, so a
curator pushes only to their own sites: featured playlist, volume, hours, screen language,
autoplay, idle timeout), then each kiosk's rollout, live; and the site's time zone and
behaviour when closed (`site_settings.save`, as `PUT /admin/settings/sites` and `jukebox admin
site-settings`: the network administrator's, per the route table). A refused value is shown
next to its field."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from tenant import fleet, site_settings
from tenant.api import fleet as fleet_api
from tenant.api.fleet_models import PushBody
from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.roles import allowed
from tenant.store import Tenant
from tenant.store.field import NETWORK
from tenant.web.content import known_sites, may_see, parse_hours
from tenant.web.forms import form_of
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
SETTINGS_KEY = "POST /console/sites/{site}/settings"
PUSHED = ("language", "autoplay", "idle_timeout_s")  # pushed settings the page shows
# the push body's fields -> the form's, for a refusal shown next to its field
PUSH_FIELDS = {
    "featured": "featured",
    "volume": "volume_max",
    "opening_hours": "hours",
    "language": "language",
    "autoplay": "autoplay",
    "idle_timeout_s": "idle_timeout",
}


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
    errors: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    if site not in known_sites(ctx, tenant, console):
        raise ConsoleError(404, f"no site {site!r} here")
    kiosks = [_board_row(r) for r in fleet.fleet_status(ctx, tenant) if r["site"] == site]
    playlists = [p for p in ctx.store.list_playlists(tenant.slug) if may_see(console, p)]
    rows = ctx.store.site_settings(tenant.slug)
    own = rows.get(site)
    return page(
        request, "site.html", console, tenant.slug, status=status, error=error, site=site,
        kiosks=kiosks, playlists=playlists, form=form or {}, errors=errors or {},
        own={"timezone": own.timezone if own else None,
             "when_closed": own.when_closed if own else None},
        inherited=site_settings.effective({NETWORK: rows[NETWORK]} if NETWORK in rows else {},
                                          None),
        when_closed_choices=site_settings.WHEN_CLOSED,
        may_set=allowed(SETTINGS_KEY, console.staff.role),
        pushed=pushed_settings(ctx, tenant, [str(k["device_id"]) for k in kiosks]),
    )  # fmt: skip


def pushed_settings(ctx: ServiceContext, tenant: Tenant, device_ids: list[str]) -> dict[str, Any]:
    """Each pushed setting as the site's kiosks were last sent it: its value when they all
    have the same, "mixed" when they differ, None when none was sent (the kiosk's own)."""
    states = ctx.store.desired_states(tenant.slug)
    found: dict[str, set[str]] = {name: set() for name in PUSHED}
    for device_id in device_ids:
        state = states.get(device_id)
        document = json.loads(state.document) if state else {}
        for name in PUSHED:
            found[name].add(json.dumps(document.get(name)))
    shown: dict[str, Any] = {}
    for name, values in found.items():
        if len(values) > 1:
            shown[name] = "mixed"
        else:
            shown[name] = json.loads(values.pop()) if values else None
    return shown


@router.get("/sites/{site}")
def site_page(
    site: Site, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    return _site(request, ctx, tenant, console, site)


@router.post("/sites/{site}/push")
async def push(
    site: Site, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Publish the site's kiosks' desired state with the settings given (blank: kept;
    "default": back to the kiosk's own configuration)."""
    form = await form_of(request)
    if site not in known_sites(ctx, tenant, console):
        raise ConsoleError(404, f"no site {site!r} here")
    values: dict[str, Any] = {"sites": [site]}
    try:
        if form.get("featured"):
            values["featured"] = form["featured"]
        if form.get("volume_min") or form.get("volume_max"):
            values["volume"] = {
                "min": form.get("volume_min") or 0,
                "max": form.get("volume_max") or 100,
            }
        if form.get("hours", "").strip():
            values["opening_hours"] = parse_hours(form["hours"])
        for name, key in (("language", "language"), ("autoplay", "autoplay"),
                          ("idle_timeout", "idle_timeout_s")):  # fmt: skip
            given = form.get(name, "").strip()
            if given:
                values[key] = None if given == "default" else given
        body = PushBody(**values)
    except ValidationError as exc:
        errors = {PUSH_FIELDS.get(str(e["loc"][0]), "form"): f"{e['loc'][0]}: {e['msg']}"
                  for e in exc.errors()[:5]}  # fmt: skip
        return _refused(request, ctx, tenant, console, site, 422, errors, form)
    except ValueError as exc:
        return _refused(request, ctx, tenant, console, site, 422, {"hours": str(exc)}, form)
    try:
        fleet_api.push_desired(body, ctx, tenant, console.staff)
    except ApiError as exc:
        return _site(request, ctx, tenant, console, site, status=exc.status,
                     error=exc.description, form=dict(form))  # fmt: skip
    return _done(tenant, f"sites/{site}", "Pushed")


def _refused(
    request: Request, ctx: ServiceContext, tenant: Tenant, console: Console, site: str,
    status: int, errors: dict[str, str], form: dict[str, str],
) -> HTMLResponse:  # fmt: skip
    """The page again with the values given and each refusal next to its field."""
    return _site(request, ctx, tenant, console, site, status=status, form=dict(form),
                 errors=errors, error=problem_summary(errors))  # fmt: skip


def problem_summary(errors: dict[str, str]) -> str:
    return "; ".join(errors.values())


@router.post("/sites/{site}/settings")
async def save_settings(
    site: Site, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """The site's time zone and behaviour when closed (blank: the network's), saved, audited
    and sent to its kiosks by `site_settings.save`, as `PUT /admin/settings/sites`."""
    form = await form_of(request)
    if site not in known_sites(ctx, tenant, console):
        raise ConsoleError(404, f"no site {site!r} here")
    changes = {
        "timezone": form.get("timezone", "").strip() or None,
        "when_closed": form.get("when_closed", "").strip() or None,
    }
    try:
        site_settings.save(ctx, tenant, site, changes, actor=console.staff.username)
    except ApiError as exc:
        field = exc.description.partition(":")[0]
        errors = {field if field in changes else "form": exc.description}
        return _refused(request, ctx, tenant, console, site, exc.status, errors, form)
    return _done(tenant, f"sites/{site}", "Saved.")
