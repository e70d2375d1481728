"""What the claim gave this kiosk (tenant, site, name, MQTT account), kept across reboots.

Stored so the kiosk knows at boot, even offline, whose it is and how to reach its broker. The
file is 0600 and written atomically; it is not the identity (the key is), so a corrupt file is
set aside and fetched again from the tenant rather than stopping the kiosk. The MQTT password
never appears in a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from device.identity.keys import write_private_file

__all__ = ["CREDENTIALS_FILE", "Credentials", "MqttCredentials", "load_credentials"]

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "tenant-credentials.json"
_FORMAT = 1


@dataclass(frozen=True)
class MqttCredentials:
    host: str
    port: int
    tls: bool
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        masked = "***" if self.password else "''"
        return (
            f"MqttCredentials(host={self.host!r}, port={self.port}, tls={self.tls}, "
            f"username={self.username!r}, password={masked})"
        )

    @classmethod
    def from_json(cls, data: Any) -> MqttCredentials:
        """Parse the token answer's / the file's `mqtt` object; ValueError when malformed."""
        if not isinstance(data, dict):
            raise ValueError("mqtt is not an object")
        port = data.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("mqtt.port is not a TCP port")
        tls = data.get("tls")
        if not isinstance(tls, bool):
            raise ValueError("mqtt.tls is not true or false")
        return cls(
            host=_text(data, "host"),
            port=port,
            tls=tls,
            username=_text(data, "username"),
            password=_text(data, "password"),
        )


@dataclass(frozen=True)
class Credentials:
    """The device's standing with one tenant, as the last successful token answer said."""

    tenant_url: str  # the base URL they belong to: another URL means another tenant
    device_id: str
    tenant_id: str
    tenant_name: str
    site: str
    device_name: str
    mqtt: MqttCredentials | None  # None only if the tenant runs no broker
    # The tenant's Ed25519 key for content packs (base64url); "" in files written before it.
    signing_key: str = ""

    def save(self, state_dir: Path) -> Path:
        """Write them to `state_dir/tenant-credentials.json` (0600, atomically)."""
        path = Path(state_dir) / CREDENTIALS_FILE
        document = {"format": _FORMAT, **asdict(self)}
        write_private_file(path, (json.dumps(document, indent=2) + "\n").encode())
        return path

    @classmethod
    def from_json(cls, data: Any) -> Credentials:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        return cls(
            tenant_url=_text(data, "tenant_url"),
            device_id=_text(data, "device_id"),
            tenant_id=_text(data, "tenant_id"),
            tenant_name=_text(data, "tenant_name"),
            site=_text(data, "site"),
            device_name=_text(data, "device_name"),
            mqtt=None if data.get("mqtt") is None else MqttCredentials.from_json(data["mqtt"]),
            signing_key=_text(data, "signing_key", optional=True),
        )


def load_credentials(state_dir: Path) -> Credentials | None:
    """The stored credentials, or None when there are none or they are unusable (logged)."""
    path = Path(state_dir) / CREDENTIALS_FILE
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if mode & 0o077:
                os.fchmod(f.fileno(), 0o600)
                log.warning(
                    "credentials %s were readable by others (mode %o): tightened to 600",
                    path,
                    stat.S_IMODE(mode),
                )
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read credentials %s (%s): enrolling again", path, exc.strerror or exc)
        return None
    try:
        return Credentials.from_json(json.loads(raw))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # json.JSONDecodeError is a ValueError; its message quotes no content.
        log.warning("credentials %s are unusable (%s): enrolling again", path, exc)
        return None


def _text(data: dict[str, Any], key: str, *, optional: bool = False) -> str:
    """The string at `key`; with `optional`, a missing or null value is the empty string."""
    value = data.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value
