"""Device ids derived from the device's public key: stable, unforgeable, no registry needed."""

from __future__ import annotations

import base64
import hashlib

DEVICE_ID_PREFIX = "jk-"
DEVICE_ID_LENGTH = 20


def device_id_for(public_key: bytes) -> str:
    """`jk-` + the first 20 base32 characters of sha256(raw Ed25519 public key)."""
    if len(public_key) != 32:
        raise ValueError(f"expected a raw 32-byte Ed25519 public key, got {len(public_key)} bytes")
    digest = base64.b32encode(hashlib.sha256(public_key).digest()).decode().rstrip("=").lower()
    return DEVICE_ID_PREFIX + digest[:DEVICE_ID_LENGTH]
