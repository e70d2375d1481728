"""Staff accounts: passwords (Argon2id), API tokens, login with rate limits, and the
migration of the previous release's shared admin token.

Used by the API (tenant/api/staff.py), by `jukebox tenant user …` on the server and by
`jukebox tenant init`; every change writes an audit row (tenant/audit.py).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tenant.audit import record_change
from tenant.context import ServiceContext
from tenant.credentials import hash_secret
from tenant.errors import ApiError
from tenant.roles import Role
from tenant.store import StaffToken, StaffUser

MIN_PASSWORD = 12
NO_PASSWORD = "!"  # an account that can only use its tokens until its password is reset
STAFF_TOKEN_PREFIX = "jkst_"
MIGRATED_ADMIN = "admin"
MIGRATED_TOKEN_NAME = "shared token (migrated)"
REFUSED = "wrong username or password"

_hasher = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)
# verified for unknown users and accounts without a password, so they cost the same time
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A refused account change; str() says what is wrong."""


class LastAdminError(AccountError):
    """The change would leave the tenant without an enabled network administrator, and so
    with nobody who may manage its accounts over the API (409)."""


@dataclass(frozen=True)
class Staff:
    """Who is calling: an enabled account, through one of its live tokens."""

    tenant: str
    username: str
    role: Role
    sites: tuple[str, ...]
    token_id: str


def has_password(user: StaffUser) -> bool:
    """False for an account made without one (the migrated shared token's)."""
    return user.password_hash != NO_PASSWORD


def user_view(user: StaffUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "sites": json.loads(user.sites),
        "disabled": user.disabled,
        "has_password": has_password(user),
        "created_ms": user.created_ms,
        "updated_ms": user.updated_ms,
    }


def token_view(token: StaffToken) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "username": token.username,
        "name": token.name,
        "created_ms": token.created_ms,
        "expires_ms": token.expires_ms,
        "revoked_ms": token.revoked_ms,
        "last_used_ms": token.last_used_ms,
    }


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters


def _check_user(username: str, role: str, sites: list[str]) -> Role:
    from tenant.setup import SLUG

    if not SLUG.fullmatch(username):
        raise AccountError(
            f"username {username!r}: use lowercase letters, digits and dashes (at most 63)"
        )
    try:
        parsed = Role(role)
    except ValueError:
        raise AccountError(
            f"role {role!r}: expected one of {', '.join(r.value for r in Role)}"
        ) from None
    if any(not s or len(s) > 300 for s in sites):
        raise AccountError("a site name must have 1 to 300 characters")
    if sites and parsed is not Role.CURATOR:
        raise AccountError("only curators are given sites")
    return parsed


def add_user(
    ctx: ServiceContext, slug: str, actor: str, username: str, role: str, sites: list[str],
    password: str | None,
) -> StaffUser:  # fmt: skip
    """Create an account (password None: none yet, tokens only after a reset)."""
    parsed = _check_user(username, role, sites)
    if password is not None:
        check_password(password)
    now_ms = ctx.settings.now_ms()
    user = StaffUser(
        tenant=slug,
        username=username,
        password_hash=_hasher.hash(password) if password is not None else NO_PASSWORD,
        role=parsed.value,
        sites=json.dumps(sorted(set(sites))),
        disabled=False,
        created_ms=now_ms,
        updated_ms=now_ms,
    )
    if not ctx.store.insert_user(user):
        raise AccountError(f"there is already a user {username!r} in tenant {slug!r}")
    record_change(ctx, slug, actor, "user.add", "user", username, after=_public(user))
    return user


def update_user(
    ctx: ServiceContext, slug: str, actor: str, username: str, *, role: str | None = None,
    sites: list[str] | None = None, disabled: bool | None = None, password: str | None = None,
) -> StaffUser:  # fmt: skip
    """Change an account; disabling it stops its tokens at once (they are checked per call).

    A new password replacing one the account had revokes all its tokens: a reset follows a
    leak, and a token made with the leaked password must not outlive it. An account that had
    no password (the migrated shared token's) keeps its tokens when it is given one."""
    user = ctx.store.get_user(slug, username)
    if user is None:
        raise LookupError(f"no user {username!r} in tenant {slug!r}")
    new_role = role if role is not None else user.role
    new_sites = sites if sites is not None else json.loads(user.sites)
    if role is not None and role != Role.CURATOR and sites is None:
        new_sites = []
    _check_user(username, new_role, new_sites)
    _keep_an_admin(ctx, user, new_role, user.disabled if disabled is None else disabled)
    now_ms = ctx.settings.now_ms()
    values: dict[str, Any] = {
        "role": new_role,
        "sites": json.dumps(sorted(set(new_sites))),
        "updated_ms": now_ms,
    }
    if disabled is not None:
        values["disabled"] = disabled
    if password is not None:
        check_password(password)
        values["password_hash"] = _hasher.hash(password)
    ctx.store.update_user(slug, username, **values)
    changed = ctx.store.get_user(slug, username)
    assert changed is not None
    after = _public(changed)
    if password is not None and has_password(user):
        after["tokens_revoked"] = ctx.store.revoke_staff_tokens(slug, now_ms, username=username)
    action = "user.reset-password" if password is not None else "user.update"
    record_change(ctx, slug, actor, action, "user", username, before=_public(user), after=after)
    return changed


def _keep_an_admin(ctx: ServiceContext, user: StaffUser, role: str, disabled: bool) -> None:
    """Refuse to disable or demote the tenant's last enabled network administrator."""
    if user.role != Role.NETWORK_ADMIN or user.disabled:
        return
    if role == Role.NETWORK_ADMIN and not disabled:
        return
    others = [
        u
        for u in ctx.store.list_users(user.tenant)
        if u.role == Role.NETWORK_ADMIN and not u.disabled and u.username != user.username
    ]
    if not others:
        change = f"disable {user.username!r}" if disabled else f"make {user.username!r} a {role}"
        raise LastAdminError(
            f"cannot {change}: it is the last enabled network administrator "
            f"of tenant {user.tenant!r}, and without one nobody could manage its accounts; "
            "give another account the network-admin role first"
        )


def _public(user: StaffUser) -> dict[str, Any]:
    view = user_view(user)
    del view["created_ms"], view["updated_ms"]
    return view


# ---------------------------------------------------------------------------------- tokens


def issue_token(
    ctx: ServiceContext, slug: str, actor: str, username: str, name: str,
    expires_in_s: float | None,
) -> tuple[str, StaffToken]:  # fmt: skip
    """A new API token for `username`: (the token, shown only now; its record)."""
    if not name.strip() or len(name) > 100:
        raise AccountError("a token needs a name of 1 to 100 characters")
    if expires_in_s is not None and expires_in_s <= 0:
        raise AccountError("a token's lifetime must be positive")
    now_ms = ctx.settings.now_ms()
    token = STAFF_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = StaffToken(
        tenant=slug,
        token_id="tok-" + secrets.token_hex(6),
        username=username,
        name=name.strip(),
        created_ms=now_ms,
        expires_ms=None if expires_in_s is None else now_ms + int(expires_in_s * 1000),
        revoked_ms=None,
        last_used_ms=None,
    )
    ctx.store.insert_staff_token(slug, hash_secret(token), record)
    record_change(
        ctx, slug, actor, "token.create", "token", record.token_id, after=token_view(record)
    )
    return token, record


def revoke_token(ctx: ServiceContext, slug: str, actor: str, token_id: str) -> None:
    ctx.store.revoke_staff_tokens(slug, ctx.settings.now_ms(), token_id=token_id)
    record_change(ctx, slug, actor, "token.revoke", "token", token_id)


def staff_for_token(ctx: ServiceContext, slug: str, token: str) -> Staff | None:
    found = ctx.store.staff_for_token(slug, hash_secret(token), ctx.settings.now_ms())
    if found is None:
        return None
    user, record = found
    now_ms = ctx.settings.now_ms()
    resolution_ms = int(ctx.settings.last_contact_resolution_s * 1000)
    if record.last_used_ms is None or now_ms - record.last_used_ms >= resolution_ms:
        ctx.store.touch_staff_token(slug, record.token_id, now_ms, resolution_ms)
    return Staff(
        slug, user.username, Role(user.role), tuple(json.loads(user.sites)), record.token_id
    )


# ---------------------------------------------------------------------------------- login


@dataclass
class LoginLimiter:
    """Failed logins in a sliding window, per account and per address (in this process).

    Only keys with a failure inside the window are kept: a key is dropped when its last
    failure leaves the window, and every key is swept once per window, so memory follows
    the recent failures, not every account and address ever seen."""

    window_ms: int
    per_account: int
    per_address: int
    _failures: dict[str, deque[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_sweep_ms: int = 0

    def blocked_for_ms(self, keys: dict[str, int], now_ms: int) -> int:
        """How long until every key is under its limit again (0: not blocked)."""
        with self._lock:
            wait = 0
            for key, limit in keys.items():
                times = self._recent(key, now_ms)
                if len(times) >= limit:
                    wait = max(wait, times[0] + self.window_ms - now_ms)
            return wait

    def failed(self, keys: list[str], now_ms: int) -> None:
        with self._lock:
            if now_ms >= self._next_sweep_ms:
                for key in list(self._failures):
                    self._recent(key, now_ms)
                self._next_sweep_ms = now_ms + self.window_ms
            for key in keys:
                self._failures.setdefault(key, deque()).append(now_ms)

    def __len__(self) -> int:
        """How many accounts and addresses it holds failures of."""
        with self._lock:
            return len(self._failures)

    def _recent(self, key: str, now_ms: int) -> deque[int]:
        """The key's failures inside the window; a key left with none is dropped."""
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now_ms - self.window_ms:
            times.popleft()
        if not times:
            del self._failures[key]
        return times


def login(
    ctx: ServiceContext, limiter: LoginLimiter, slug: str, username: str, password: str,
    address: str, token_name: str, expires_in_s: float | None,
) -> tuple[str, StaffToken, StaffUser]:  # fmt: skip
    """Check a password and issue a token. Unknown user, disabled account and wrong password
    get the same refusal; too many failures per account or address get 429."""
    now_ms = ctx.settings.now_ms()
    account_key, address_key = f"user:{slug}:{username}", f"addr:{address}"
    wait_ms = limiter.blocked_for_ms(
        {account_key: limiter.per_account, address_key: limiter.per_address}, now_ms
    )
    if wait_ms > 0:
        seconds = max(1, -(-wait_ms // 1000))
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed logins: try again in {seconds} s",
            {"Retry-After": str(seconds)},
        )
    user = ctx.store.get_user(slug, username)
    stored = _DUMMY_HASH if user is None else user.password_hash
    if stored == NO_PASSWORD:  # verified all the same, so its answer takes as long
        stored = _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password) and stored is not _DUMMY_HASH
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        limiter.failed([account_key, address_key], now_ms)
        record_change(ctx, slug, f"login:{address}", "login.refused", "user", username[:64])
        raise ApiError(401, "invalid_grant", REFUSED)
    token, record = issue_token(ctx, slug, username, username, token_name, expires_in_s)
    return token, record, user


# ---------------------------------------------------------------------------------- migration


def migrate_shared_tokens(ctx: ServiceContext, slug: str) -> int:
    """Turn the shared admin token of the previous release into a token of the network
    administrator `admin` (made without a password if missing): it keeps working, and what
    it does is now recorded under that account. Returns how many tokens were migrated."""
    shared = ctx.store.shared_admin_tokens(slug)
    if not shared:
        return 0
    if ctx.store.get_user(slug, MIGRATED_ADMIN) is None:
        add_user(ctx, slug, "server:migration", MIGRATED_ADMIN, Role.NETWORK_ADMIN, [], None)
    for token_hash, created_ms in shared:
        record = StaffToken(
            tenant=slug,
            token_id="tok-" + secrets.token_hex(6),
            username=MIGRATED_ADMIN,
            name=MIGRATED_TOKEN_NAME,
            created_ms=created_ms,
            expires_ms=None,
            revoked_ms=None,
            last_used_ms=None,
        )
        ctx.store.insert_staff_token(slug, token_hash, record)
        ctx.store.forget_shared_admin_token(token_hash)
        record_change(
            ctx, slug, "server:migration", "token.migrate", "token", record.token_id,
            after=token_view(record),
        )  # fmt: skip
    return len(shared)
