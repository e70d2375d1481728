"""Helpers of the ingester and remote administration tests."""

from __future__ import annotations

from typing import TypeVar

from tenant.broker.process import MosquittoProcess
from tenant.broker.settings import BrokerAccount, BrokerSettings
from tenant.ingest import Ingester
from tenant.settings import TenantSettings
from tenant.store import TenantStore

T = TypeVar("T")


def broker_settings(broker: MosquittoProcess) -> BrokerSettings:
    """The anonymous test broker accepts any account."""
    return BrokerSettings(
        host=broker.host,
        port=broker.port,
        service=BrokerAccount("jk-service", "unused"),
        ingester=BrokerAccount("jk-ingester", "unused"),
    )


def make_ingester(
    store: TenantStore,
    broker: MosquittoProcess,
    client_id: str = "jk-ingest-1",
    settings: TenantSettings | None = None,
) -> Ingester:
    now_ms = (settings or TenantSettings()).now_ms
    return Ingester(store, broker_settings(broker), client_id=client_id, now_ms=now_ms)


def open_store(database_url: str) -> TenantStore:
    """The store over the test's database (its own engine: as another process would)."""
    return TenantStore(database_url)
