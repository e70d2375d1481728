"""The FastAPI application of the reference tenant service (see docs/tenant-api.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from device import FIRMWARE_VERSION
from tenant.api import admin, device, enrollment
from tenant.context import open_context
from tenant.errors import install_error_handlers
from tenant.limits import BodyLimit
from tenant.settings import TenantSettings

log = logging.getLogger(__name__)

DESCRIPTION = """The reference tenant service of the library jukebox kiosks: enrollment with
claim codes, device tokens, playlists and media. The contract is docs/tenant-api.md."""


def create_app(
    data_dir: Path, database_url: str | None = None, *, settings: TenantSettings | None = None
) -> FastAPI:
    """The service over `data_dir` (media in data_dir/media, SQLite data_dir/tenant.sqlite3
    unless `database_url` names another database)."""
    ctx = open_context(data_dir, database_url, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            ctx.store.close()

    app = FastAPI(
        title="jukebox tenant",
        version=FIRMWARE_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.context = ctx
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=ctx.settings.max_json_body)
    app.include_router(enrollment.router)
    app.include_router(device.router)
    app.include_router(admin.router)

    @app.get("/healthz", tags=["service"], include_in_schema=True)
    def healthz() -> dict[str, str]:
        """Liveness: answers as soon as the service accepts requests."""
        return {"status": "ok"}

    log.info("tenant service over %s", ctx.data_dir)
    return app
