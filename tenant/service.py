"""The FastAPI application of the reference tenant service (see docs/tenant-api.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from contract import __version__ as FIRMWARE_VERSION
from tenant.accounts import LoginLimiter, migrate_shared_tokens
from tenant.alerts import AlertWatcher
from tenant.api import admin, device, enrollment, field, firmware, fleet, packs, payouts, staff
from tenant.broker.settings import load_broker_settings
from tenant.context import open_context
from tenant.errors import install_error_handlers
from tenant.limits import BodyLimit, declare_body_limit
from tenant.settings import TenantSettings
from tenant.web import mount_console

if TYPE_CHECKING:
    from tenant.broker.control import BrokerControl

log = logging.getLogger(__name__)

DESCRIPTION = """The reference tenant service of the library jukebox kiosks: enrollment with
claim codes, device tokens, playlists and media. The contract is docs/tenant-api.md."""


def create_app(
    data_dir: Path, database_url: str | None = None, *, settings: TenantSettings | None = None
) -> FastAPI:
    """The service over `data_dir` (media in data_dir/media, SQLite data_dir/tenant.sqlite3
    unless `database_url` names another database)."""
    ctx = open_context(data_dir, database_url, settings, broker=connect_broker(data_dir))
    for slug in ctx.store.tenants_with_shared_tokens():
        migrated = migrate_shared_tokens(ctx, slug)
        log.warning("tenant %s: %d shared admin token(s) now belong to user admin", slug, migrated)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watcher = AlertWatcher(ctx).start()  # alert webhooks (tenant/alerts.py)
        try:
            yield
        finally:
            watcher.stop()
            if ctx.broker is not None:
                ctx.broker.close()
            ctx.store.close()

    app = FastAPI(
        title="jukebox tenant",
        version=FIRMWARE_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.context = ctx
    app.state.logins = LoginLimiter(
        window_ms=int(ctx.settings.login_window_s * 1000),
        per_account=ctx.settings.login_failures_per_account,
        per_address=ctx.settings.login_failures_per_address,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=ctx.settings.max_json_body)
    declare_body_limit(app, ctx.settings.max_json_body)
    app.include_router(enrollment.router)
    app.include_router(device.router)
    app.include_router(admin.router)
    app.include_router(fleet.router)
    app.include_router(field.router)
    app.include_router(packs.router)
    app.include_router(payouts.router)
    app.include_router(staff.public)
    app.include_router(staff.router)
    app.include_router(firmware.router)
    app.include_router(firmware.device_router)
    mount_console(app)

    @app.get("/healthz", tags=["service"], include_in_schema=True)
    def healthz() -> dict[str, str]:
        """Liveness: answers as soon as the service accepts requests."""
        return {"status": "ok"}

    check_route_table(app)
    log.info("tenant service over %s", ctx.data_dir)
    return app


def check_route_table(app: FastAPI) -> None:
    """Every route is public, a device's, or in the staff route table (tenant/roles.py) with
    the staff token scheme; a route nobody declared stops the service from starting. Read
    from the OpenAPI document, which lists every route with the schemes it checks."""
    from tenant.roles import DEVICE, PUBLIC, ROUTES, route_key

    seen = set()
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            key = route_key(method.upper(), path)
            seen.add(key)
            schemes = {name for option in operation.get("security", ()) for name in option}
            if key in ROUTES and key.split(" ", 1)[1].startswith("/console/"):
                ok = schemes == {"staffToken", "staffSession"}  # the web console
            elif key in ROUTES:
                ok = schemes == {"staffToken"}
            elif key in DEVICE:
                ok = schemes == {"deviceToken"}
            else:
                ok = key in PUBLIC and not schemes
            if not ok:
                raise RuntimeError(f"{key}: declare who may call it in tenant/roles.py")
    stale = (set(ROUTES) | DEVICE | PUBLIC) - seen
    if stale:
        raise RuntimeError(f"tenant/roles.py names routes that do not exist: {sorted(stale)}")


def connect_broker(data_dir: Path) -> BrokerControl | None:
    """The broker connection when data_dir/broker.json exists (made in the background)."""
    settings = load_broker_settings(Path(data_dir))
    if settings is None:
        log.info("no %s: devices get no broker accounts", Path(data_dir) / "broker.json")
        return None
    from tenant.broker.control import BrokerControl

    return BrokerControl(settings)
