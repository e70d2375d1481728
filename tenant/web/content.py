"""Tracks (search, upload with tags read as `admin import` reads them) and playlists (an
ordered track picker, note, validity, hours, sites). The changes call the API's own handlers
and `contract.tags.read_tags`, so roles, checks and audit rows are the API's."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import unquote

import anyio.to_thread
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from pydantic import ValidationError

from contract import screen_text
from contract.media import CacheError
from contract.tags import read_tags
from tenant import retire
from tenant.api import admin
from tenant.api import payouts as payouts_api
from tenant.api.models import AssignBody, PlaylistBody, TrackBody, TrackEditBody
from tenant.api.payouts import ShareItem, SharesBody
from tenant.audit import record_change
from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.roles import Role
from tenant.store import Playlist, Tenant, Track
from tenant.web.forms import form_of, problem_of
from tenant.web.kiosks import _done
from tenant.web.render import page, translator
from tenant.web.session import Caller, Console, ConsoleError

router = APIRouter(
    prefix="/t/{tenant}/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
UNKNOWN_ARTIST = "Unknown artist"  # as `jukebox admin import`
PlaylistId = Annotated[str, Path(max_length=64)]


# ---------------------------------------------------------------------------------- tracks


def matches(track: Track, query: str) -> bool:
    """Case-insensitive search in title, artist, album, ISRC and id."""
    haystack = " ".join(
        x or "" for x in (track.title, track.artist, track.album, track.isrc, track.id)
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


@router.get("/tracks")
def tracks_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller, q: str = ""
) -> HTMLResponse:
    """The tenant's tracks, searched; curators get the drop zone."""
    found = [t for t in ctx.store.list_tracks(tenant.slug) if matches(t, q[:200])]
    admin_view = console.staff.role is Role.NETWORK_ADMIN  # rights holders: theirs alone
    shares: dict[str, list[tuple[str, int]]] = {}
    for share in ctx.store.payout_shares(tenant.slug) if admin_view else []:
        shares.setdefault(share.track_id, []).append((share.holder_id, share.basis_points))
    return page(
        request, "tracks.html", console, tenant.slug, tracks=found, q=q[:200],
        upload=console.staff.role in (Role.CURATOR, Role.NETWORK_ADMIN), shares=shares,
        holders=ctx.store.payout_holders(tenant.slug) if admin_view else [],
    )  # fmt: skip


@router.post("/tracks/upload", response_class=JSONResponse)
async def upload(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> JSONResponse:
    """One audio file as the request body (console.js sends each dropped file with its name
    in X-File-Name): stored by its sha256, its tags read with mutagen, its track registered."""
    name = unquote(request.headers.get("x-file-name", "upload"))[:300] or "upload"
    limit = ctx.settings.max_media_size
    spool = ctx.data_dir / "console-uploads"
    spool.mkdir(exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=spool, suffix=FilePath(name).suffix[:10])
    temp = FilePath(temp_name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ConsoleError(413, f"{name}: media are limited to {limit} bytes")
                out.write(chunk)
        if size == 0:
            raise ConsoleError(422, f"{name}: an empty file is not media")
        track = await anyio.to_thread.run_sync(lambda: _register(ctx, tenant, console, temp, name))
    finally:
        temp.unlink(missing_ok=True)
    return JSONResponse({"id": track["id"], "title": track["title"], "artist": track["artist"]})


def _register(
    ctx: ServiceContext, tenant: Tenant, console: Console, path: FilePath, name: str
) -> dict[str, Any]:
    tags = read_tags(path)
    if tags.problem and tags.duration_ms is None:
        raise ConsoleError(422, f"{name}: {tags.problem}")
    try:
        sha256 = ctx.media.add_file(path)
    except CacheError as exc:
        raise ConsoleError(500, f"{name}: {exc}") from exc
    size = path.stat().st_size
    if ctx.store.add_media(tenant.slug, sha256, size, ctx.settings.now_ms()):
        record_change(
            ctx, tenant.slug, console.staff.username, "media.upload", "media", sha256,
            after={"size": size},
        )  # fmt: skip
    try:
        body = TrackBody(
            sha256=sha256,
            title=(tags.title or FilePath(name).stem)[:300],
            artist=(tags.artist or UNKNOWN_ARTIST)[:300],
            album=tags.album[:300] if tags.album else None,
            isrc=tags.isrc,
            duration_ms=tags.duration_ms or None,
            replaygain_track_gain_db=tags.replaygain_track_gain_db,
        )
        answer = admin.create_track(body, ctx, tenant, console.staff)
    except ValidationError as exc:
        raise ConsoleError(422, f"{name}: {problem_of(exc)}") from exc
    except ApiError as exc:
        raise ConsoleError(exc.status, f"{name}: {exc.description}") from exc
    view: dict[str, Any] = json.loads(bytes(answer.body))
    return view


@router.post("/tracks/{track_id}/retire")
def retire_track(
    track_id: Annotated[str, Path(max_length=100)], request: Request, ctx: Context,
    tenant: CurrentTenant, console: Caller,
) -> Response:  # fmt: skip
    """Take a track off every playlist and kiosk at their next sync (tenant/retire.py, as the
    API); its counted plays stay in the reports."""
    try:
        retire.retire_track(ctx, tenant, track_id, staff=console.staff)
    except ApiError as exc:
        raise ConsoleError(exc.status, exc.description) from exc
    return _done(tenant, "tracks", "Retired.")


@router.post("/tracks/{track_id}")
async def edit_track(
    track_id: Annotated[str, Path(max_length=200)], request: Request, ctx: Context,
    tenant: CurrentTenant, console: Caller,
) -> Response:  # fmt: skip
    """Correct title, artist, album and ISRC (the API's PATCH handler); the network
    administrator also names the rights holder, at 100 % (the payouts API's handler)."""
    form = await form_of(request)
    fields = {k: form.get(k, "") for k in ("title", "artist", "album", "isrc")}
    holder = form.get("holder", "")
    try:
        body = TrackEditBody(**fields)
        admin.update_track(track_id, body, ctx, tenant, console.staff)
        if holder and console.staff.role is Role.NETWORK_ADMIN:
            shares = SharesBody(shares=[ShareItem(holder=holder, basis_points=10_000)])
            payouts_api.set_payout_shares(track_id, shares, ctx, tenant, console.staff)
    except ValidationError as exc:
        raise ConsoleError(422, f"{track_id}: {problem_of(exc)}") from exc
    except ApiError as exc:
        raise ConsoleError(exc.status, f"{track_id}: {exc.description}") from exc
    return _done(tenant, "tracks", "Saved.")


# ---------------------------------------------------------------------------------- playlists


def known_sites(ctx: ServiceContext, tenant: Tenant, console: Console) -> list[str]:
    """The sites a page may offer: a curator's own, else every site a kiosk or playlist has."""
    if console.staff.role is Role.CURATOR:
        return sorted(console.staff.sites)
    sites = {d.site for d in ctx.store.list_devices(tenant.slug) if d.site}
    sites |= {s for p in ctx.store.list_playlists(tenant.slug) for s in p.sites}
    return sorted(sites)


def may_see(console: Console, playlist: Playlist) -> bool:
    """A curator sees the playlists of their sites and those not given to any site yet."""
    if console.staff.role is not Role.CURATOR:
        return True
    return not playlist.sites or bool(set(playlist.sites) & set(console.staff.sites))


@router.get("/playlists")
def playlists_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    found = [p for p in ctx.store.list_playlists(tenant.slug) if may_see(console, p)]
    return page(request, "playlists.html", console, tenant.slug, playlists=found)


@router.get("/playlists/{playlist_id}")
def playlist_page(
    playlist_id: PlaylistId, request: Request, ctx: Context, tenant: CurrentTenant,
    console: Caller,
) -> HTMLResponse:  # fmt: skip
    """The editor (`new` for a new playlist)."""
    playlist = None if playlist_id == "new" else ctx.store.get_playlist(tenant.slug, playlist_id)
    if playlist_id != "new" and (playlist is None or not may_see(console, playlist)):
        raise ConsoleError(404, f"no playlist {playlist_id!r}")
    return _editor(request, ctx, tenant, console, playlist)


def _editor(
    request: Request, ctx: ServiceContext, tenant: Tenant, console: Console,
    playlist: Playlist | None, *, form: dict[str, Any] | None = None, error: str | None = None,
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    tracks = {t.id: t for t in ctx.store.list_tracks(tenant.slug)}
    if form is None:
        form = _form_values(playlist)
    chosen = [tracks[t] for t in form["tracks"] if t in tracks]
    return page(
        request, "playlist.html", console, tenant.slug, status=status, error=error,
        playlist=playlist, form=form, chosen=chosen,
        available=[t for t in tracks.values() if t.id not in set(form["tracks"])],
        sites=sorted(set(known_sites(ctx, tenant, console)) | set(form["sites"])),
        editable=console.staff.role in (Role.CURATOR, Role.NETWORK_ADMIN),
    )  # fmt: skip


def _form_values(playlist: Playlist | None) -> dict[str, Any]:
    if playlist is None:
        return {"id": "", "title": "", "note": "", "valid_from": "", "valid_until": "",
                "hours": "", "tracks": [], "sites": [], "featured": False}  # fmt: skip
    hours = json.loads(playlist.hours)
    return {
        "id": playlist.id,
        "title": playlist.title,
        "note": playlist.note,
        "valid_from": _local(playlist.valid_from_ms),
        "valid_until": _local(playlist.valid_until_ms),
        "hours": "\n".join(f"{h['days']} {h['from']}-{h['to']}" for h in hours),
        "tracks": list(playlist.track_ids),
        "sites": list(playlist.sites),
        "featured": playlist.featured,
    }


def _local(ms: int | None) -> str:
    """For <input type="datetime-local"> (UTC)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


def parse_hours(text: str) -> list[dict[str, str]]:
    """ "mon-sat 10:00-19:00" per line -> [{"days", "from", "to"}]; checked by the API model."""
    hours = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        days, _, times = line.strip().rpartition(" ")
        start, dash, end = times.partition("-")
        if not days or not dash:
            raise ValueError(f"hours, line {number}: expected 'mon-sat 10:00-19:00', not {line!r}")
        hours.append({"days": days.strip(), "from": start, "to": end})
    return hours


def _moment(text: str) -> str | None:
    """A time from <input type="datetime-local">: UTC, as the API reads a time without zone."""
    return text.strip() or None


@router.post("/playlists")
async def save_playlist(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Create or replace a playlist, then set its sites and featured flag (the API's
    handlers: a curator adds or removes only their own sites)."""
    form = await form_of(request)
    tracks = list(dict.fromkeys(form.lists.get("tracks", []) + form.lists.get("add", [])))
    for moved in ("up", "down", "remove"):
        if form.get(moved) in tracks:
            tracks = reorder(tracks, form[moved], moved)
    values: dict[str, Any] = {
        "id": form.get("id", "").strip(),
        "title": form.get("title", ""),
        "note": form.get("note", "").replace("\r\n", "\n"),
        "valid_from": form.get("valid_from", ""),
        "valid_until": form.get("valid_until", ""),
        "hours": form.get("hours", ""),
        "tracks": tracks,
        "sites": sorted(set(form.lists.get("sites", []))),
        "featured": form.get("featured") == "on",
    }
    existing = ctx.store.get_playlist(tenant.slug, values["id"]) if values["id"] else None
    if existing is not None and not may_see(console, existing):
        raise ConsoleError(404, f"no playlist {values['id']!r}")

    def again(status: int, error: str) -> HTMLResponse:
        return _editor(request, ctx, tenant, console, existing, form=values, error=error,
                       status=status)  # fmt: skip

    if any(form.get(k) for k in ("up", "down", "remove")):
        return again(200, "")  # a reordering without JavaScript: show it, save later
    try:  # admin.put_playlist checks a curator's sites (tenant/scope.py), as for the API
        body = PlaylistBody.model_validate(
            {
                "id": values["id"],
                "title": values["title"],
                "note": values["note"],
                "tracks": tracks,
                "valid_from": _moment(values["valid_from"]),
                "valid_until": _moment(values["valid_until"]),
                "hours": parse_hours(values["hours"]),
            }
        )
        admin.put_playlist(body, ctx, tenant, console.staff)
        saved = ctx.store.get_playlist(tenant.slug, body.id)
        assert saved is not None
        if set(saved.sites) != set(values["sites"]) or saved.featured != values["featured"]:
            assign = AssignBody(
                sites=values["sites"], devices=list(saved.devices), featured=values["featured"]
            )
            admin.assign_playlist(body.id, assign, ctx, tenant, console.staff)
    except ValidationError as exc:
        return again(422, problem_of(exc))
    except ValueError as exc:
        return again(422, str(exc))
    except ApiError as exc:
        return again(exc.status, exc.description)
    return _done(tenant, f"playlists/{body.id}", "Saved.")


@router.get("/playlists/{playlist_id}/preview.png", response_class=Response)
def note_preview(
    playlist_id: PlaylistId, request: Request, ctx: Context, tenant: CurrentTenant,
    console: Caller,
) -> Response:  # fmt: skip
    """The playlist's attract screen, page by page, drawn by the kiosk's own code
    (contract/screen_text.py), three times larger, one page under the other."""
    playlist = ctx.store.get_playlist(tenant.slug, playlist_id)
    if playlist is None or not may_see(console, playlist):
        raise ConsoleError(404, f"no playlist {playlist_id!r}")
    t = translator(request)
    pages = screen_text.note_preview(playlist.title, playlist.note, t("Press ▶ to listen"))
    w, h = screen_text.SIZE
    scale, gap = 3, 4
    sheet = Image.new("L", (w * scale, len(pages) * (h * scale + gap) - gap), 128)
    for number, page_image in enumerate(pages):
        big = page_image.convert("L").resize((w * scale, h * scale), Image.Resampling.NEAREST)
        sheet.paste(big, (0, number * (h * scale + gap)))
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return Response(out.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})


def reorder(tracks: Sequence[str], track_id: str, how: str) -> list[str]:
    """Move a track one place up or down, or remove it."""
    order = list(tracks)
    i = order.index(track_id)
    if how == "remove":
        del order[i]
    elif how == "up" and i > 0:
        order[i - 1], order[i] = order[i], order[i - 1]
    elif how == "down" and i < len(order) - 1:
        order[i + 1], order[i] = order[i], order[i + 1]
    return order
