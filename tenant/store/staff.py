"""Staff accounts, their API tokens, and the append-only audit log.

Tokens are random and high-entropy, so only their sha256 is kept (as for device tokens);
passwords are hashed with Argon2id by tenant/accounts.py before they reach this layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tenant.store.database import Database
from tenant.store.records import AuditEntry, StaffToken, StaffUser, record
from tenant.store.schema import admin_tokens, audit_log, staff_tokens, staff_users

AUDIT_LIMIT = 1000


class StaffQueries(Database):
    # ------------------------------------------------------------------ accounts

    def insert_user(self, user: StaffUser) -> bool:
        """False when the username is taken in this tenant."""
        values = {f.name: getattr(user, f.name) for f in fields(user)}
        try:
            with self._write() as conn:
                conn.execute(insert(staff_users).values(values))
        except IntegrityError:
            return False
        return True

    def get_user(self, slug: str, username: str) -> StaffUser | None:
        query = select(staff_users).where(
            staff_users.c.tenant == slug, staff_users.c.username == username
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(StaffUser, row)

    def list_users(self, slug: str) -> list[StaffUser]:
        query = (
            select(staff_users).where(staff_users.c.tenant == slug).order_by(staff_users.c.username)
        )
        with self._read() as conn:
            return [record(StaffUser, row) for row in conn.execute(query)]

    def update_user(self, slug: str, username: str, **values: Any) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(staff_users)
                .where(staff_users.c.tenant == slug, staff_users.c.username == username)
                .values(**values)
            )
        return result.rowcount > 0

    # ------------------------------------------------------------------ tokens

    def insert_staff_token(self, slug: str, token_hash: str, token: StaffToken) -> None:
        values = {f.name: getattr(token, f.name) for f in fields(token)}
        with self._write() as conn:
            conn.execute(insert(staff_tokens).values(token_hash=token_hash, **values))

    def staff_for_token(
        self, slug: str, token_hash: str, now_ms: int
    ) -> tuple[StaffUser, StaffToken] | None:
        """The enabled account holding this live token under this tenant, and the token."""
        token_query = select(staff_tokens).where(
            staff_tokens.c.token_hash == token_hash,
            staff_tokens.c.tenant == slug,
            staff_tokens.c.revoked_ms.is_(None),
            or_(staff_tokens.c.expires_ms.is_(None), staff_tokens.c.expires_ms > now_ms),
        )
        with self._read() as conn:
            token_row = conn.execute(token_query).first()
            if token_row is None:
                return None
            token = record(StaffToken, token_row)
            user_row = conn.execute(
                select(staff_users).where(
                    staff_users.c.tenant == slug,
                    staff_users.c.username == token.username,
                    staff_users.c.disabled.is_(False),
                )
            ).first()
        return None if user_row is None else (record(StaffUser, user_row), token)

    def touch_staff_token(self, slug: str, token_id: str, now_ms: int, resolution_ms: int) -> None:
        """Record a use, writing at most once per `resolution_ms`."""
        with self._write() as conn:
            conn.execute(
                update(staff_tokens)
                .where(
                    staff_tokens.c.tenant == slug,
                    staff_tokens.c.token_id == token_id,
                    or_(
                        staff_tokens.c.last_used_ms.is_(None),
                        staff_tokens.c.last_used_ms <= now_ms - resolution_ms,
                    ),
                )
                .values(last_used_ms=now_ms)
            )

    def list_staff_tokens(self, slug: str, username: str | None = None) -> list[StaffToken]:
        query = select(staff_tokens).where(staff_tokens.c.tenant == slug)
        if username is not None:
            query = query.where(staff_tokens.c.username == username)
        query = query.order_by(staff_tokens.c.created_ms, staff_tokens.c.token_id)
        with self._read() as conn:
            return [record(StaffToken, row) for row in conn.execute(query)]

    def get_staff_token(self, slug: str, token_id: str) -> StaffToken | None:
        query = select(staff_tokens).where(
            staff_tokens.c.tenant == slug, staff_tokens.c.token_id == token_id
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(StaffToken, row)

    def revoke_staff_tokens(
        self, slug: str, now_ms: int, *, token_id: str | None = None, username: str | None = None,
        name: str | None = None,
    ) -> int:  # fmt: skip
        """Revoke live tokens matching all the criteria given; how many were revoked."""
        query = update(staff_tokens).where(
            staff_tokens.c.tenant == slug, staff_tokens.c.revoked_ms.is_(None)
        )
        if token_id is not None:
            query = query.where(staff_tokens.c.token_id == token_id)
        if username is not None:
            query = query.where(staff_tokens.c.username == username)
        if name is not None:
            query = query.where(staff_tokens.c.name == name)
        with self._write() as conn:
            return conn.execute(query.values(revoked_ms=now_ms)).rowcount

    # ------------------------------------------------------------------ the shared admin token

    def shared_admin_tokens(self, slug: str) -> list[tuple[str, int]]:
        """(token hash, created_ms) of the shared tokens of the previous release."""
        query = select(admin_tokens.c.token_hash, admin_tokens.c.created_ms).where(
            admin_tokens.c.tenant == slug
        )
        with self._read() as conn:
            return [(row[0], row[1]) for row in conn.execute(query)]

    def tenants_with_shared_tokens(self) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(select(admin_tokens.c.tenant).distinct()).scalars())

    def forget_shared_admin_token(self, token_hash: str) -> None:
        with self._write() as conn:
            conn.execute(delete(admin_tokens).where(admin_tokens.c.token_hash == token_hash))

    # ------------------------------------------------------------------ audit

    def append_audit(self, entry: AuditEntry) -> None:
        values = {f.name: getattr(entry, f.name) for f in fields(entry) if f.name != "id"}
        with self._write() as conn:
            conn.execute(insert(audit_log).values(values))

    def audit_entries(
        self,
        slug: str,
        *,
        since_ms: int | None = None,
        actor: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        limit: int = AUDIT_LIMIT,
    ) -> Sequence[AuditEntry]:
        """The newest `limit` entries matching, oldest first."""
        query = select(audit_log).where(audit_log.c.tenant == slug)
        if since_ms is not None:
            query = query.where(audit_log.c.at_ms >= since_ms)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if object_type is not None:
            query = query.where(audit_log.c.object_type == object_type)
        if object_id is not None:
            query = query.where(audit_log.c.object_id == object_id)
        query = query.order_by(audit_log.c.id.desc()).limit(limit)
        with self._read() as conn:
            rows = [record(AuditEntry, row) for row in conn.execute(query)]
        return rows[::-1]
