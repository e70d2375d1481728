"""The firmware a kiosk should run, as the tenant's desired state names it."""

from __future__ import annotations

from dataclasses import dataclass

from device.domain import Sha256


@dataclass(frozen=True)
class FirmwareTarget:
    """The desired state's `firmware` entry (checked by device/remote/desired.py)."""

    version: str
    path: str  # the bundle's URL path at the tenant, e.g. /v1/firmware/<sha256>
    sha256: Sha256
    size: int
    allow_downgrade: bool = False
