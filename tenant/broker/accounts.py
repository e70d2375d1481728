"""Device broker accounts over the enrollment flow: made at claim, ensured at every token
answer (so a broker that lost its accounts recovers without an admin), deleted at revocation.

The username is the device id (the device also connects with it as client id); its password is
derived from the service secret and the claim's nonce (tenant.credentials.mqtt_password), so a
new claim gives a new password and the token answer can repeat it without storing it.
"""

from __future__ import annotations

import logging

from tenant.broker.control import BrokerControlError
from tenant.context import ServiceContext
from tenant.credentials import mqtt_password
from tenant.errors import ApiError
from tenant.store import Device

__all__ = ["device_password", "device_username", "ensure_account", "remove_account"]

log = logging.getLogger(__name__)


def device_username(device_id: str) -> str:
    return device_id


def device_password(ctx: ServiceContext, device: Device) -> str:
    return mqtt_password(ctx.secret, device.tenant, device.device_id, device.mqtt_nonce or "")


def ensure_account(ctx: ServiceContext, device: Device) -> None:
    """Best effort: a broker that is down must not stop a claim or a token; the account is
    ensured again at the device's next token request."""
    if ctx.broker is None:
        return
    try:
        ctx.broker.ensure_device(
            device.tenant,
            device.device_id,
            device_username(device.device_id),
            device_password(ctx, device),
        )
    except BrokerControlError as exc:
        log.warning(
            "tenant %s: broker account of device %s not ensured (again at its next token): %s",
            device.tenant,
            device.device_id,
            exc,
        )


def remove_account(ctx: ServiceContext, tenant: str, device_id: str) -> None:
    """A revoked device must lose the broker too: if that fails the admin is told to retry
    (revoking again is harmless)."""
    if ctx.broker is None:
        return
    try:
        ctx.broker.remove_device(tenant, device_id, device_username(device_id))
    except BrokerControlError as exc:
        log.error("tenant %s: broker account of revoked %s not deleted: %s", tenant, device_id, exc)
        raise ApiError(
            503,
            "temporarily_unavailable",
            f"device {device_id} is revoked, but its broker account could not be deleted "
            f"({exc}): revoke it again once the broker is reachable",
        ) from exc
