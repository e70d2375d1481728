"""Creating a tenant: its row, its MQTT settings and its admin token (stored hashed)."""

from __future__ import annotations

import re
from pathlib import Path

from tenant.context import open_context
from tenant.credentials import hash_secret, new_admin_token
from tenant.store import Tenant

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


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
    """Create (or update) a tenant and return a new admin token; any previous one stops
    working. The token is shown only here: the store keeps its hash."""
    if not SLUG.fullmatch(slug):
        raise ValueError(f"tenant slug {slug!r}: use lowercase letters, digits and dashes")
    if not name.strip():
        raise ValueError("a tenant needs a name")
    ctx = open_context(data_dir, database_url)
    try:
        existing = ctx.store.get_tenant(slug)
        now_ms = ctx.settings.now_ms()
        token = new_admin_token()
        tenant = Tenant(
            slug=slug,
            name=name.strip(),
            mqtt_host=mqtt_host,
            mqtt_port=mqtt_port,
            mqtt_tls=mqtt_tls,
            created_ms=existing.created_ms if existing else now_ms,
        )
        ctx.store.put_tenant(tenant, hash_secret(token))
    finally:
        ctx.store.close()
    return token
