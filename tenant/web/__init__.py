"""The library's web console: server-rendered pages over the same service functions as the
API and the CLI, served by `jukebox tenant serve` under /t/{tenant}/console/ (docs/console.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tenant.web import content, kiosks, payouts, profile, reports, shares, sites
from tenant.web.render import page
from tenant.web.session import ConsoleError, SignInRequired, console_path

STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/console-static"


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def mount_console(app: FastAPI) -> None:
    """Add the console's routes, its static files and its error pages to the service."""
    for router in (
        kiosks.router,
        content.router,
        sites.router,
        reports.router,
        payouts.router,
        profile.router,
        shares.router,
    ):
        app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="console-static")

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if wants_html(request):
            target = console_path(exc.slug, "signin") + "?next=" + exc.next_path
            return RedirectResponse(target, status_code=303)
        return JSONResponse(
            {"error": "invalid_token", "error_description": "sign in to the console first"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    @app.exception_handler(ConsoleError)
    async def refused(request: Request, exc: ConsoleError) -> Response:
        if wants_html(request):
            slug = request.path_params.get("tenant", "")
            console = getattr(request.state, "console", None)  # signed in: keep the menu
            return page(
                request, "error.html", console, slug, status=exc.status, message=exc.message
            )
        name = {403: "forbidden", 404: "not_found"}.get(exc.status, "invalid_request")
        return JSONResponse(
            {"error": name, "error_description": exc.message}, status_code=exc.status
        )
