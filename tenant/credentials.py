"""Secrets handed out by the service, and how they are kept: hashed, or derived, never stored.

- Admin and access tokens are random; only their sha256 is stored.
- Claim codes are 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L); only
  their sha256 is stored.
- MQTT passwords are derived with HMAC from the service secret (data_dir/secret.key, 0600) and
  a random per-claim nonce, so each claim gives a new random password that the service can
  repeat in every token response without keeping it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

CLAIM_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CLAIM_LENGTH = 8
ADMIN_TOKEN_PREFIX = "jkadm_"
ACCESS_TOKEN_PREFIX = "jkat_"
SECRET_FILE = "secret.key"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_admin_token() -> str:
    return ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_claim_code() -> str:
    """`XXXX-XXXX`, as shown on the kiosk's screen."""
    raw = "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(CLAIM_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_claim_code(typed: str) -> str:
    """What an admin typed (any case, spaces or dashes) -> `XXXX-XXXX`, or "" if impossible."""
    raw = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(raw) != CLAIM_LENGTH or any(ch not in CLAIM_ALPHABET for ch in raw):
        return ""
    return f"{raw[:4]}-{raw[4:]}"


def new_nonce() -> str:
    return secrets.token_hex(16)


def load_service_secret(data_dir: Path) -> bytes:
    """The service's HMAC key, created (0600) on first use."""
    return load_secret_file(data_dir / SECRET_FILE)


def load_secret_file(path: Path) -> bytes:
    """32 random bytes kept as hex in `path`, created (0600) on first use, race-free."""
    data_dir = path.parent
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def mqtt_password(secret: bytes, tenant: str, device_id: str, nonce: str) -> str:
    mac = hmac.new(secret, f"mqtt\0{tenant}\0{device_id}\0{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
