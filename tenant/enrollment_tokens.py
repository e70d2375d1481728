"""Zero-touch enrollment: a token, written on a card (site.toml's `enrollment_token`), that
claims the kiosk enrolling with it for a site without anyone typing its claim code.

A token is `<tenant>.<secret>`: the tenant part lets a kiosk carrying another library
network's token be told so. Only the secret's sha256 is kept. A token may expire and may be
limited to a number of kiosks; each claim it makes takes one use, counted in the same
transaction that checks it. A token that cannot claim leaves the kiosk with its claim code,
and the enrollment answer says why (`enrollment_token_refused`) for the technician screen.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from tenant.audit import record_change
from tenant.context import ServiceContext
from tenant.credentials import hash_secret
from tenant.errors import ApiError
from tenant.store import Tenant
from tenant.store.field import EnrollmentToken
from tenant.timefmt import rfc3339

log = logging.getLogger(__name__)

Json = dict[str, Any]
SEPARATOR = "."


def create(
    ctx: ServiceContext,
    tenant: Tenant,
    site: str,
    *,
    expires_ms: int | None,
    uses: int | None,
    actor: str,
) -> Json:
    """A new token for `site`; the token itself is in the answer only (shown once)."""
    if not site.strip():
        raise ApiError(422, "invalid_request", "site: a token claims kiosks for a site")
    now_ms = ctx.settings.now_ms()
    if expires_ms is not None and expires_ms <= now_ms:
        raise ApiError(422, "invalid_request", "expires: the moment is already past")
    if uses is not None and uses < 1:
        raise ApiError(422, "invalid_request", "uses: at least 1")
    secret = secrets.token_urlsafe(24)
    token = EnrollmentToken(
        tenant=tenant.slug,
        token_id=secrets.token_hex(8),
        site=site.strip(),
        created_by=actor,
        created_ms=now_ms,
        expires_ms=expires_ms,
        max_uses=uses,
        uses=0,
        revoked_ms=None,
    )
    ctx.store.insert_enrollment_token(token, hash_secret(secret))
    record_change(
        ctx, tenant.slug, actor, "enrollment_token.create", "enrollment_token", token.token_id,
        after={"site": token.site, "expires": rfc3339(expires_ms), "uses": uses},
    )  # fmt: skip
    return {**view(token), "token": f"{tenant.slug}{SEPARATOR}{secret}"}


def view(token: EnrollmentToken) -> Json:
    return {
        "token_id": token.token_id,
        "site": token.site,
        "created_by": token.created_by,
        "created_at": rfc3339(token.created_ms),
        "expires_at": rfc3339(token.expires_ms),
        "max_uses": token.max_uses,
        "uses": token.uses,
        "revoked": token.revoked_ms is not None,
    }


def list_tokens(ctx: ServiceContext, tenant: Tenant) -> list[Json]:
    return [view(t) for t in ctx.store.list_enrollment_tokens(tenant.slug)]


def revoke(ctx: ServiceContext, tenant: Tenant, token_id: str, *, actor: str) -> Json:
    if not ctx.store.revoke_enrollment_token(tenant.slug, token_id, ctx.settings.now_ms()):
        raise ApiError(404, "not_found", f"no unrevoked enrollment token {token_id!r}")
    record_change(
        ctx, tenant.slug, actor, "enrollment_token.revoke", "enrollment_token", token_id,
        after={"revoked": True},
    )  # fmt: skip
    return {"token_id": token_id, "revoked": True}


def redeem(ctx: ServiceContext, tenant: Tenant, raw: str) -> tuple[EnrollmentToken | None, str]:
    """Take one use of the token: (token, "") when it may claim, else (None, why not)."""
    owner, separator, secret = raw.strip().rpartition(SEPARATOR)
    if not separator or not secret:
        return None, "not an enrollment token"
    if owner != tenant.slug:
        return None, "enrollment token of another library network"
    token, problem = ctx.store.use_enrollment_token(
        tenant.slug, hash_secret(secret), ctx.settings.now_ms()
    )
    if problem is not None or token is None:
        return None, problem or "unknown enrollment token"
    return token, ""
