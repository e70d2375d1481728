"""Alerts: kiosks offline too long, with a full outbox, a sync error, no audio device or no
panel, read from what the ingester already stores (status, heartbeat, reported state).

`current` lists the conditions in force (`jukebox admin alerts`). `check` compares them with
those recorded last time and, when the network set a webhook, POSTs one JSON message per
condition that started or ended; the record changes only after the POST was accepted, so an
unreachable receiver hears of it at the next check.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from typing import Any

from tenant.context import ServiceContext
from tenant.fleet import fleet_status
from tenant.store import Tenant
from tenant.store.field import AlertState
from tenant.timefmt import rfc3339

log = logging.getLogger(__name__)

Json = dict[str, Any]
OFFLINE_AFTER_S = 15 * 60  # the default threshold
OUTBOX_FULL = 1000  # finished plays waiting: the kiosk has not reached the tenant for long
WEBHOOK_TIMEOUT_S = 5.0
CONDITIONS = ("offline", "outbox_full", "sync_error", "no_audio", "no_panel")
CHECK_EVERY_S = 60.0  # how often the service compares conditions for the webhooks


def offline_after_s(ctx: ServiceContext, tenant: Tenant) -> int:
    settings = ctx.store.alert_settings(tenant.slug)
    found = settings.offline_after_s if settings is not None else None
    return OFFLINE_AFTER_S if found is None else found


def conditions_of(view: Json, offline_after_s: int, now_ms: int) -> dict[str, str]:
    """The alert conditions of one kiosk as `GET /admin/status` shows it, with a detail each."""
    found: dict[str, str] = {}
    if not view["online"]:
        since = view.get("heartbeat_age_s")
        if since is None or since >= offline_after_s:
            found["offline"] = f"offline ({view.get('offline_reason') or 'never seen'})"
    heartbeat = view.get("heartbeat") or {}
    if view["online"] and heartbeat:
        outbox = heartbeat.get("outbox")
        if isinstance(outbox, int) and outbox >= OUTBOX_FULL:
            found["outbox_full"] = f"{outbox} plays waiting in the outbox"
        sync = (heartbeat.get("content") or {}).get("sync")
        if isinstance(sync, str) and sync.startswith("failed"):
            found["sync_error"] = sync
        if not heartbeat.get("output"):
            found["no_audio"] = "no audio output"
        if heartbeat.get("panel") == "missing":
            found["no_panel"] = "no display panel answers"
    reported = view.get("reported") or {}
    if reported.get("status") == "rejected" and "sync_error" not in found:
        found["sync_error"] = f"desired state rejected: {reported.get('problem') or ''}".strip()
    return found


def current(ctx: ServiceContext, tenant: Tenant) -> list[Json]:
    """Every condition in force now, kiosk by kiosk."""
    now_ms = ctx.settings.now_ms()
    threshold = offline_after_s(ctx, tenant)
    alerts = []
    for view in fleet_status(ctx, tenant):
        for condition, detail in conditions_of(view, threshold, now_ms).items():
            alerts.append(
                {
                    "device_id": view["device_id"],
                    "name": view["name"],
                    "site": view["site"],
                    "condition": condition,
                    "detail": detail,
                }
            )
    return alerts


def check(ctx: ServiceContext, tenant: Tenant) -> list[Json]:
    """Record the conditions that started or ended since the last check and send each to the
    webhook; the events sent (or, without a webhook, recorded)."""
    settings = ctx.store.alert_settings(tenant.slug)
    url = settings.webhook_url if settings is not None else None
    now_ms = ctx.settings.now_ms()
    known = {(s.device_id, s.condition): s for s in ctx.store.alert_states(tenant.slug)}
    now = {(a["device_id"], a["condition"]): a for a in current(ctx, tenant)}
    events: list[Json] = []
    started: list[AlertState] = []
    ended: list[tuple[str, str]] = []
    for key, alert in now.items():
        if key not in known:
            event = {**alert, "event": "started", "at": rfc3339(now_ms)}
            if _deliver(url, tenant, event):
                events.append(event)
                started.append(AlertState(tenant.slug, *key, now_ms, alert["detail"][:500]))
    for key, state in known.items():
        if key not in now:
            event = {
                "device_id": state.device_id,
                "condition": state.condition,
                "detail": state.detail,
                "event": "ended",
                "at": rfc3339(now_ms),
                "since": rfc3339(state.since_ms),
            }
            if _deliver(url, tenant, event):
                events.append(event)
                ended.append(key)
    ctx.store.change_alert_states(tenant.slug, started, ended)
    return events


def _deliver(url: str | None, tenant: Tenant, event: Json) -> bool:
    if url is None:
        return True
    body = json.dumps({"tenant": tenant.slug, **event}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            ok = bool(200 <= response.status < 300)
    except OSError as exc:
        log.warning("tenant %s: alert webhook %s: %s", tenant.slug, url, exc)
        return False
    if not ok:
        log.warning("tenant %s: alert webhook %s answered %d", tenant.slug, url, response.status)
    return ok


def alert_settings_view(ctx: ServiceContext, tenant: Tenant) -> Json:
    settings = ctx.store.alert_settings(tenant.slug)
    return {
        "webhook_url": settings.webhook_url if settings else None,
        "offline_after_s": offline_after_s(ctx, tenant),
    }


class AlertWatcher:
    """The service's thread that runs `check` for every tenant with a webhook, every
    `interval_s` (the conditions come from what the ingesters store meanwhile)."""

    def __init__(self, ctx: ServiceContext, interval_s: float = CHECK_EVERY_S) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    def start(self) -> AlertWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WEBHOOK_TIMEOUT_S * 2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check_all()

    def check_all(self) -> None:
        for slug in self.ctx.store.tenants_with_webhooks():
            tenant = self.ctx.store.get_tenant(slug)
            if tenant is None:
                continue
            try:
                check(self.ctx, tenant)
            except Exception:  # a database hiccup: the next round tries again
                log.exception("tenant %s: alert check failed", slug)
