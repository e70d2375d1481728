"""The signed-in person's own page: the console's language, saved on their staff account
(staff_users.language, revision 0008) and set again at every sign-in, so a librarian finds
their language on any computer; the header's links only change it for this browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tenant.audit import record_change
from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.store import StaffUser
from tenant.web.forms import form_of
from tenant.web.i18n import LANG_COOKIE, LANGUAGES
from tenant.web.render import page
from tenant.web.session import Caller, ConsoleError, console_path, is_tls

router = APIRouter(
    prefix="/t/{tenant}/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
YEAR_S = 365 * 86400


def save_language(
    ctx: ServiceContext, slug: str, username: str, language: str | None, actor: str
) -> None:
    """Keep `language` ("en", "fr"; None: the browser's) on the account, with an audit row."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")
    user = ctx.store.get_user(slug, username)
    if user is None:
        raise ConsoleError(404, f"no staff account {username!r}")
    if user.language == language:
        return
    ctx.store.update_user(slug, username, language=language)
    record_change(ctx, slug, actor, "user.language", "user", username,
                  before={"language": user.language}, after={"language": language})  # fmt: skip


def set_language_cookie(request: Request, response: Response, slug: str, language: str) -> None:
    response.set_cookie(
        LANG_COOKIE, language, max_age=YEAR_S, path=console_path(slug), secure=is_tls(request),
        httponly=True, samesite="lax",
    )  # fmt: skip


def language_at_sign_in(request: Request, response: Response, slug: str, user: StaffUser) -> None:
    """The account's language, if it saved one, becomes this browser's at sign-in."""
    if user.language in LANGUAGES:
        set_language_cookie(request, response, slug, user.language)


@router.get("/profile")
def profile_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    user = ctx.store.get_user(tenant.slug, console.staff.username)
    saved = user.language if user else None
    return page(request, "profile.html", console, tenant.slug, saved=saved, errors={})


@router.post("/profile")
async def save_profile(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Save the language on the account (blank: the browser's) and use it at once."""
    form = await form_of(request)
    language = form.get("language", "").strip() or None
    try:
        save_language(ctx, tenant.slug, console.staff.username, language, console.staff.username)
    except ValueError as exc:
        return page(
            request, "profile.html", console, tenant.slug, status=422, saved=language,
            errors={"language": str(exc)}, error=str(exc),
        )  # fmt: skip
    response = RedirectResponse(
        console_path(tenant.slug, "profile") + "?done=Saved.", status_code=303
    )
    if language is None:
        response.delete_cookie(LANG_COOKIE, path=console_path(tenant.slug))
    else:
        set_language_cookie(request, response, tenant.slug, language)
    return response
