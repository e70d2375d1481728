"""The one data-access layer: every SQL statement of the service is in this package.

SQLAlchemy 2 Core over portable types (`schema.py`); SQLite by default, PostgreSQL (or any
SQLAlchemy URL) without a code change. Methods take plain values and return frozen records
(`records.py`); each call is one transaction.
"""

from __future__ import annotations

from tenant.store.catalogue import CatalogueQueries
from tenant.store.field import FieldQueries
from tenant.store.fleet import FleetQueries
from tenant.store.identity import IdentityQueries
from tenant.store.payouts import PayoutQueries
from tenant.store.plays import GROUPINGS, GroupBy, PlayQueries, StoredPlays
from tenant.store.records import (
    ACTIVE,
    PENDING,
    REVOKED,
    AuditEntry,
    Command,
    DesiredState,
    Device,
    DeviceStatus,
    PlayGroup,
    Playlist,
    StaffToken,
    StaffUser,
    Tenant,
    Track,
    default_database_url,
)
from tenant.store.staff import StaffQueries

__all__ = [
    "ACTIVE",
    "GROUPINGS",
    "PENDING",
    "REVOKED",
    "AuditEntry",
    "Command",
    "DesiredState",
    "Device",
    "DeviceStatus",
    "GroupBy",
    "PlayGroup",
    "Playlist",
    "StaffToken",
    "StaffUser",
    "StoredPlays",
    "Tenant",
    "TenantStore",
    "Track",
    "default_database_url",
]


class TenantStore(
    IdentityQueries,
    FieldQueries,
    CatalogueQueries,
    PlayQueries,
    FleetQueries,
    StaffQueries,
    PayoutQueries,
):
    """All persistent state but the media bytes (those are in the MediaCache)."""
