"""`/v1/admin/packs` and `/v1/admin/media/{sha256}`: signed content packs for technician sticks."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import Path, Request, Response

from contract.ids import Sha256, is_sha256
from tenant.api.models import PackAnswer, PackBody
from tenant.api.routers import staff_router
from tenant.auth import Context, CurrentTenant
from tenant.catalogue import Json
from tenant.errors import ApiError
from tenant.packs import build_pack, public_signing_key
from tenant.ranges import media_response

router = staff_router("admin")


@router.post("/packs", response_model=PackAnswer)
def create_pack(body: PackBody, ctx: Context, tenant: CurrentTenant) -> Json:
    """Sign a content pack of these playlists; the caller fetches the media it lists."""
    pack = build_pack(ctx, tenant, body.playlists)
    return {
        "manifest": base64.b64encode(pack.manifest).decode("ascii"),
        "signature": pack.signature,
        "signing_key": public_signing_key(ctx.data_dir, tenant.slug),
        "media": [{"sha256": sha, "size": size} for sha, size in pack.media],
    }


@router.get(
    "/media/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
def get_admin_media(
    sha256: Annotated[str, Path(max_length=64)],
    request: Request,
    ctx: Context,
    tenant: CurrentTenant,
) -> Response:
    """A media file of this tenant (for content packs)."""
    known = is_sha256(sha256) and ctx.store.media_size(tenant.slug, sha256) is not None
    path = ctx.media.path_for(Sha256(sha256)) if known else None
    if path is None:
        raise ApiError(404, "not_found", f"no media {sha256!r} in this tenant")
    return media_response(request, path, sha256)
