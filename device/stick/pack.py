"""Signed content packs: playlists and their media, carried to a kiosk on a USB stick.

The format (names, layout, signature encoding) is the contract's: contract/pack.py.

`verify_pack` checks everything before anything is written: the signature with the tenant's
key the kiosk received when it was claimed, the manifest (the same strict validation as a
synced document), and every media file's size and sha256. Only a `VerifiedPack` can be
imported, and the import hashes each file again while it streams into the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.media import MediaCache
from contract.pack import (
    MANIFEST,
    MEDIA_DIR,
    PACK_FORMAT,
    PACK_KIND,
    SIGNATURE,
    decode_base64url,
    decode_signature,
)
from device.domain import Library, Sha256
from device.sync.document import MAX_DOCUMENT_BYTES, DocumentError, PlaylistsDocument
from device.sync.document import parse_document as _parse_document
from device.sync.source import build_library
from device.sync.store import ActiveDocument, save_active

__all__ = ["PackError", "VerifiedPack", "import_pack", "verify_pack"]

log = logging.getLogger(__name__)

_MAX_MANIFEST = MAX_DOCUMENT_BYTES + (64 << 10)
_CHUNK = 1 << 20


class PackError(Exception):
    """The pack is refused as a whole; the message names the file and what is wrong."""


@dataclass(frozen=True)
class VerifiedPack:
    root: Path  # the pack folder
    tenant: str
    created_at: str
    document: PlaylistsDocument

    @property
    def media(self) -> dict[Sha256, int]:
        return self.document.media()


def _read_small(path: Path, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PackError(f"{path}: missing") from None
    except OSError as exc:
        raise PackError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PackError(f"{path}: not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise PackError(f"{path}: larger than the {limit} bytes a kiosk accepts")
    return data


def verify_pack(root: Path, signing_key: str, tenant: str, tenant_url: str) -> VerifiedPack:
    """Check the pack in `root` completely; raise PackError naming what is wrong.

    `signing_key` is the tenant's Ed25519 public key (base64url, from the claim), `tenant` its
    id and `tenant_url` the base URL the kiosk belongs to (media paths are checked against it).
    Nothing is written.
    """
    manifest_path, signature_path = root / MANIFEST, root / SIGNATURE
    data = _read_small(manifest_path, _MAX_MANIFEST)
    signature = decode_signature(_read_small(signature_path, 200).decode("ascii", "replace"))
    if signature is None:
        raise PackError(f"{signature_path}: not an Ed25519 signature (64 bytes, base64url)")
    key = decode_signature_key(signing_key)
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise PackError(
            f"{signature_path}: the signature does not match {manifest_path.name} and this "
            "kiosk's tenant key (another tenant's pack, or the manifest was changed)"
        ) from None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PackError(f"{manifest_path}: malformed JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise PackError(f"{manifest_path}: expected a JSON object")
    if manifest.get("kind") != PACK_KIND or manifest.get("format") != PACK_FORMAT:
        raise PackError(
            f"{manifest_path}: expected kind {PACK_KIND!r} format {PACK_FORMAT}, got "
            f"{manifest.get('kind')!r} format {manifest.get('format')!r}"
        )
    if manifest.get("tenant") != tenant:
        raise PackError(
            f"{manifest_path}: tenant: made for {manifest.get('tenant')!r}, this kiosk "
            f"belongs to {tenant!r}"
        )
    try:
        document = _parse_document(json.dumps(manifest.get("document")).encode("utf-8"), tenant_url)
    except DocumentError as exc:
        raise PackError(
            f"{manifest_path}: document.{exc}" if exc.key else f"{manifest_path}: {exc}"
        ) from None
    media_dir = root / MEDIA_DIR
    for sha, size in document.media().items():
        _check_media(media_dir / sha, sha, size)
    created = manifest.get("created_at")
    return VerifiedPack(root, tenant, str(created or ""), document)


def decode_signature_key(text: str) -> Ed25519PublicKey:
    raw = decode_base64url(text)
    try:
        if raw is None:
            raise ValueError("not base64url")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise PackError(f"this kiosk's tenant signing key is unusable ({exc})") from None


def _open_media(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PackError(f"{path}: missing (the manifest names it)") from None
    except OSError as exc:
        raise PackError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PackError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return fd


def _check_media(path: Path, sha: str, size: int) -> None:
    fd = _open_media(path)
    with os.fdopen(fd, "rb") as f:
        actual_size = os.fstat(fd).st_size
        if actual_size != size:
            raise PackError(f"{path}: {actual_size} bytes, the manifest says {size}")
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if digest != sha:
        raise PackError(f"{path}: content hashes to {digest}, not {sha} (damaged or altered)")


def import_pack(
    pack: VerifiedPack,
    cache: MediaCache,
    state_dir: Path,
    tenant_url: str,
    *,
    now: datetime | None = None,
) -> Library:
    """Copy the verified media into the cache (hashed again on the way), then make the pack's
    document the active one (``library.json``) and return its library as of `now`."""
    for sha, size in pack.media.items():
        if cache.path_for(sha) is not None:
            continue
        fd = _open_media(pack.root / MEDIA_DIR / sha)
        with os.fdopen(fd, "rb") as f:
            cache.add_stream(iter(lambda: f.read(_CHUNK), b""), sha, size)
    when = now or datetime.now(UTC)
    save_active(state_dir, ActiveDocument(pack.document, tenant_url, None, when))
    log.info(
        "content pack of %s (%s) imported: %d playlist(s), %d file(s)",
        pack.tenant,
        pack.created_at,
        len(pack.document.playlists),
        len(pack.media),
    )
    return build_library(pack.document, cache, when)
