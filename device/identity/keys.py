"""The kiosk's own Ed25519 key: its identity with the tenant, made on first boot, kept forever.

The tenant knows the device only by the public half (the device id is derived from it), so a
lost or replaced key orphans the claim: an admin would have to claim a "new" kiosk. That is
why a key that cannot be read is an error naming the file, never silently regenerated.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.files import fsync_dir, temporary_sibling, write_all
from contract.ids import device_id_for

__all__ = [
    "KEY_FILE",
    "MAX_ASSERTION_LIFETIME_S",
    "DeviceKey",
    "DeviceKeyError",
    "write_private_file",
]

log = logging.getLogger(__name__)

KEY_FILE = "device-key.pem"
MAX_ASSERTION_LIFETIME_S = 300  # docs/tenant-api.md: exp at most 300 s after iat


class DeviceKeyError(Exception):
    """The key file exists but cannot be used; the message names it and says what to do."""


class DeviceKey:
    """An Ed25519 key pair and what the tenant API needs from it."""

    def __init__(self, private_key: Ed25519PrivateKey, path: Path | None = None) -> None:
        self._private = private_key
        self.path = path
        self.public_bytes: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.device_id: str = device_id_for(self.public_bytes)

    def __repr__(self) -> str:
        return f"DeviceKey({self.device_id}, path={self.path})"

    @classmethod
    def load_or_create(cls, state_dir: Path) -> DeviceKey:
        """The key in `state_dir/device-key.pem`, created (0600, atomically) on first boot."""
        path = Path(state_dir) / KEY_FILE
        if not path.exists() and not path.is_symlink():
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                created = write_private_file(path, pem, replace=False)
            except OSError as exc:
                raise DeviceKeyError(f"{path}: cannot create the device key ({exc})") from exc
            if created:
                device = cls(key, path)
                log.info("created device key %s for device %s", path, device.device_id)
                return device
            # Another process created it between our check and our link: use theirs.
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        """Read an existing key, tightening its permissions to 0600 if they were looser."""
        advice = (
            "it is this kiosk's identity with its tenant and is never replaced automatically; "
            "restore it, or delete it to enroll as a new device (an admin must claim it again)"
        )
        try:
            with open(path, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if not stat.S_ISREG(mode):
                    raise DeviceKeyError(f"{path}: the device key is not a regular file; {advice}")
                if mode & 0o077:
                    os.fchmod(f.fileno(), 0o600)
                    log.warning(
                        "device key %s was readable by others (mode %o): tightened to 600",
                        path,
                        stat.S_IMODE(mode),
                    )
                pem = f.read()
        except OSError as exc:
            raise DeviceKeyError(
                f"{path}: cannot read the device key ({exc.strerror or exc}); {advice}"
            ) from exc
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise DeviceKeyError(
                f"{path}: the device key is corrupt (not an unencrypted PEM key); {advice}"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise DeviceKeyError(
                f"{path}: the device key is a {type(key).__name__}, not Ed25519; {advice}"
            )
        return cls(key, path)

    def assertion(self, audience: str, lifetime_s: int = 120, *, now: float | None = None) -> str:
        """A signed JWT proving this device to the token endpoint `audience` (RFC 7523 style).

        `now` is the wall time to stamp (default: this machine's clock); pass the tenant's
        estimated time when the local clock is known to be off (no RTC, no NTP yet).
        """
        if not 0 < lifetime_s <= MAX_ASSERTION_LIFETIME_S:
            raise ValueError(f"assertion lifetime must be 1 to {MAX_ASSERTION_LIFETIME_S} s")
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self.device_id,
            "sub": self.device_id,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime_s,
            "jti": str(uuid.uuid4()),
        }
        import jwt  # here: ~85 ms of imports that a tenant kiosk's READY need not wait for

        return jwt.encode(claims, self._private, algorithm="EdDSA")


def write_private_file(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write `data` to `path` readable by the owner only, so that a power cut leaves the old
    content or the new one, never a torn file: temporary name, fsync, rename, fsync the folder.

    With `replace=False` an existing file is kept and False returned (the key is created once,
    even by two processes racing); otherwise returns True.
    """
    folder = path.parent
    temp = temporary_sibling(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask said
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                    raise
                if path.exists():  # a file system without hard links (vfat): best effort
                    return False
                os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    fsync_dir(folder)
    return True
