"""Site settings, enrollment tokens, retirement, and alert state (issue 15, field readiness).

Site settings: the row with site "" holds the network's defaults; a site's row overrides the
values it sets (None: inherited). Enrollment tokens keep only their sha256, as staff tokens do;
a use is counted in the same transaction that checks the token, so two kiosks enrolling at
once never both take a token's last use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, union_all, update

from tenant.store.database import Database
from tenant.store.records import record
from tenant.store.schema import (
    alert_settings,
    alert_states,
    assignments,
    enrollment_tokens,
    playlist_tracks,
    playlists,
    site_settings,
    tracks,
)
from tenant.store.upsert import upsert

NETWORK = ""  # the site_settings row of the network's defaults
RETIRED_MEDIA_LIMIT = 1000  # playlists.json: `retired` holds at most this many


@dataclass(frozen=True)
class SiteSettings:
    tenant: str
    site: str
    timezone: str | None
    when_closed: str | None
    updated_ms: int


@dataclass(frozen=True)
class EnrollmentToken:
    tenant: str
    token_id: str
    site: str
    created_by: str
    created_ms: int
    expires_ms: int | None
    max_uses: int | None
    uses: int
    revoked_ms: int | None


@dataclass(frozen=True)
class AlertSettings:
    tenant: str
    webhook_url: str | None
    offline_after_s: int | None
    updated_ms: int


@dataclass(frozen=True)
class AlertState:
    tenant: str
    device_id: str
    condition: str
    since_ms: int
    detail: str | None


class FieldQueries(Database):
    # ------------------------------------------------------------------ site settings

    def site_settings(self, slug: str) -> dict[str, SiteSettings]:
        """Every row of the tenant by site ("" for the network's defaults)."""
        query = select(site_settings).where(site_settings.c.tenant == slug)
        with self._read() as conn:
            return {row.site: record(SiteSettings, row) for row in conn.execute(query)}

    def save_site_settings(self, settings: SiteSettings) -> None:
        values = {
            "tenant": settings.tenant,
            "site": settings.site,
            "timezone": settings.timezone,
            "when_closed": settings.when_closed,
            "updated_ms": settings.updated_ms,
        }
        with self._write() as conn:
            upsert(conn, site_settings, values, {k: values[k] for k in list(values)[2:]})

    # ------------------------------------------------------------------ enrollment tokens

    def insert_enrollment_token(self, token: EnrollmentToken, token_hash: str) -> None:
        values = {**token.__dict__, "token_hash": token_hash}
        with self._write() as conn:
            conn.execute(insert(enrollment_tokens).values(values))

    def list_enrollment_tokens(self, slug: str) -> list[EnrollmentToken]:
        query = (
            select(enrollment_tokens)
            .where(enrollment_tokens.c.tenant == slug)
            .order_by(enrollment_tokens.c.created_ms, enrollment_tokens.c.token_id)
        )
        with self._read() as conn:
            return [record(EnrollmentToken, row) for row in conn.execute(query)]

    def revoke_enrollment_token(self, slug: str, token_id: str, now_ms: int) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(enrollment_tokens)
                .where(
                    enrollment_tokens.c.tenant == slug,
                    enrollment_tokens.c.token_id == token_id,
                    enrollment_tokens.c.revoked_ms.is_(None),
                )
                .values(revoked_ms=now_ms)
            )
        return result.rowcount > 0

    def use_enrollment_token(
        self, slug: str, token_hash: str, now_ms: int
    ) -> tuple[EnrollmentToken | None, str | None]:
        """Take one use of the token: (the token, None), or (the token or None, why not)."""
        t = enrollment_tokens.c
        with self._write() as conn:
            row = conn.execute(
                select(enrollment_tokens).where(t.tenant == slug, t.token_hash == token_hash)
            ).first()
            if row is None:
                return None, "unknown enrollment token"
            token = record(EnrollmentToken, row)
            if token.revoked_ms is not None:
                return token, "enrollment token revoked"
            if token.expires_ms is not None and token.expires_ms <= now_ms:
                return token, "enrollment token expired"
            taken = conn.execute(
                update(enrollment_tokens)
                .where(
                    t.tenant == slug,
                    t.token_id == token.token_id,
                    t.max_uses.is_(None) | (t.uses < t.max_uses),
                )
                .values(uses=t.uses + 1)
            )
            if taken.rowcount == 0:
                return token, "enrollment token used up"
        return token, None

    # ------------------------------------------------------------------ retirement

    def retire_track(self, slug: str, track_id: str, now_ms: int) -> list[str] | None:
        """Mark the track retired; the ids of the playlists holding it (None: no such track)."""
        with self._write() as conn:
            result = conn.execute(
                update(tracks)
                .where(tracks.c.tenant == slug, tracks.c.id == track_id)
                .values(retired_ms=now_ms)
            )
            if result.rowcount == 0:
                return None
            query = select(playlist_tracks.c.playlist_id).where(
                playlist_tracks.c.tenant == slug, playlist_tracks.c.track_id == track_id
            )
            return list(dict.fromkeys(row.playlist_id for row in conn.execute(query)))

    def set_playlist_revision(
        self, slug: str, playlist_id: str, revision: str, now_ms: int
    ) -> None:
        with self._write() as conn:
            conn.execute(
                update(playlists)
                .where(playlists.c.tenant == slug, playlists.c.id == playlist_id)
                .values(revision=revision, updated_ms=now_ms)
            )

    def retire_playlist(self, slug: str, playlist_id: str, now_ms: int) -> bool:
        """Mark it retired, not featured, assigned nowhere; False when there is no such one."""
        with self._write() as conn:
            result = conn.execute(
                update(playlists)
                .where(playlists.c.tenant == slug, playlists.c.id == playlist_id)
                .values(retired_ms=now_ms, featured=False, updated_ms=now_ms)
            )
            if result.rowcount == 0:
                return False
            conn.execute(
                delete(assignments).where(
                    assignments.c.tenant == slug, assignments.c.playlist_id == playlist_id
                )
            )
        return True

    def retired_media(self, slug: str, limit: int = RETIRED_MEDIA_LIMIT) -> list[str]:
        """The media of retired tracks and of retired playlists' tracks, newest first."""
        of_tracks = select(tracks.c.sha256, tracks.c.retired_ms.label("at")).where(
            tracks.c.tenant == slug, tracks.c.retired_ms.is_not(None)
        )
        of_playlists = (
            select(tracks.c.sha256, playlists.c.retired_ms.label("at"))
            .join(
                playlist_tracks,
                (playlist_tracks.c.tenant == tracks.c.tenant)
                & (playlist_tracks.c.track_id == tracks.c.id),
            )
            .join(
                playlists,
                (playlists.c.tenant == playlist_tracks.c.tenant)
                & (playlists.c.id == playlist_tracks.c.playlist_id),
            )
            .where(tracks.c.tenant == slug, playlists.c.retired_ms.is_not(None))
        )
        both = union_all(of_tracks, of_playlists).subquery()
        query = (
            select(both.c.sha256, func.max(both.c.at).label("at"))
            .group_by(both.c.sha256)
            .order_by(func.max(both.c.at).desc(), both.c.sha256)
            .limit(limit)
        )
        with self._read() as conn:
            return [row.sha256 for row in conn.execute(query)]

    # ------------------------------------------------------------------ alerts

    def alert_settings(self, slug: str) -> AlertSettings | None:
        query = select(alert_settings).where(alert_settings.c.tenant == slug)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record(AlertSettings, row)

    def save_alert_settings(self, settings: AlertSettings) -> None:
        values: dict[str, Any] = dict(settings.__dict__)
        with self._write() as conn:
            upsert(conn, alert_settings, values, {k: v for k, v in values.items() if k != "tenant"})

    def tenants_with_webhooks(self) -> list[str]:
        query = select(alert_settings.c.tenant).where(alert_settings.c.webhook_url.is_not(None))
        with self._read() as conn:
            return [row.tenant for row in conn.execute(query)]

    def alert_states(self, slug: str) -> list[AlertState]:
        query = select(alert_states).where(alert_states.c.tenant == slug)
        with self._read() as conn:
            return [record(AlertState, row) for row in conn.execute(query)]

    def change_alert_states(
        self, slug: str, started: Sequence[AlertState], ended: Sequence[tuple[str, str]]
    ) -> None:
        """Record conditions that started and forget those that ended (device, condition)."""
        with self._write() as conn:
            for state in started:
                values = dict(state.__dict__)
                upsert(conn, alert_states, values, {"detail": state.detail})
            for device_id, condition in ended:
                conn.execute(
                    delete(alert_states).where(
                        alert_states.c.tenant == slug,
                        alert_states.c.device_id == device_id,
                        alert_states.c.condition == condition,
                    )
                )
