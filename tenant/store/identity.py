"""Tenants, admin tokens, devices, assertion ids and access tokens."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tenant.store.database import Database
from tenant.store.records import ACTIVE, PENDING, REVOKED, Device, Tenant, record
from tenant.store.schema import access_tokens, admin_tokens, assertion_ids, devices, tenants


class IdentityQueries(Database):
    # ------------------------------------------------------------------ tenants

    def put_tenant(self, tenant: Tenant, admin_token_hash: str | None = None) -> None:
        """Create or update a tenant; a shared admin token given replaces the previous one
        (the previous release's scheme: tenant/accounts.py migrates them to an account)."""
        values = {f.name: getattr(tenant, f.name) for f in fields(tenant)}
        with self._write() as conn:
            found = conn.execute(select(tenants.c.slug).where(tenants.c.slug == tenant.slug))
            if found.first() is None:
                conn.execute(insert(tenants).values(values))
            else:
                del values["created_ms"]
                conn.execute(update(tenants).where(tenants.c.slug == tenant.slug).values(values))
            if admin_token_hash is None:
                return
            conn.execute(delete(admin_tokens).where(admin_tokens.c.tenant == tenant.slug))
            conn.execute(
                insert(admin_tokens).values(
                    token_hash=admin_token_hash, tenant=tenant.slug, created_ms=tenant.created_ms
                )
            )

    def get_tenant(self, slug: str) -> Tenant | None:
        with self._read() as conn:
            row = conn.execute(select(tenants).where(tenants.c.slug == slug)).first()
        return None if row is None else record(Tenant, row)

    def is_admin_token(self, slug: str, token_hash: str) -> bool:
        query = select(admin_tokens.c.tenant).where(
            admin_tokens.c.token_hash == token_hash, admin_tokens.c.tenant == slug
        )
        with self._read() as conn:
            return conn.execute(query).first() is not None

    # ------------------------------------------------------------------ devices

    def get_device(self, slug: str, device_id: str) -> Device | None:
        query = select(devices).where(devices.c.tenant == slug, devices.c.device_id == device_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(Device, row)

    def list_devices(self, slug: str) -> list[Device]:
        query = (
            select(devices)
            .where(devices.c.tenant == slug)
            .order_by(devices.c.enrolled_ms, devices.c.device_id)
        )
        with self._read() as conn:
            return [record(Device, row) for row in conn.execute(query)]

    def insert_device(self, device: Device) -> bool:
        """False when the device is already there (a concurrent enrollment won)."""
        values = {f.name: getattr(device, f.name) for f in fields(device)}
        try:
            with self._write() as conn:
                conn.execute(insert(devices).values(values))
        except IntegrityError:
            return False
        return True

    def update_device(self, slug: str, device_id: str, **values: Any) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(devices)
                .where(devices.c.tenant == slug, devices.c.device_id == device_id)
                .values(**values)
            )
        return result.rowcount > 0

    def claim_code_in_use(self, slug: str, code_hash: str, now_ms: int) -> bool:
        query = select(devices.c.device_id).where(
            devices.c.tenant == slug,
            devices.c.claim_code_hash == code_hash,
            devices.c.claim_expires_ms > now_ms,
        )
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def claim(
        self, slug: str, code_hash: str, site: str, name: str | None, nonce: str, now_ms: int
    ) -> Device | None:
        """Activate the pending device showing this code; None if no such valid code."""
        with self._write() as conn:
            row = conn.execute(
                select(devices).where(
                    devices.c.tenant == slug,
                    devices.c.claim_code_hash == code_hash,
                    devices.c.status == PENDING,
                    devices.c.claim_expires_ms > now_ms,
                )
            ).first()
            if row is None:
                return None
            device = record(Device, row)
            conn.execute(
                update(devices)
                .where(
                    devices.c.tenant == slug,
                    devices.c.device_id == device.device_id,
                    devices.c.claim_code_hash == code_hash,
                )
                .values(
                    status=ACTIVE,
                    site=site,
                    name=name if name is not None else device.name,
                    claim_code_hash=None,
                    claim_expires_ms=None,
                    mqtt_nonce=nonce,
                    claimed_ms=now_ms,
                    revoked_ms=None,
                )
            )
        return self.get_device(slug, device.device_id)

    def revoke(self, slug: str, device_id: str, now_ms: int) -> bool:
        """Revoke a device and drop its access tokens, in one transaction."""
        with self._write() as conn:
            result = conn.execute(
                update(devices)
                .where(devices.c.tenant == slug, devices.c.device_id == device_id)
                .values(status=REVOKED, revoked_ms=now_ms, claim_code_hash=None, mqtt_nonce=None)
            )
            conn.execute(
                delete(access_tokens).where(
                    access_tokens.c.tenant == slug, access_tokens.c.device_id == device_id
                )
            )
        return result.rowcount > 0

    def touch(self, slug: str, device_id: str, now_ms: int, resolution_ms: int) -> None:
        """Record a contact, writing at most once per `resolution_ms`."""
        with self._write() as conn:
            conn.execute(
                update(devices)
                .where(
                    devices.c.tenant == slug,
                    devices.c.device_id == device_id,
                    or_(
                        devices.c.last_contact_ms.is_(None),
                        devices.c.last_contact_ms <= now_ms - resolution_ms,
                    ),
                )
                .values(last_contact_ms=now_ms)
            )

    # ------------------------------------------------------------------ assertions, tokens

    def remember_assertion(self, slug: str, device_id: str, jti: str, expires_ms: int) -> bool:
        """Record an assertion id; False when it was seen before (a replay)."""
        try:
            with self._write() as conn:
                conn.execute(
                    insert(assertion_ids).values(
                        tenant=slug, device_id=device_id, jti=jti, expires_ms=expires_ms
                    )
                )
        except IntegrityError:
            return False
        return True

    def forget_expired(self, now_ms: int) -> None:
        with self._write() as conn:
            conn.execute(delete(assertion_ids).where(assertion_ids.c.expires_ms < now_ms))
            conn.execute(delete(access_tokens).where(access_tokens.c.expires_ms < now_ms))

    def insert_access_token(
        self, token_hash: str, slug: str, device_id: str, now_ms: int, expires_ms: int
    ) -> None:
        with self._write() as conn:
            conn.execute(
                insert(access_tokens).values(
                    token_hash=token_hash,
                    tenant=slug,
                    device_id=device_id,
                    issued_ms=now_ms,
                    expires_ms=expires_ms,
                )
            )

    def device_for_token(self, slug: str, token_hash: str, now_ms: int) -> Device | None:
        """The active device holding this unexpired access token under this tenant."""
        query = (
            select(devices)
            .join(
                access_tokens,
                and_(
                    access_tokens.c.tenant == devices.c.tenant,
                    access_tokens.c.device_id == devices.c.device_id,
                ),
            )
            .where(
                access_tokens.c.token_hash == token_hash,
                access_tokens.c.tenant == slug,
                access_tokens.c.expires_ms > now_ms,
                devices.c.status == ACTIVE,
            )
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(Device, row)
