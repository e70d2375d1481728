"""What every request handler needs, built once by the app factory (no web framework here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from contract.media import MediaCache
from tenant.claim_wait import ClaimWaits
from tenant.credentials import load_service_secret
from tenant.settings import TenantSettings
from tenant.store import TenantStore, default_database_url

if TYPE_CHECKING:  # paho is imported only by a service that has a broker
    from tenant.broker.control import BrokerControl


@dataclass(frozen=True)
class ServiceContext:
    data_dir: Path
    store: TenantStore
    media: MediaCache
    settings: TenantSettings
    secret: bytes  # HMAC key for derived credentials (tenant.credentials)
    broker: BrokerControl | None = None  # None: no broker.json, devices get no MQTT accounts
    claim_waits: ClaimWaits = field(default_factory=ClaimWaits, compare=False)  # held polls


def open_context(
    data_dir: Path,
    database_url: str | None = None,
    settings: TenantSettings | None = None,
    broker: BrokerControl | None = None,
) -> ServiceContext:
    """Store, media and secret of a data directory (created if missing)."""
    data_dir = Path(data_dir).absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    return ServiceContext(
        data_dir=data_dir,
        store=TenantStore(database_url or default_database_url(data_dir)),
        media=MediaCache(data_dir),
        settings=settings or TenantSettings(),
        secret=load_service_secret(data_dir),
        broker=broker,
    )
