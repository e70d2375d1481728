"""Who is using the console: a session cookie holding a staff token, or a staff bearer token.

Signing in calls the same `accounts.login` as `POST /v1/login` (same refusals, rate limits and
audit rows) and keeps the new token in an HttpOnly cookie scoped to the tenant's console; so a
disabled account, a revoked or expired token stops the session at once. Which role may open a
page is in tenant/roles.py, as for the API. Forms posted with the cookie carry a CSRF token
derived from the session's token id (HMAC with the service secret), so nothing is stored.
A bearer token (scripts, the authorization test) needs no CSRF token: browsers never add it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials

from tenant import accounts
from tenant.accounts import Staff
from tenant.auth import Context, CurrentTenant, route_of, staff_bearer
from tenant.context import ServiceContext
from tenant.roles import ROUTES, allowed

COOKIE = "jk_console"
SESSION_S = 12 * 3600
SESSION_TOKEN_NAME = "web console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

session_cookie = APIKeyCookie(
    name=COOKIE,
    scheme_name="staffSession",
    description="the web console's session (signed in at /t/{tenant}/console/signin)",
    auto_error=False,
)


class ConsoleError(Exception):
    """A refusal the console shows as a page (or JSON to a script), with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No valid session: a browser is sent to the sign-in page, a script gets 401."""

    def __init__(self, slug: str, next_path: str) -> None:
        super().__init__(slug)
        self.slug = slug
        self.next_path = next_path


@dataclass(frozen=True)
class Console:
    """The staff member behind a console request, and the CSRF token for their forms."""

    staff: Staff
    csrf: str
    by_cookie: bool


def console_path(slug: str, page: str = "") -> str:
    return f"/t/{quote(slug)}/console/{page.lstrip('/')}"


def csrf_token(ctx: ServiceContext, token_id: str) -> str:
    mac = hmac.new(ctx.secret, f"console-csrf:{token_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


async def console_caller(
    request: Request,
    ctx: Context,
    tenant: CurrentTenant,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(staff_bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Console:
    """The signed-in staff member, if their role may use this page (tenant/roles.py), and
    their form's CSRF token checked on every change made with the cookie."""
    by_cookie = bearer is None
    token = cookie if by_cookie else bearer.credentials.strip() if bearer else None
    staff = accounts.staff_for_token(ctx, tenant.slug, token) if token else None
    if staff is None:
        raise SignInRequired(tenant.slug, request.url.path)
    expected = csrf_token(ctx, staff.token_id)
    request.state.console = Console(staff, expected, by_cookie)  # for the error page's menu
    key = route_of(request)
    if key not in ROUTES or not allowed(key, staff.role):
        raise ConsoleError(403, f"{staff.username} ({staff.role.value}) may not open this page")
    if by_cookie and request.method in UNSAFE:
        given = request.headers.get(CSRF_HEADER)
        if given is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if given is None or not hmac.compare_digest(given, expected):
            raise ConsoleError(403, "this form has expired: open the page again and resubmit")
    return Console(staff, expected, by_cookie)


Caller = Annotated[Console, Depends(console_caller)]
