"""Retiring tracks and playlists: they leave every kiosk at its next sync, their plays stay.

A retired playlist is assigned nowhere and no longer featured; the desired states that name
it are sent again without it. A retired track leaves every playlist document (the playlists
holding it get a new revision, so kiosks fetch them again) and its media is no longer served
to kiosks, which then evict the file (the synced document no longer needs it). Rows are kept:
play reports still count and name them.
"""

from __future__ import annotations

import logging
from typing import Any

from tenant.accounts import Staff
from tenant.audit import record_change
from tenant.catalogue import playlist_content, playlist_revision
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.scope import check_playlist
from tenant.site_settings import republish
from tenant.store import ACTIVE, Tenant

log = logging.getLogger(__name__)

Json = dict[str, Any]


def retire_track(ctx: ServiceContext, tenant: Tenant, track_id: str, *, staff: Staff) -> Json:
    """A curator may retire a track only if every live playlist holding it is theirs to edit:
    retiring it changes those playlists on every kiosk they go to."""
    for holder in ctx.store.list_playlists(tenant.slug):
        if track_id in holder.track_ids and holder.retired_ms is None:
            check_playlist(staff, ctx.store, holder, f"retire {track_id} (in {holder.id})")
    actor = staff.username
    now_ms = ctx.settings.now_ms()
    holders = ctx.store.retire_track(tenant.slug, track_id, now_ms)
    if holders is None:
        raise ApiError(404, "not_found", f"no track {track_id!r}")
    for playlist_id in holders:  # what kiosks see of these changed: a new revision
        playlist = ctx.store.get_playlist(tenant.slug, playlist_id)
        if playlist is None:
            continue
        tracks = ctx.store.tracks_by_id(tenant.slug, playlist.track_ids)
        live = {k: t for k, t in tracks.items() if t.retired_ms is None}
        revision = playlist_revision(playlist_content(tenant.slug, playlist, live))
        ctx.store.set_playlist_revision(tenant.slug, playlist_id, revision, now_ms)
    record_change(
        ctx, tenant.slug, actor, "track.retire", "track", track_id,
        after={"retired": True, "playlists": holders},
    )  # fmt: skip
    log.info("tenant %s: track %s retired (in %d playlists)", tenant.slug, track_id, len(holders))
    return {"id": track_id, "retired": True, "playlists": holders}


def retire_playlist(ctx: ServiceContext, tenant: Tenant, playlist_id: str, *, staff: Staff) -> Json:
    actor = staff.username
    before = ctx.store.get_playlist(tenant.slug, playlist_id)
    if before is not None:
        check_playlist(staff, ctx.store, before, f"retire {playlist_id}")
    if before is None or not ctx.store.retire_playlist(
        tenant.slug, playlist_id, ctx.settings.now_ms()
    ):
        raise ApiError(404, "not_found", f"no playlist {playlist_id!r}")
    record_change(
        ctx, tenant.slug, actor, "playlist.retire", "playlist", playlist_id,
        before={"sites": list(before.sites), "devices": list(before.devices),
                "featured": before.featured},
        after={"retired": True},
    )  # fmt: skip

    def without(_device_id: str, document: Json) -> Json:
        document["playlists"] = [p for p in document.get("playlists", []) if p != playlist_id]
        if document.get("featured") == playlist_id:
            del document["featured"]
        if "schedule" in document:
            document["schedule"] = [
                s for s in document["schedule"] if s.get("playlist") != playlist_id
            ]
        return document

    devices = [d.device_id for d in ctx.store.list_devices(tenant.slug) if d.status == ACTIVE]
    sent = republish(ctx, tenant, devices, without, actor=actor, action="playlist.retire")
    log.info("tenant %s: playlist %s retired", tenant.slug, playlist_id)
    return {"id": playlist_id, "retired": True, "desired_states_sent": sent}
