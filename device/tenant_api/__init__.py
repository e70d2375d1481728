"""Talking to the kiosk's tenant over HTTP: enrollment, tokens, and authenticated requests.

`TenantClient` speaks the unauthenticated device endpoints of docs/tenant-api.md,
`TenantSession` adds and renews the access token (it is the device.ports.TenantHttp), and
`errors` says what went wrong in terms a caller can act on.
"""

from device.tenant_api.client import EnrollAnswer, TenantClient, TokenGrant
from device.tenant_api.errors import (
    ClaimExpired,
    DeviceRevoked,
    NotClaimed,
    SlowDown,
    TenantError,
    TenantRefused,
    TenantUnreachable,
)
from device.tenant_api.session import TenantSession

__all__ = [
    "ClaimExpired",
    "DeviceRevoked",
    "EnrollAnswer",
    "NotClaimed",
    "SlowDown",
    "TenantClient",
    "TenantError",
    "TenantRefused",
    "TenantSession",
    "TenantUnreachable",
    "TokenGrant",
]
