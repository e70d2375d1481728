"""What a device reads with its access token: its playlists and their media."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from contract.ids import Sha256, is_sha256
from tenant.api.models import DeviceDocument, ErrorBody
from tenant.auth import Context, CurrentDevice
from tenant.catalogue import canonical_json, device_document
from tenant.errors import ApiError
from tenant.ranges import etag_matches, media_response

router = APIRouter(prefix="/t/{tenant}/v1", tags=["device"], responses={422: {"model": ErrorBody}})


@router.get(
    "/device/playlists",
    response_model=DeviceDocument,
    responses={304: {"description": "If-None-Match matched"}, 401: {"model": ErrorBody}},
)
def device_playlists(request: Request, ctx: Context, caller: CurrentDevice) -> Response:
    """Playlists assigned to this device or its site, current and upcoming."""
    slug, device = caller.tenant.slug, caller.device
    now_ms = ctx.settings.now_ms()
    playlists = ctx.store.playlists_for_device(slug, device.device_id, device.site, now_ms)
    track_ids = {t for p in playlists for t in p.track_ids}
    tracks = ctx.store.tracks_by_id(slug, track_ids)
    retired = ctx.store.retired_media(slug)
    document = device_document(slug, playlists, tracks, now_ms, retired)
    etag = f'"{document["revision"]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(canonical_json(document), media_type="application/json", headers=headers)


_MEDIA_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the file"},
    206: {"description": "the byte range asked for"},
    304: {"description": "If-None-Match matched"},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody, "description": "unknown, or not assigned to this device"},
    416: {"model": ErrorBody},
}


def media(
    sha256: Annotated[str, Path(max_length=64)],
    request: Request,
    ctx: Context,
    caller: CurrentDevice,
) -> Response:
    """A media file, only when a playlist assigned to this device holds it."""
    slug, device = caller.tenant.slug, caller.device
    now_ms = ctx.settings.now_ms()
    path = ctx.media.path_for(Sha256(sha256)) if is_sha256(sha256) else None
    if path is None or not ctx.store.media_assigned(
        slug, device.device_id, device.site, sha256, now_ms
    ):
        raise ApiError(404, "not_found", "no such media for this device")
    return media_response(request, path, sha256)


router.add_api_route(
    "/media/{sha256}",
    media,
    methods=["GET"],
    response_class=Response,
    responses=_MEDIA_RESPONSES,
    operation_id="get_media",
)
router.add_api_route(
    "/media/{sha256}",
    media,
    methods=["HEAD"],
    response_class=Response,
    responses=_MEDIA_RESPONSES,
    operation_id="head_media",
)
