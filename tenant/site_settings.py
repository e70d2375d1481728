"""Site settings carried by every desired state: the time zone of opening hours and schedules,
and what a kiosk does when a visitor presses play outside opening hours.

The network's defaults (set at `tenant init --timezone`, or later) hold for every site that
does not set its own. A change is saved, audited, and sent at once to the kiosks of the sites
it concerns that already have a desired state (a new version of it, the rest unchanged).
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from tenant.audit import record_change
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.store import ACTIVE, Tenant
from tenant.store.field import NETWORK, SiteSettings

log = logging.getLogger(__name__)

Json = dict[str, Any]
WHEN_CLOSED = ("allow", "refuse")  # allow: visitors may still play; refuse: "closed, back at …"
DEFAULT_WHEN_CLOSED = "allow"


def check_timezone(name: str, where: str = "timezone") -> str:
    """The IANA name if this machine knows it, else a 422 naming the field."""
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise ApiError(
            422, "invalid_request", f"{where}: {name!r} is not an IANA time zone"
        ) from exc
    return name


def effective(rows: Mapping[str, SiteSettings], site: str | None) -> Json:
    """The settings in force at `site`: its own, else the network's (None: never set)."""
    own = rows.get(site) if site else None
    network = rows.get(NETWORK)
    result: Json = {}
    for key in ("timezone", "when_closed"):
        value = getattr(own, key) if own is not None else None
        if value is None and network is not None:
            value = getattr(network, key)
        result[key] = value
    return result


def desired_settings(ctx: ServiceContext, slug: str, site: str | None) -> Json:
    """What a desired state carries for a kiosk of `site` (absent keys: the kiosk's own)."""
    found = effective(ctx.store.site_settings(slug), site)
    return {key: value for key, value in found.items() if value is not None}


def settings_view(ctx: ServiceContext, tenant: Tenant) -> list[Json]:
    """The network's row (site None) then each site that sets something, with what holds."""
    rows = ctx.store.site_settings(tenant.slug)
    sites = sorted({d.site for d in ctx.store.list_devices(tenant.slug) if d.site} | set(rows))
    views = []
    for site in [NETWORK, *[s for s in sites if s != NETWORK]]:
        own = rows.get(site)
        views.append(
            {
                "site": site or None,
                "timezone": own.timezone if own else None,
                "when_closed": own.when_closed if own else None,
                "effective": {
                    "when_closed": DEFAULT_WHEN_CLOSED,
                    **{k: v for k, v in effective(rows, site).items() if v is not None},
                },
            }
        )
    return views


def save(
    ctx: ServiceContext,
    tenant: Tenant,
    site: str | None,
    changes: Mapping[str, str | None],
    *,
    actor: str,
) -> Json:
    """Set (or, with None, clear) the site's (None: the network's) timezone / when_closed."""
    if "timezone" in changes and changes["timezone"] is not None:
        check_timezone(changes["timezone"])
    when = changes.get("when_closed")
    if when is not None and when not in WHEN_CLOSED:
        raise ApiError(422, "invalid_request", f"when_closed: {when!r} is not allow or refuse")
    key = site or NETWORK
    before = ctx.store.site_settings(tenant.slug).get(key)
    values = {
        "timezone": before.timezone if before else None,
        "when_closed": before.when_closed if before else None,
    }
    values.update({k: v for k, v in changes.items() if k in values})
    now_ms = ctx.settings.now_ms()
    ctx.store.save_site_settings(SiteSettings(tenant.slug, key, updated_ms=now_ms, **values))
    record_change(
        ctx, tenant.slug, actor, "site.settings", "site", key or "*",
        before=None if before is None else {"timezone": before.timezone,
                                            "when_closed": before.when_closed},
        after=values,
    )  # fmt: skip
    devices = [
        d.device_id
        for d in ctx.store.list_devices(tenant.slug)
        if d.status == ACTIVE and (site is None or d.site == site)
    ]
    rows = ctx.store.site_settings(tenant.slug)
    sites = {d.device_id: d.site for d in ctx.store.list_devices(tenant.slug)}

    def edit(device_id: str, document: Json) -> Json:
        for name, value in effective(rows, sites.get(device_id)).items():
            document.pop(name, None)
            if value is not None:
                document[name] = value
        return document

    republish(ctx, tenant, devices, edit, actor=actor, action="site.settings")
    return {"site": site, **values}


def republish(
    ctx: ServiceContext,
    tenant: Tenant,
    device_ids: list[str],
    edit: Callable[[str, Json], Json],
    *,
    actor: str,
    action: str,
) -> list[str]:
    """Send a new version of each named kiosk's desired state, changed by `edit`; kiosks that
    never had one, and a service without a broker, are left alone (the next push carries it)."""
    if ctx.broker is None:
        log.info("tenant %s: no broker, %s reaches kiosks at their next push", tenant.slug, action)
        return []
    previous = ctx.store.desired_states(tenant.slug)
    sent = []
    for device_id in device_ids:
        state = previous.get(device_id)
        if state is None:
            continue
        before = json.loads(state.document)
        document = edit(device_id, dict(before))
        if document == before:
            continue
        now_ms = ctx.settings.now_ms()
        version = ctx.store.save_desired(tenant.slug, device_id, json.dumps(document), now_ms)
        try:
            ctx.broker.publish_desired(tenant.slug, device_id, {**document, "version": version})
        except Exception as exc:  # saved: the next push or this change again sends it
            log.warning(
                "tenant %s: desired state of %s not published: %s", tenant.slug, device_id, exc
            )
            continue
        sent.append(device_id)
    if sent:
        log.info("tenant %s: %s sent to %d kiosk(s) by %s", tenant.slug, action, len(sent), actor)
    return sent
