"""How the tenant service and its ingesters reach their broker: data_dir/broker.json.

Written by `jukebox tenant broker-setup` (or by hand for a broker run by someone else) and read
when the service starts; without the file the service runs without a broker (no accounts are
made, nothing is pushed). The file holds passwords, so it is written 0600.

    {"host": "broker.example.org", "port": 8883, "tls": true, "ca_file": "/etc/jukebox/ca.pem",
     "service": {"username": "jk-service", "password": "…"},
     "ingester": {"username": "jk-ingester", "password": "…"}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.files import atomic_write

__all__ = [
    "BROKER_FILE",
    "BrokerAccount",
    "BrokerSettings",
    "BrokerSettingsError",
    "load_broker_settings",
    "save_broker_settings",
]

BROKER_FILE = "broker.json"


class BrokerSettingsError(ValueError):
    """broker.json is unreadable or incomplete; the message names the file and the key."""


@dataclass(frozen=True)
class BrokerAccount:
    username: str
    password: str

    def __repr__(self) -> str:  # never log a password
        return f"BrokerAccount(username={self.username!r}, password=***)"


@dataclass(frozen=True)
class BrokerSettings:
    """The broker of one tenant service: address, TLS, and the accounts of the service (which
    manages device accounts over $CONTROL and publishes desired states and commands) and of
    the ingesters (which read device reports and acknowledge plays)."""

    host: str
    port: int
    service: BrokerAccount
    ingester: BrokerAccount
    tls: bool = False
    ca_file: Path | None = None  # None with tls: the system's CAs

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "ca_file": str(self.ca_file) if self.ca_file else None,
            "service": {"username": self.service.username, "password": self.service.password},
            "ingester": {"username": self.ingester.username, "password": self.ingester.password},
        }


def load_broker_settings(data_dir: Path) -> BrokerSettings | None:
    """The settings in data_dir/broker.json, or None when the service has no broker."""
    path = Path(data_dir) / BROKER_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BrokerSettingsError(f"{path}: {exc}") from exc
    try:
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        ca_file = data.get("ca_file")
        return BrokerSettings(
            host=_text(data, "host"),
            port=_port(data),
            tls=bool(data.get("tls", False)),
            ca_file=Path(ca_file) if isinstance(ca_file, str) and ca_file else None,
            service=_account(data, "service"),
            ingester=_account(data, "ingester"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BrokerSettingsError(f"{path}: {exc}") from exc


def save_broker_settings(data_dir: Path, settings: BrokerSettings) -> Path:
    path = Path(data_dir) / BROKER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(settings.to_json(), indent=2) + "\n").encode(), mode=0o600)
    return path


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} must be a non-empty string")
    return value


def _port(data: dict[str, Any]) -> int:
    port = data.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"'port' must be a number from 1 to 65535, not {port!r}")
    return port


def _account(data: dict[str, Any], key: str) -> BrokerAccount:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{key!r} must be an object with username and password")
    try:
        return BrokerAccount(_text(value, "username"), _text(value, "password"))
    except ValueError as exc:
        raise ValueError(f"{key}.{exc}") from exc
