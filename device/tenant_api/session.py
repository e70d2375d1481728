"""Authenticated HTTP to the tenant: the device.ports.TenantHttp the sync (and later the MQTT
publisher) use, sharing one short-lived access token between their threads.

Tokens are renewed before they expire (at `renew_at` of their lifetime, timed with the
monotonic clock because the wall clock of a Pi without RTC may jump when NTP syncs) and once
more when the tenant answers 401, because an admin can invalidate tokens at any moment.

Once the tenant says the device is revoked or not claimed, the session remembers it and
refuses requests without touching the network until a token is granted again: a sync loop
must not hammer the tenant, nor count against the claim poller's interval (RFC 8628
`slow_down`). Only `renew()` asks again; the enrollment thread calls it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from device.identity.keys import DeviceKey
from device.tenant_api.client import TenantClient, TokenGrant, error_for
from device.tenant_api.errors import (
    ClaimExpired,
    DeviceRevoked,
    NotClaimed,
    TenantError,
    TenantRefused,
)

__all__ = ["TenantSession"]

log = logging.getLogger(__name__)


class TenantSession:
    """Implements device.ports.TenantHttp for one device key and one tenant; thread-safe."""

    def __init__(
        self,
        client: TenantClient,
        key: DeviceKey,
        *,
        renew_at: float = 0.8,
        assertion_lifetime_s: int = 120,
        monotonic: Callable[[], float] = time.monotonic,
        on_grant: Callable[[TokenGrant], None] | None = None,
        on_revoked: Callable[[DeviceRevoked], None] | None = None,
    ) -> None:
        if not 0 < renew_at <= 1:
            raise ValueError("renew_at is a fraction of the token lifetime, in (0, 1]")
        self.client = client
        self.key = key
        self.base_url: str = client.base_url
        self.renew_at = renew_at
        self.assertion_lifetime_s = assertion_lifetime_s
        self._monotonic = monotonic
        self._on_grant = on_grant
        self._on_revoked = on_revoked
        self._lock = threading.Lock()
        self._grant: TokenGrant | None = None
        self._renew_after = 0.0  # monotonic time after which the token is renewed first
        self._blocked: TenantError | None = None  # NotClaimed, ClaimExpired or DeviceRevoked

    # ------------------------------------------------------------------ TenantHttp

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        """GET `base_url + path` with the access token (see `request`)."""
        return self.request("GET", path, headers=headers, stream=stream, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        """Send with the current token, renewing it (and retrying once) on a 401.

        Raises TenantUnreachable (network, 5xx), DeviceRevoked (403 access_denied), NotClaimed
        or ClaimExpired (no token can be had), TenantRefused (still 401 with a fresh token,
        or the token endpoint refused us); returns the response for any other status.
        """
        grant = self.ensure_token()
        response = self._send(method, path, grant, headers, json, stream, timeout)
        if response.status_code == 401:
            response.close()
            log.info("tenant refused the access token for %s %s: renewing it", method, path)
            grant = self.renew_rejected(grant)
            response = self._send(method, path, grant, headers, json, stream, timeout)
            if response.status_code == 401:
                with response:
                    error = error_for(response)
                raise TenantRefused(
                    f"{error} even with a fresh token",
                    status=401,
                    error=error.error,
                    description=error.description,
                )
        if response.status_code == 403:
            error = error_for(response)
            if isinstance(error, DeviceRevoked):
                response.close()
                self._block(error)
                raise error
        return response

    # ------------------------------------------------------------------ tokens

    @property
    def grant(self) -> TokenGrant | None:
        """The current token grant, if any (it may be due for renewal)."""
        return self._grant

    def ensure_token(self) -> TokenGrant:
        """A token that is not yet due for renewal, asking the tenant only when needed."""
        with self._lock:
            if self._blocked is not None:
                raise _copy(self._blocked)
            grant = self._grant
            if grant is not None and self._monotonic() < self._renew_after:
                return grant
        return self._renew(stale=grant)

    def renew(self) -> TokenGrant:
        """Ask the tenant for a new token with a fresh assertion, whatever the current state.

        The claim poller calls this: NotClaimed, SlowDown, ClaimExpired and DeviceRevoked are
        its answers, and a grant lifts any remembered refusal.
        """
        return self._renew(stale=None, force=True)

    def _renew(self, stale: TokenGrant | None, *, force: bool = False) -> TokenGrant:
        """Renew, unless (without `force`) another thread already replaced `stale`."""
        refusal: TenantError | None = None
        newly_revoked = False
        with self._lock:
            current = self._grant
            reusable = (
                not force
                and current is not None
                and current is not stale
                and self._blocked is None
                and self._monotonic() < self._renew_after
            )
            if reusable and current is not None:
                return current  # another thread renewed while we waited for the lock
            started = self._monotonic()
            try:
                grant = self._request_token()
            except (NotClaimed, ClaimExpired, DeviceRevoked) as exc:
                refusal = exc
                newly_revoked = self._set_blocked(exc)
            else:
                self._grant = grant
                self._renew_after = started + self.renew_at * grant.expires_in
                self._blocked = None
        if refusal is not None:
            if newly_revoked:
                self._notify_revoked(refusal)
            raise refusal
        log.debug("access token renewed, valid %.0f s", grant.expires_in)
        if self._on_grant is not None:
            self._on_grant(grant)
        return grant

    def forget(self) -> None:
        """Drop the token and any remembered refusal (the next request asks the tenant)."""
        with self._lock:
            self._grant = None
            self._blocked = None

    def renew_rejected(self, rejected: TokenGrant) -> TokenGrant:
        """A new token, because the tenant answered 401 to `rejected` (unless another thread
        already replaced it)."""
        with self._lock:
            if self._grant is rejected:
                self._renew_after = 0.0
        return self._renew(stale=rejected)

    def _request_token(self) -> TokenGrant:
        """One token request; retried once when the refusal taught us our clock is off."""
        offset = self.client.clock_offset
        try:
            return self.client.token(self._assertion())
        except TenantRefused as exc:
            if exc.error != "invalid_client" or self.client.clock_offset == offset:
                raise
            log.warning("assertion refused with a skewed clock: retrying with the tenant's time")
            return self.client.token(self._assertion())

    def _assertion(self) -> str:
        # The client's clock: ours, or the tenant's when ours proved wrong (no RTC, no NTP).
        now = self.client.server_time()
        return self.key.assertion(self.client.token_audience, self.assertion_lifetime_s, now=now)

    def _send(
        self,
        method: str,
        path: str,
        grant: TokenGrant,
        headers: Mapping[str, str] | None,
        json: Any,
        stream: bool,
        timeout: float,
    ) -> requests.Response:
        merged = dict(headers or {})
        merged["Authorization"] = f"Bearer {grant.access_token}"
        return self.client.request(
            method, path, headers=merged, json=json, stream=stream, timeout=timeout
        )

    def _block(self, error: TenantError) -> None:
        with self._lock:
            newly_revoked = self._set_blocked(error)
        if newly_revoked and isinstance(error, DeviceRevoked):
            self._notify_revoked(error)

    def _set_blocked(self, error: TenantError) -> bool:
        """Remember a refusal (lock held); True when it newly says the device is revoked."""
        was_revoked = isinstance(self._blocked, DeviceRevoked)
        self._grant = None
        self._blocked = error
        return isinstance(error, DeviceRevoked) and not was_revoked

    def _notify_revoked(self, error: TenantError) -> None:
        log.warning("the tenant revoked this device: requests stop until it is claimed again")
        if self._on_revoked is not None and isinstance(error, DeviceRevoked):
            self._on_revoked(error)


def _copy(error: TenantError) -> TenantError:
    """A fresh exception like `error`, so threads never share one traceback."""
    return type(error)(
        str(error), status=error.status, error=error.error, description=error.description
    )
