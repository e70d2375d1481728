"""Ids and hashes that cross a wire, a card or a stick.

Named types keep milliseconds, ids and hashes from being mixed up at the boundaries. Device ids
are derived from the device's public key: stable, unforgeable, no registry needed.
"""

from __future__ import annotations

import base64
import functools
import importlib
import re
import sys
from collections.abc import Callable
from typing import NewType, Protocol

DurationMs = NewType("DurationMs", int)
Sha256 = NewType("Sha256", str)
"""A lowercase sha256 hex digest: the name of a media file everywhere (cache, API, pack)."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    """True for a lowercase sha256 hex digest, the only names the media stores hold."""
    return _SHA256.fullmatch(value) is not None


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


class Readable(Protocol):
    def readinto(self, buffer: bytearray, /) -> int | None: ...


def sha256(data: bytes = b"") -> Hasher:
    """A SHA-256 hash object: OpenSSL's when this process has already loaded it, else the
    interpreter's own.

    Importing hashlib initialises OpenSSL: 2.1 MiB resident in the kiosk daemon, which on a
    folder kiosk (no TLS) needs it for nothing but a few hashes (bench/daemon_footprint.py,
    issue 17). Processes that hash in bulk (downloads, packs, the tenant) load hashlib anyway
    and get its faster code. The digests are the same.
    """
    if "_hashlib" in sys.modules:
        import hashlib

        return hashlib.sha256(data)
    return _builtin_sha256()(data)


def sha256_file(f: Readable) -> Sha256:
    """The hex digest of what is left to read in `f` (hashlib.file_digest, without hashlib)."""
    digest = sha256()
    buffer = bytearray(1 << 18)
    view = memoryview(buffer)
    while size := f.readinto(buffer):
        digest.update(view[:size])
    return Sha256(digest.hexdigest())


@functools.cache
def _builtin_sha256() -> Callable[[bytes], Hasher]:
    """CPython's own SHA-256: `_sha256` up to 3.11, `_sha2` from 3.12; hashlib without them."""
    for name in ("_sha256", "_sha2"):
        try:
            constructor: Callable[[bytes], Hasher] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    import hashlib

    return hashlib.sha256


DEVICE_ID_PREFIX = "jk-"
DEVICE_ID_LENGTH = 20


def device_id_for(public_key: bytes) -> str:
    """`jk-` + the first 20 base32 characters of sha256(raw Ed25519 public key)."""
    if len(public_key) != 32:
        raise ValueError(f"expected a raw 32-byte Ed25519 public key, got {len(public_key)} bytes")
    digest = base64.b32encode(sha256(public_key).digest()).decode().rstrip("=").lower()
    return DEVICE_ID_PREFIX + digest[:DEVICE_ID_LENGTH]
