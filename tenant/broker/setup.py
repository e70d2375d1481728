"""A deployable mosquitto setup for a tenant service (`jukebox tenant broker-setup`).

Writes into one folder:
- mosquitto.conf: one listener (TLS when asked), no anonymous access, the dynamic-security
  plugin, persistence;
- dynamic-security.json: the plugin's file with the service and ingester accounts and roles
  (tenant/broker/roles.py) and a default access of "deny";
- tls/ca.pem, tls/server.pem, tls/server.key when TLS is asked for (a private CA, for a demo or
  a test; production uses real certificates: edit certfile/keyfile/cafile);

and records in the service's data directory (broker.json) how to reach the broker with which
account. Device accounts are added live by the running service, never written here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.files import atomic_write
from tenant.broker.process import BrokerTls, dynsec_plugin_path
from tenant.broker.roles import (
    DEFAULT_ACCESS,
    INGESTER_ROLE,
    SERVICE_ROLE,
    ingester_acls,
    service_acls,
)
from tenant.broker.settings import BrokerAccount, BrokerSettings, save_broker_settings
from tenant.broker.tls import make_broker_tls

__all__ = [
    "BrokerSetup",
    "dynsec_document",
    "new_accounts",
    "write_broker_setup",
    "write_dynsec_file",
]

CONFIG_FILE = "mosquitto.conf"
DYNSEC_FILE = "dynamic-security.json"
# The plugin's own password format (mosquitto 2.0): PBKDF2-HMAC-SHA512 over a 12-byte salt.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12


@dataclass(frozen=True)
class BrokerSetup:
    folder: Path
    config_file: Path
    dynsec_file: Path
    tls: BrokerTls | None
    settings: BrokerSettings


def new_accounts(
    service_user: str = "jk-service", ingester_user: str = "jk-ingester"
) -> tuple[BrokerAccount, BrokerAccount]:
    """Fresh random passwords for the service and ingester accounts."""
    return (
        BrokerAccount(service_user, secrets.token_urlsafe(24)),
        BrokerAccount(ingester_user, secrets.token_urlsafe(24)),
    )


def dynsec_document(service: BrokerAccount, ingester: BrokerAccount) -> dict[str, Any]:
    """The plugin's configuration: two accounts, their roles, default access denied."""
    return {
        "clients": [
            _client(service, SERVICE_ROLE, "jukebox tenant service"),
            _client(ingester, INGESTER_ROLE, "jukebox ingesters"),
        ],
        "roles": [
            {"rolename": SERVICE_ROLE, "acls": service_acls()},
            {"rolename": INGESTER_ROLE, "acls": ingester_acls()},
        ],
        "defaultACLAccess": {acl["acltype"]: acl["allow"] for acl in DEFAULT_ACCESS},
    }


def write_dynsec_file(path: Path, service: BrokerAccount, ingester: BrokerAccount) -> Path:
    text = json.dumps(dynsec_document(service, ingester), indent=2) + "\n"
    atomic_write(Path(path), text.encode(), mode=0o600)
    return Path(path)


def write_broker_setup(
    folder: Path,
    *,
    port: int = 8883,
    bind: str = "0.0.0.0",
    service_host: str = "127.0.0.1",
    tls_hostnames: Sequence[str] | None = None,
    data_dir: Path | None = None,
    plugin: Path | None = None,
    user: str | None = None,
) -> BrokerSetup:
    """Write the whole setup into `folder` (replacing one made before: new passwords) and,
    when `data_dir` is given, the service's broker.json. `service_host` is how the service
    and ingesters reach the broker; with TLS it must be one of `tls_hostnames`. `user`: the
    account mosquitto runs as when started as root (its default is `mosquitto`), which must be
    able to read and write this folder."""
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    tls = make_broker_tls(folder / "tls", tls_hostnames) if tls_hostnames else None
    service, ingester = new_accounts()
    dynsec_file = write_dynsec_file(folder / DYNSEC_FILE, service, ingester)
    config_file = folder / CONFIG_FILE
    lines = [
        '# Written by `jukebox tenant broker-setup`: docs/tenant.md, "Running the broker".',
        f"listener {port} {bind}",
        "per_listener_settings false",
        "allow_anonymous false",
        f"plugin {plugin or dynsec_plugin_path()}",
        f"plugin_opt_config_file {dynsec_file}",
        "persistence true",
        f"persistence_location {folder}/",
        "log_dest stdout",
        "connection_messages true",
        "max_queued_messages 100000",
    ]
    if user:
        lines.append(f"user {user}")
    if tls is not None:
        lines += [
            f"cafile {tls.ca_file}",
            f"certfile {tls.cert_file}",
            f"keyfile {tls.key_file}",
            "tls_version tlsv1.2",
        ]
    atomic_write(config_file, ("\n".join(lines) + "\n").encode())
    settings = BrokerSettings(
        host=service_host,
        port=port,
        service=service,
        ingester=ingester,
        tls=tls is not None,
        ca_file=tls.ca_file if tls else None,
    )
    if data_dir is not None:
        save_broker_settings(data_dir, settings)
    return BrokerSetup(folder, config_file, dynsec_file, tls, settings)


def _client(account: BrokerAccount, role: str, text: str) -> dict[str, Any]:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", account.password.encode(), salt, PBKDF2_ITERATIONS)
    return {
        "username": account.username,
        "textName": text,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
        "roles": [{"rolename": role}],
    }
