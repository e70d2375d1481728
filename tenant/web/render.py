"""Pages from Jinja2 templates (autoescaped: titles, notes and names are always text)."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from tenant.roles import ROUTES, Role, allowed
from tenant.web.i18n import LANG_COOKIE, LANGUAGES, Translator, pick_language
from tenant.web.session import Console, console_path, is_tls

# The menu: (page, route table key, label); a page is listed only for the roles it serves.
MENU = (
    ("kiosks", "GET /console/kiosks", "Kiosks"),
    ("tracks", "GET /console/tracks", "Tracks"),
    ("playlists", "GET /console/playlists", "Playlists"),
    ("sites", "GET /console/sites", "Sites"),
    ("reports", "GET /console/reports", "Reports"),
    ("audit", "GET /console/audit", "Audit"),
)

NOTICES = frozenset({"Saved.", "Claimed.", "Revoked.", "Pushed", "Retired."})


@functools.cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("tenant.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def translator(request: Request) -> Translator:
    chosen = request.query_params.get("lang")
    cookie = chosen if chosen in LANGUAGES else request.cookies.get(LANG_COOKIE)
    return Translator(pick_language(cookie, request.headers.get("accept-language")))


def menu_for(role: Role) -> list[tuple[str, str]]:
    return [(page, label) for page, key, label in MENU if key in ROUTES and allowed(key, role)]


def page(
    request: Request, template: str, console: Console | None, slug: str, *, status: int = 200,
    **values: Any,
) -> HTMLResponse:  # fmt: skip
    """Render `template` with the menu of the caller's role, their language and CSRF token."""
    t = translator(request)
    done = request.query_params.get("done")
    if values.get("notice") is None and done in NOTICES:
        values["notice"] = done
    html = (
        environment()
        .get_template(template)
        .render(
            t=t,
            lang=t.language,
            slug=slug,
            base=console_path(slug),
            console=console,
            menu=menu_for(console.staff.role) if console else [],
            csrf=console.csrf if console else "",
            path=request.url.path,
            **values,
        )
    )
    response = HTMLResponse(html, status_code=status)
    remember_language(request, response, slug)
    return response


def remember_language(request: Request, response: HTMLResponse, slug: str) -> None:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=365 * 86400, path=console_path(slug),
            secure=is_tls(request), httponly=True, samesite="lax",
        )  # fmt: skip
