"""The content-pack format: playlists and their media, carried to a kiosk on a USB stick.

Layout (docs/usb.md), under the stick's ``jukebox/pack/``::

    manifest.json     {"format": 1, "kind": "jukebox-content-pack", "tenant": SLUG,
                       "created_at": RFC 3339, "document": <a device playlists document>}
    manifest.sig      the Ed25519 signature of manifest.json's exact bytes, base64url
    media/<sha256>    every file the document names, under its sha256

The tenant writes packs (tenant/pack_writer.py); the kiosk verifies and imports them
(device/stick/pack.py). Both read the names and the signature encoding from here.
"""

from __future__ import annotations

import base64
import binascii

PACK_DIR = "pack"  # under the stick's jukebox/ folder
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MEDIA_DIR = "media"
PACK_FORMAT = 1
PACK_KIND = "jukebox-content-pack"


def encode_signature(signature: bytes) -> str:
    """Base64url without padding, as manifest.sig holds it."""
    return base64.urlsafe_b64encode(signature).decode("ascii").rstrip("=")


def decode_base64url(text: str) -> bytes | None:
    """The bytes of unpadded base64url text (surrounding blanks ignored), or None if it is not."""
    cleaned = text.strip()
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return None


def decode_signature(text: str) -> bytes | None:
    """The 64-byte Ed25519 signature in manifest.sig, or None if it is not one."""
    raw = decode_base64url(text)
    return raw if raw is not None and len(raw) == 64 else None
