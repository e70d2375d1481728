"""The tenant's unauthenticated device endpoints (enroll, token) over one requests.Session.

Every answer becomes either a typed result or a typed error (device/tenant_api/errors.py), so
callers never look at status codes. Anything that is not the API's own JSON (a captive portal,
a proxy's error page) is `TenantUnreachable`: the network is not really there yet.

The client also estimates the tenant's clock from each answer's `Date` header: a kiosk without
an RTC may boot with a wall clock days off until NTP syncs, and the tenant refuses assertions
stamped with such a time (see `server_time`).
"""

from __future__ import annotations

import base64
import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from device.identity.credentials import MqttCredentials
from device.tenant_api.errors import (
    ClaimExpired,
    DeviceRevoked,
    NotClaimed,
    SlowDown,
    TenantError,
    TenantRefused,
    TenantUnreachable,
)

__all__ = ["EnrollAnswer", "TenantClient", "TokenGrant", "error_for"]

log = logging.getLogger(__name__)

# Below this the local clock is trusted (the Date header only has 1 s resolution); above it
# assertions are stamped with the tenant's time instead. The tenant's leeway is larger.
CLOCK_SKEW_TOLERANCE_S = 10.0
# How long a token poll says it waits for a held answer (the tenant holds up to 20 s): well
# past that hold, so the read timeout never ends a held poll, and below common proxy timeouts.
TOKEN_WAIT_S = 25
_TRANSIENT_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class EnrollAnswer:
    """`/v1/enroll`'s answer: a claim code to show (pending), or already claimed (active)."""

    device_id: str
    status: Literal["pending", "active"]
    tenant_name: str
    claim_code: str | None = None
    expires_in: float | None = None  # seconds the claim code is valid
    interval: float | None = None  # seconds between polls of /v1/token
    token_refused: str | None = None  # why the enrollment token sent did not claim the kiosk


@dataclass(frozen=True)
class TokenGrant:
    """`/v1/token`'s answer: a short-lived access token and what the claim said about us."""

    access_token: str = field(repr=False)
    expires_in: float
    device_id: str
    site: str
    device_name: str
    tenant_id: str
    tenant_name: str
    mqtt: MqttCredentials | None
    signing_key: str = ""  # the tenant's content-pack key (base64url); "" from older tenants


class TenantClient:
    """HTTP to one tenant base URL (`{service}/t/{tenant}`); thread-safe like requests.Session
    is for plain requests (no shared cookies or auth are used)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        token_wait_s: int = TOKEN_WAIT_S,
        verify: bool | str = True,
        user_agent: str = "jukebox-kiosk",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"tenant URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token_wait_s = token_wait_s
        # The tenant answered our last token poll with `Preference-Applied: wait`: it may hold
        # polls past the interval and counts the interval from poll start to poll start. An
        # older tenant counts from its answer: a poll sooner than that would be slow_down.
        self.polls_timed_from_start = False
        self.verify = verify
        self._wall_clock = wall_clock
        self._clock_offset = 0.0
        self._http = requests.Session()
        self._http.headers["User-Agent"] = user_agent

    @property
    def token_audience(self) -> str:
        """The `aud` a device assertion must carry."""
        return self.base_url + "/v1/token"

    def server_time(self) -> float:
        """The tenant's wall time as far as we can tell: ours, corrected when the last answer's
        `Date` header showed our clock off by more than CLOCK_SKEW_TOLERANCE_S."""
        return self._wall_clock() + self._clock_offset

    @property
    def clock_offset(self) -> float:
        return self._clock_offset

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ endpoints

    def enroll(
        self,
        public_key: bytes,
        firmware_version: str,
        enrollment_token: str | None = None,
    ) -> EnrollAnswer:
        """Ask for a claim code for this key (or learn that it is already claimed)."""
        body = {
            "public_key": base64.urlsafe_b64encode(public_key).decode().rstrip("="),
            "firmware_version": firmware_version,
            "enrollment_token": enrollment_token,
        }
        response = self.request("POST", "/v1/enroll", json=body)
        with response:
            if response.status_code not in (200, 201):
                raise error_for(response)
            data = _json_object(response)
            try:
                status = data.get("status")
                if status == "active":
                    return EnrollAnswer(
                        _string(data, "device_id"), "active", _string(data, "tenant_name", True)
                    )
                if status != "pending":
                    raise ValueError(f"status {status!r}")
                return EnrollAnswer(
                    device_id=_string(data, "device_id"),
                    status="pending",
                    tenant_name=_string(data, "tenant_name", True),
                    claim_code=_string(data, "claim_code"),
                    expires_in=_seconds(data, "expires_in"),
                    interval=_seconds(data, "interval"),
                    token_refused=_refusal(data),
                )
            except ValueError as exc:
                raise _malformed(response, exc) from exc

    def token(self, assertion: str) -> TokenGrant:
        """Trade a device assertion for an access token (and the claim's details).

        A pending kiosk's poll may be held open until its claim (long polling): we say how long
        we wait (RFC 7240 `Prefer: wait`) and wait that much longer than for other answers."""
        response = self.request(
            "POST",
            "/v1/token",
            headers={"Prefer": f"wait={self.token_wait_s}"},
            json={"assertion": assertion},
            timeout=(self.timeout, self.timeout + self.token_wait_s),  # connect, read
        )
        applied = response.headers.get("Preference-Applied", "")
        self.polls_timed_from_start = "wait" in applied.lower()
        with response:
            if response.status_code != 200:
                raise error_for(response)
            data = _json_object(response)
            try:
                token_type = data.get("token_type", "Bearer")
                if not isinstance(token_type, str) or token_type.lower() != "bearer":
                    raise ValueError(f"token_type {token_type!r}")
                device = data.get("device")
                tenant = data.get("tenant")
                if not isinstance(device, dict) or not isinstance(tenant, dict):
                    raise ValueError("device or tenant is not an object")
                mqtt = data.get("mqtt")
                return TokenGrant(
                    access_token=_string(data, "access_token"),
                    expires_in=_seconds(data, "expires_in"),
                    device_id=_string(device, "device_id"),
                    site=_string(device, "site", True),
                    device_name=_string(device, "name", True),
                    tenant_id=_string(tenant, "id"),
                    tenant_name=_string(tenant, "name", True),
                    mqtt=None if mqtt is None else MqttCredentials.from_json(mqtt),
                    signing_key=_string(tenant, "signing_key", True),
                )
            except ValueError as exc:
                raise _malformed(response, exc) from exc

    # ------------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
    ) -> requests.Response:
        """One request to `base_url + path`. Raises TenantUnreachable on network errors and on
        5xx/408/429 answers; returns the response for every other status. `timeout`: seconds,
        or (to connect, to read), as requests takes it."""
        if not path.startswith("/"):
            raise ValueError(f"tenant paths start with '/', got {path!r}")
        url = self.base_url + path
        try:
            response = self._http.request(
                method,
                url,
                headers=dict(headers or {}),
                json=json,
                stream=stream,
                timeout=self.timeout if timeout is None else timeout,
                verify=self.verify,
                allow_redirects=False,  # the API never redirects; a portal does
            )
        except requests.RequestException as exc:
            raise TenantUnreachable(
                f"{method} {url}: {_describe(exc)}", description=_describe(exc)
            ) from exc
        self._learn_clock(response)
        if response.status_code >= 500 or response.status_code in _TRANSIENT_STATUSES:
            with response:
                raise error_for(response)
        if 300 <= response.status_code < 400 and response.status_code != 304:
            with response:
                where = response.headers.get("Location", "?")
                raise TenantUnreachable(
                    f"{method} {url}: redirected to {where} (a captive portal or a proxy?)",
                    status=response.status_code,
                    description=f"redirected to {where}",
                )
        return response

    def _learn_clock(self, response: requests.Response) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        try:
            tenant_time = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        offset = tenant_time - self._wall_clock()
        new = offset if abs(offset) > CLOCK_SKEW_TOLERANCE_S else 0.0
        if (new == 0.0) != (self._clock_offset == 0.0):
            if new:
                side = "behind" if new > 0 else "ahead of"
                log.warning("local clock is %.0f s %s the tenant's: using its time", abs(new), side)
            else:
                log.info("local clock agrees with the tenant's again")
        self._clock_offset = new


def error_for(response: requests.Response) -> TenantError:
    """The typed error for a non-success answer; its JSON `error` code picks the class, and a
    body that is not the API's JSON still gives a useful message."""
    status = response.status_code
    code, description = "", ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        found, text = data.get("error"), data.get("error_description")
        code = found if isinstance(found, str) else ""
        description = text if isinstance(text, str) else ""
    where = f"{response.request.method} {response.url}" if response.request else response.url
    message = f"{where}: {status} {code or response.reason or ''}".rstrip()
    if description:
        message += f" ({description})"
    kind: type[TenantError]
    if status >= 500 or status in _TRANSIENT_STATUSES:
        kind = TenantUnreachable
    elif code == "authorization_pending":
        kind = NotClaimed
    elif code == "slow_down":
        kind = SlowDown
    elif code == "expired_token":
        kind = ClaimExpired
    elif code == "access_denied" and status == 403:
        kind = DeviceRevoked
    else:
        kind = TenantRefused
    return kind(message, status=status, error=code, description=description)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise _malformed(response, exc) from exc
    if not isinstance(data, dict):
        raise _malformed(response, ValueError("not a JSON object"))
    return data


def _malformed(response: requests.Response, problem: Exception) -> TenantUnreachable:
    kind = response.headers.get("Content-Type", "no content type")
    return TenantUnreachable(
        f"{response.url}: {response.status_code} answer is not the tenant API's ({kind}: "
        f"{problem})",
        status=response.status_code,
        description="the answer is not the tenant API's (a captive portal?)",
    )


def _string(data: dict[str, Any], key: str, optional: bool = False) -> str:
    value = data.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not (value or optional):
        raise ValueError(f"{key} is not a non-empty string")
    return value


def _seconds(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{key} is not a positive number")
    return float(value)


def _describe(exc: requests.RequestException) -> str:
    """A one-line reason for the technician ("connection refused", "name or service not
    known"): requests' own messages nest whole reprs of urllib3 objects."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    prefix = "TLS failed" if isinstance(exc, requests.exceptions.SSLError) else "connection failed"
    root = _root_os_error(exc)
    if root is not None and root.strerror:
        return f"{prefix}: {root.strerror.lower()}"
    if isinstance(exc, requests.ConnectionError):
        return prefix
    return type(exc).__name__


def _root_os_error(exc: BaseException) -> OSError | None:
    """The innermost OSError with a reason, through urllib3's wrappers and exception chains."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    found: OSError | None = None
    while pending and len(seen) < 32:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            found = current
        pending.extend([*current.args, getattr(current, "reason", None)])
        pending.extend([current.__cause__, current.__context__])
    return found


def _refusal(data: dict[str, Any]) -> str | None:
    """The tenant's reason for not honouring the enrollment token, cut for the screen."""
    reason = data.get("enrollment_token_refused")
    return reason[:200] if isinstance(reason, str) and reason else None
