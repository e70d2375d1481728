"""Ids and hashes that cross a wire, a card or a stick.

Named types keep milliseconds, ids and hashes from being mixed up at the boundaries. Device ids
are derived from the device's public key: stable, unforgeable, no registry needed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import NewType

DurationMs = NewType("DurationMs", int)
Sha256 = NewType("Sha256", str)
"""A lowercase sha256 hex digest: the name of a media file everywhere (cache, API, pack)."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    """True for a lowercase sha256 hex digest, the only names the media stores hold."""
    return _SHA256.fullmatch(value) is not None


DEVICE_ID_PREFIX = "jk-"
DEVICE_ID_LENGTH = 20


def device_id_for(public_key: bytes) -> str:
    """`jk-` + the first 20 base32 characters of sha256(raw Ed25519 public key)."""
    if len(public_key) != 32:
        raise ValueError(f"expected a raw 32-byte Ed25519 public key, got {len(public_key)} bytes")
    digest = base64.b32encode(hashlib.sha256(public_key).digest()).decode().rstrip("=").lower()
    return DEVICE_ID_PREFIX + digest[:DEVICE_ID_LENGTH]
