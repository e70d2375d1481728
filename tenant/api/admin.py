"""`/v1/admin/*`: media, tracks, playlists and their assignments, claims, devices (admin token)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from contract.ids import Sha256, is_sha256
from contract.media import CacheIntegrityError
from tenant import enrollment
from tenant.api.models import (
    AssignBody,
    ClaimAnswer,
    ClaimBody,
    DeviceAnswer,
    DeviceUpdateBody,
    MediaAnswer,
    PlaylistAnswer,
    PlaylistBody,
    RevokeAnswer,
    TrackAnswer,
    TrackBody,
    TrackEditBody,
)
from tenant.api.routers import staff_router
from tenant.audit import record_change
from tenant.auth import Context, CurrentTenant, StaffCaller
from tenant.catalogue import (
    Json,
    admin_playlist_view,
    edit_track,
    hours_problems,
    playlist_content,
    playlist_revision,
    track_id_for,
    track_view,
)
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.scope import check_devices, check_playlist, check_sites
from tenant.store import Device, Playlist, Tenant, Track
from tenant.timefmt import rfc3339, to_ms

log = logging.getLogger(__name__)

router = staff_router("admin")

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
Sha256Path = Annotated[str, Path(description="lowercase sha256 hex of the file")]


# ---------------------------------------------------------------------------------- media


@router.head("/media/{sha256}", responses={200: {"description": "the tenant has this file"}})
def media_exists(sha256: Sha256Path, ctx: Context, tenant: CurrentTenant) -> Response:
    """Whether the tenant already has this file (so an import need not upload it again)."""
    size = ctx.store.media_size(tenant.slug, sha256) if is_sha256(sha256) else None
    if size is None or ctx.media.path_for(Sha256(sha256)) is None:
        return Response(status_code=404)
    return Response(status_code=200, headers={"Content-Length": str(size)})


class _TooLarge(Exception):
    pass


@router.put(
    "/media/{sha256}",
    status_code=201,
    response_model=MediaAnswer,
    responses={200: {"model": MediaAnswer, "description": "already there"}, 413: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_media(
    sha256: Sha256Path, request: Request, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> JSONResponse:
    """Store a file under its sha256; the upload is hashed while it streams into the store."""
    if not is_sha256(sha256):
        raise ApiError(422, "invalid_request", "the path must end with a lowercase sha256 hex")
    if sha256 == EMPTY_SHA256:
        raise ApiError(422, "invalid_request", "an empty file is not media")
    size = await run_in_threadpool(ctx.store.media_size, tenant.slug, sha256)
    if size is not None and ctx.media.path_for(Sha256(sha256)) is not None:
        return JSONResponse({"sha256": sha256, "size": size, "stored": False})
    limit = ctx.settings.max_media_size
    expected: int | None = None
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, "invalid_request", "malformed Content-Length")
        expected = int(length)
    if expected is not None and expected > limit:
        raise ApiError(413, "too_large", f"media are limited to {limit} bytes")
    stream = request.stream().__aiter__()

    async def next_chunk() -> bytes:
        return await stream.__anext__()

    def chunks() -> Iterator[bytes]:
        total = 0
        while True:
            try:
                chunk = anyio.from_thread.run(next_chunk)
            except StopAsyncIteration:
                return
            total += len(chunk)
            if total > limit:
                raise _TooLarge
            if chunk:
                yield chunk

    try:
        await anyio.to_thread.run_sync(
            lambda: ctx.media.add_stream(chunks(), Sha256(sha256), expected)
        )
    except CacheIntegrityError as exc:
        raise ApiError(422, "hash_mismatch", f"the upload does not match {sha256}: {exc}") from exc
    except _TooLarge:
        raise ApiError(413, "too_large", f"media are limited to {limit} bytes") from None
    except ClientDisconnect:
        log.info("upload of %s interrupted by the client", sha256)
        raise ApiError(400, "invalid_request", "the upload was interrupted") from None
    path = ctx.media.path_for(Sha256(sha256))
    assert path is not None
    stored_size = os.stat(path).st_size
    created = await run_in_threadpool(
        ctx.store.add_media, tenant.slug, sha256, stored_size, ctx.settings.now_ms()
    )
    body = {"sha256": sha256, "size": stored_size, "stored": True}
    if created:
        await run_in_threadpool(
            record_change, ctx, tenant.slug, caller.username, "media.upload", "media", sha256,
            after={"size": stored_size},
        )  # fmt: skip
    return JSONResponse(body, status_code=201 if created else 200)


# ---------------------------------------------------------------------------------- tracks


@router.post(
    "/tracks",
    status_code=201,
    response_model=TrackAnswer,
    responses={200: {"model": TrackAnswer, "description": "this sha256 already had a track"}},
)
def create_track(
    body: TrackBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> JSONResponse:
    """Register a track for an uploaded file; the same file again gives the existing track."""
    existing = ctx.store.track_by_sha256(tenant.slug, body.sha256)
    if existing is not None:
        return JSONResponse(track_view(existing), status_code=200)
    size = ctx.store.media_size(tenant.slug, body.sha256)
    if size is None:
        raise ApiError(422, "unknown_media", f"upload the media {body.sha256} first")
    track = Track(
        tenant=tenant.slug,
        id=track_id_for(body.sha256),
        sha256=body.sha256,
        size=size,
        title=body.title,
        artist=body.artist,
        album=body.album or None,
        isrc=body.isrc,
        duration_ms=body.duration_ms,
        replaygain_track_gain_db=body.replaygain_track_gain_db,
        created_ms=ctx.settings.now_ms(),
    )
    if not ctx.store.insert_track(track):
        existing = ctx.store.track_by_sha256(tenant.slug, body.sha256)
        if existing is None:
            raise ApiError(409, "conflict", f"track id {track.id} is taken by another file")
        return JSONResponse(track_view(existing), status_code=200)
    record_change(
        ctx, tenant.slug, caller.username, "track.import", "track", track.id,
        after=track_view(track),
    )  # fmt: skip
    return JSONResponse(track_view(track), status_code=201)


@router.get("/tracks", response_model=list[TrackAnswer])
def list_tracks(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    return [track_view(t) for t in ctx.store.list_tracks(tenant.slug)]


@router.patch("/tracks/{track_id}", response_model=TrackAnswer)
def update_track(
    track_id: Annotated[str, Path(max_length=200)], body: TrackEditBody, ctx: Context,
    tenant: CurrentTenant, caller: StaffCaller,
) -> Json:  # fmt: skip
    """Correct a track's title, artist, album or ISRC (those not given stay; an empty album or
    ISRC clears it); its playlists get a new revision for the kiosks."""
    changes = {k: v for k, v in body.model_dump().items() if v is not None}
    for name in ("album", "isrc"):
        if changes.get(name) == "":
            changes[name] = None
    return edit_track(ctx, tenant, track_id, changes, actor=caller.username)


# ---------------------------------------------------------------------------------- playlists


@router.post(
    "/playlists",
    status_code=201,
    response_model=PlaylistAnswer,
    responses={200: {"model": PlaylistAnswer, "description": "an existing playlist replaced"}},
)
def put_playlist(
    body: PlaylistBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> JSONResponse:
    """Create a playlist, or replace the content of one with this id (its assignments stay)."""
    hours = [h.model_dump(by_alias=True) for h in body.hours]
    problems = hours_problems(hours)
    valid_from = to_ms(body.valid_from) if body.valid_from else None
    valid_until = to_ms(body.valid_until) if body.valid_until else None
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        problems.append("valid_until must be after valid_from")
    tracks = ctx.store.tracks_by_id(tenant.slug, body.tracks)
    unknown = [t for t in dict.fromkeys(body.tracks) if t not in tracks]
    if unknown:
        problems.append(f"unknown track(s): {', '.join(unknown[:10])}")
    if problems:
        raise ApiError(422, "invalid_request", "; ".join(problems))
    before = ctx.store.get_playlist(tenant.slug, body.id)
    if before is not None:
        check_playlist(caller, ctx.store, before, f"edit {body.id}")
    now_ms = ctx.settings.now_ms()
    playlist = Playlist(
        tenant=tenant.slug,
        id=body.id,
        title=body.title,
        note=body.note,
        valid_from_ms=valid_from,
        valid_until_ms=valid_until,
        hours=json.dumps(hours),
        revision="",
        featured=False,
        created_ms=now_ms,
        updated_ms=now_ms,
        track_ids=tuple(body.tracks),
    )
    playlist = replace(
        playlist, revision=playlist_revision(playlist_content(tenant.slug, playlist, tracks))
    )
    created = ctx.store.save_playlist(playlist)
    record_change(
        ctx, tenant.slug, caller.username, "playlist.create" if created else "playlist.edit",
        "playlist", body.id, before=_content(before), after=_content(playlist),
    )  # fmt: skip
    return JSONResponse(_playlist_view(ctx, tenant, body.id), status_code=201 if created else 200)


@router.get("/playlists", response_model=list[PlaylistAnswer])
def list_playlists(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    found = ctx.store.list_playlists(tenant.slug)
    tracks = ctx.store.tracks_by_id(tenant.slug, {t for p in found for t in p.track_ids})
    return [admin_playlist_view(tenant.slug, p, tracks) for p in found]


@router.get("/playlists/{playlist_id}", response_model=PlaylistAnswer)
def show_playlist(playlist_id: str, ctx: Context, tenant: CurrentTenant) -> Json:
    return _playlist_view(ctx, tenant, playlist_id)


@router.post("/playlists/{playlist_id}/assign", response_model=PlaylistAnswer)
def assign_playlist(
    playlist_id: str, body: AssignBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Set where a playlist goes (replacing its previous sites and devices) and if featured.
    A curator may add or remove only their own sites, and their sites' kiosks."""
    sites = body.sites
    if any(not s or len(s) > 300 for s in sites):
        raise ApiError(422, "invalid_request", "a site name must have 1 to 300 characters")
    known = {d.device_id: d for d in ctx.store.list_devices(tenant.slug)}
    unknown = [d for d in body.devices if d not in known]
    if unknown:
        raise ApiError(422, "unknown_device", f"unknown device(s): {', '.join(unknown[:10])}")
    before = ctx.store.get_playlist(tenant.slug, playlist_id)
    if before is None:
        raise ApiError(404, "not_found", f"no playlist {playlist_id!r}")
    what = f"assign {playlist_id}"
    check_sites(caller, set(sites) ^ set(before.sites), what)
    changed = set(body.devices) ^ set(before.devices)
    check_devices(caller, [known[d] for d in changed if d in known], what)
    if body.featured != before.featured:
        check_sites(caller, set(sites) | set(before.sites), f"feature {playlist_id}")
    if not ctx.store.assign(
        tenant.slug, playlist_id, sites, body.devices, body.featured, ctx.settings.now_ms()
    ):
        raise ApiError(404, "not_found", f"no playlist {playlist_id!r}")
    record_change(
        ctx, tenant.slug, caller.username, "playlist.assign", "playlist", playlist_id,
        before=_where(before.sites, before.devices, before.featured),
        after=_where(sites, body.devices, body.featured),
    )  # fmt: skip
    return _playlist_view(ctx, tenant, playlist_id)


def _where(sites: Sequence[str], devices: Sequence[str], featured: bool) -> Json:
    return {"sites": sorted(sites), "devices": sorted(devices), "featured": featured}


def _content(playlist: Playlist | None) -> Json | None:
    if playlist is None:
        return None
    return {
        "title": playlist.title,
        "tracks": list(playlist.track_ids),
        "revision": playlist.revision,
        "valid_from_ms": playlist.valid_from_ms,
        "valid_until_ms": playlist.valid_until_ms,
        "hours": json.loads(playlist.hours),
    }


def _playlist_view(ctx: ServiceContext, tenant: Tenant, playlist_id: str) -> Json:
    playlist = ctx.store.get_playlist(tenant.slug, playlist_id)
    if playlist is None:
        raise ApiError(404, "not_found", f"no playlist {playlist_id!r}")
    tracks = ctx.store.tracks_by_id(tenant.slug, playlist.track_ids)
    return admin_playlist_view(tenant.slug, playlist, tracks)


# ---------------------------------------------------------------------------------- devices


@router.post("/claims", response_model=ClaimAnswer)
def claim(body: ClaimBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Claim the device showing this code for a site; it gets its tokens at its next poll."""
    return enrollment.claim(ctx, tenant, body.code, body.site, body.name, actor=caller.username)


@router.get("/devices", response_model=list[DeviceAnswer])
def list_devices(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    return [_device_view(d) for d in ctx.store.list_devices(tenant.slug)]


def _device_view(d: Device) -> Json:
    return {
        "device_id": d.device_id,
        "name": d.name,
        "site": d.site,
        "status": d.status,
        "last_contact": rfc3339(d.last_contact_ms),
        "firmware_version": d.firmware_version,
        "enrolled_at": rfc3339(d.enrolled_ms),
        "claimed_at": rfc3339(d.claimed_ms),
        "revoked_at": rfc3339(d.revoked_ms),
    }


@router.patch("/devices/{device_id}", response_model=DeviceAnswer)
def update_device(
    device_id: str, body: DeviceUpdateBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Rename a kiosk or move it to another site (its site's playlists follow at its next
    sync; push to it again for its settings)."""
    device = ctx.store.get_device(tenant.slug, device_id)
    if device is None:
        raise ApiError(404, "not_found", f"no device {device_id!r} in tenant {tenant.slug!r}")
    values = body.model_dump(exclude_unset=True)
    if values.get("site") is None:
        values.pop("site", None)
    if values:
        ctx.store.update_device(tenant.slug, device_id, **values)
        record_change(
            ctx, tenant.slug, caller.username, "device.update", "device", device_id,
            before={"name": device.name, "site": device.site}, after=values,
        )  # fmt: skip
    changed = ctx.store.get_device(tenant.slug, device_id)
    assert changed is not None
    return _device_view(changed)


@router.post("/devices/{device_id}/revoke", response_model=RevokeAnswer)
def revoke(device_id: str, ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> Json:
    """Revoke a device: its access tokens stop working at once; it can be claimed again."""
    return enrollment.revoke(ctx, tenant, device_id, actor=caller.username)
