"""What can go wrong between the kiosk and its tenant, as types the callers can act on.

Each class maps to one reaction: `TenantUnreachable` means retry later with backoff,
`NotClaimed` keep polling, `ClaimExpired` enroll again, `DeviceRevoked` stop syncing and show
it, `TenantRefused` give up on this request. None of them ever stops the kiosk playing.
"""

from __future__ import annotations

__all__ = [
    "ClaimExpired",
    "DeviceRevoked",
    "NotClaimed",
    "SlowDown",
    "TenantError",
    "TenantRefused",
    "TenantUnreachable",
]


class TenantError(Exception):
    """Any failure talking to the tenant; `status` and `error` come from its answer, if any."""

    def __init__(
        self, message: str, *, status: int | None = None, error: str = "", description: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.description = description


class TenantUnreachable(TenantError):
    """No usable answer: network error, timeout, 5xx, 429, or a body that is not the API's
    (a captive portal answering in the tenant's place). Transient: retry with backoff."""


class NotClaimed(TenantError):
    """`authorization_pending`: no admin has claimed this device yet; poll again later."""


class SlowDown(NotClaimed):
    """`slow_down`: polled faster than the interval; the poller adds 5 s to its interval."""


class ClaimExpired(TenantError):
    """`expired_token`: the claim code expired before anyone used it; enroll for a new one."""


class DeviceRevoked(TenantError):
    """`access_denied`: an admin revoked this device. It can be claimed again with a new code."""


class TenantRefused(TenantError):
    """Any other 4xx (`invalid_client`, `invalid_token` after a renewal, a bad request…)."""
