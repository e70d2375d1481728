"""Creating a tenant: its row, its MQTT settings, its first network administrator and that
administrator's API token for `jukebox admin` (stored hashed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tenant.store import Tenant

if TYPE_CHECKING:
    from tenant.context import ServiceContext

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
FIRST_ADMIN = "admin"
INIT_TOKEN_NAME = "tenant init"


@dataclass(frozen=True)
class TenantInit:
    token: str  # the administrator's new API token (the credentials file's)
    username: str
    password: str | None  # set only when the account was made now: show it once


def setup_tenant(
    data_dir: Path,
    slug: str,
    name: str,
    *,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 8883,
    mqtt_tls: bool = True,
    database_url: str | None = None,
    admin_user: str = FIRST_ADMIN,
    admin_password: str | None = None,
    actor: str = "server:init",
    timezone: str | None = None,
) -> TenantInit:
    """Create (or update) a tenant. Its first network administrator `admin_user` is made
    when missing (with `admin_password`, or a generated one returned once), and gets a new
    API token named "tenant init"; the previous such token stops working."""
    from tenant import accounts
    from tenant.audit import record_change
    from tenant.context import open_context
    from tenant.roles import Role

    if not SLUG.fullmatch(slug):
        raise ValueError(f"tenant slug {slug!r}: use lowercase letters, digits and dashes")
    if not name.strip():
        raise ValueError("a tenant needs a name")
    if timezone is not None:
        from tenant.errors import ApiError
        from tenant.site_settings import check_timezone

        try:
            check_timezone(timezone)  # before anything is written
        except ApiError as exc:
            raise ValueError(exc.description) from None
    ctx = open_context(data_dir, database_url)
    try:
        existing = ctx.store.get_tenant(slug)
        now_ms = ctx.settings.now_ms()
        tenant = Tenant(
            slug=slug,
            name=name.strip(),
            mqtt_host=mqtt_host,
            mqtt_port=mqtt_port,
            mqtt_tls=mqtt_tls,
            created_ms=existing.created_ms if existing else now_ms,
        )
        ctx.store.put_tenant(tenant)
        record_change(
            ctx, slug, actor, "tenant.init", "tenant", slug,
            before=None if existing is None else {"name": existing.name},
            after={"name": tenant.name, "mqtt": f"{mqtt_host}:{mqtt_port}"},
        )  # fmt: skip
        if timezone is not None:
            _set_network_timezone(ctx, tenant, timezone, actor)
        accounts.migrate_shared_tokens(ctx, slug)
        password = None
        user = ctx.store.get_user(slug, admin_user)
        if user is not None and (user.role != Role.NETWORK_ADMIN or user.disabled):
            raise ValueError(
                f"user {admin_user!r} of {slug!r} is not an enabled network administrator"
            )
        if user is None:
            password = admin_password or accounts.new_password()
            accounts.add_user(ctx, slug, actor, admin_user, Role.NETWORK_ADMIN, [], password)
        elif user.password_hash == accounts.NO_PASSWORD:  # made by the migration
            password = admin_password or accounts.new_password()
            accounts.update_user(ctx, slug, actor, admin_user, password=password)
        ctx.store.revoke_staff_tokens(slug, now_ms, username=admin_user, name=INIT_TOKEN_NAME)
        token, _ = accounts.issue_token(ctx, slug, actor, admin_user, INIT_TOKEN_NAME, None)
    finally:
        ctx.store.close()
    return TenantInit(token, admin_user, password if admin_password is None else None)


def _set_network_timezone(ctx: ServiceContext, tenant: Tenant, timezone: str, actor: str) -> None:
    """The network's time zone (tenant/site_settings.py), refused by name if unknown."""
    from tenant import site_settings
    from tenant.errors import ApiError

    try:
        site_settings.save(ctx, tenant, None, {"timezone": timezone}, actor=actor)
    except ApiError as exc:
        raise ValueError(exc.description) from None


def init_tenant(
    data_dir: Path,
    slug: str,
    name: str,
    *,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 8883,
    mqtt_tls: bool = True,
    database_url: str | None = None,
) -> str:
    """`setup_tenant`, returning only the administrator's API token (as tests need)."""
    return setup_tenant(
        data_dir, slug, name, mqtt_host=mqtt_host, mqtt_port=mqtt_port, mqtt_tls=mqtt_tls,
        database_url=database_url,
    ).token  # fmt: skip
