"""Signed content packs (device/stick/pack.py): the tenant's side.

Each tenant signs its packs with its own Ed25519 key, derived from the service's signing
secret (data_dir/signing.key, 0600, created on first use, beside secret.key) and the tenant
id, so one service file serves every tenant and no tenant can sign for another. Devices learn
the public half in the token answer (`tenant.signing_key`) when they are claimed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contract.pack import PACK_FORMAT, PACK_KIND, encode_signature
from tenant.assertions import encode_public_key
from tenant.catalogue import device_document
from tenant.context import ServiceContext
from tenant.credentials import load_secret_file
from tenant.errors import ApiError
from tenant.store import Tenant
from tenant.timefmt import rfc3339

SIGNING_FILE = "signing.key"

Json = dict[str, Any]


def _signing_secret(data_dir: Path) -> bytes:
    return load_secret_file(data_dir / SIGNING_FILE)


def signing_key(data_dir: Path, tenant: str) -> Ed25519PrivateKey:
    seed = hmac.new(_signing_secret(data_dir), f"pack\0{tenant}".encode(), hashlib.sha256)
    return Ed25519PrivateKey.from_private_bytes(seed.digest())


def public_signing_key(data_dir: Path, tenant: str) -> str:
    """base64url of the raw 32-byte public key, as in the token answer."""
    raw = signing_key(data_dir, tenant).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode_public_key(raw)


@dataclass(frozen=True)
class Pack:
    manifest: bytes  # the exact bytes that were signed
    signature: str  # base64url
    media: tuple[tuple[str, int], ...]  # (sha256, size) of every file the pack carries


def build_pack(ctx: ServiceContext, tenant: Tenant, playlist_ids: list[str]) -> Pack:
    """The signed manifest of these playlists (their current content), and its media list."""
    if not playlist_ids:
        raise ApiError(422, "invalid_request", "name at least one playlist")
    playlists = []
    for playlist_id in dict.fromkeys(playlist_ids):
        playlist = ctx.store.get_playlist(tenant.slug, playlist_id)
        if playlist is None:
            raise ApiError(404, "not_found", f"no playlist {playlist_id!r}")
        playlists.append(playlist)
    tracks = ctx.store.tracks_by_id(tenant.slug, {t for p in playlists for t in p.track_ids})
    now_ms = ctx.settings.now_ms()
    document = device_document(tenant.slug, playlists, tracks, now_ms)
    manifest: Json = {
        "format": PACK_FORMAT,
        "kind": PACK_KIND,
        "tenant": tenant.slug,
        "created_at": rfc3339(now_ms),
        "document": document,
    }
    data = (json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode()
    signature = signing_key(ctx.data_dir, tenant.slug).sign(data)
    media = {t["sha256"]: t["size"] for p in document["playlists"] for t in p["tracks"]}
    return Pack(data, encode_signature(signature), tuple(sorted(media.items())))
