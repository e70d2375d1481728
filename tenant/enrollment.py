"""Enrollment, claims, token issuance and revocation: the device flow of docs/tenant-api.md.

Anchors: RFC 8628 (device authorization grant: claim codes, `interval`, `slow_down`,
`expired_token`), RFC 7523 (JWT assertions as client credentials) and Mender's pending/accept.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from contract.ids import device_id_for
from tenant.assertions import (
    InvalidAssertion,
    claimed_issuer,
    decode_public_key,
    encode_public_key,
    verify_assertion,
)
from tenant.audit import record_change
from tenant.broker.accounts import (
    device_password,
    device_username,
    ensure_account,
    remove_account,
)
from tenant.context import ServiceContext
from tenant.credentials import (
    hash_secret,
    new_access_token,
    new_claim_code,
    new_nonce,
    normalise_claim_code,
)
from tenant.errors import ApiError
from tenant.packs import public_signing_key
from tenant.store import ACTIVE, PENDING, REVOKED, Device, Tenant

log = logging.getLogger(__name__)

Json = dict[str, Any]
INTERVAL_LEEWAY = 0.2  # of the interval: a poll this much early is not told to slow down


@dataclass(frozen=True)
class Enrolled:
    created: bool  # a new claim code was issued (201) rather than "already active" (200)
    body: Json


def enroll(
    ctx: ServiceContext,
    tenant: Tenant,
    public_key: str,
    firmware_version: str,
    enrollment_token: str | None = None,
) -> Enrolled:
    """A claim code for the key, or "already active"; a valid `enrollment_token` claims the
    device for its site at once (tenant/enrollment_tokens.py), an invalid one is named in
    `enrollment_token_refused` beside the claim code."""
    raw = decode_public_key(public_key)
    if raw is None:
        raise ApiError(
            400, "invalid_request", "public_key must be a base64url raw 32-byte Ed25519 key"
        )
    device_id = device_id_for(raw)
    now_ms = ctx.settings.now_ms()
    existing = ctx.store.get_device(tenant.slug, device_id)
    if existing is not None and existing.status == ACTIVE:
        ctx.store.update_device(
            tenant.slug, device_id, firmware_version=firmware_version, last_contact_ms=now_ms
        )
        return Enrolled(
            False, {"device_id": device_id, "status": ACTIVE, "tenant_name": tenant.name}
        )
    code = _unused_claim_code(ctx, tenant.slug, now_ms)
    fresh: dict[str, Any] = {
        "status": PENDING,
        "firmware_version": firmware_version,
        "claim_code_hash": hash_secret(code),
        "claim_expires_ms": now_ms + int(ctx.settings.claim_code_ttl_s * 1000),
        "poll_interval_ms": int(ctx.settings.poll_interval_s * 1000),
        "last_poll_ms": None,
        "last_contact_ms": now_ms,
    }
    if existing is not None:
        ctx.store.update_device(tenant.slug, device_id, **fresh)
        log.info("tenant %s: device %s (%s) enrolls again", tenant.slug, device_id, existing.status)
    else:
        device = Device(
            tenant=tenant.slug,
            device_id=device_id,
            public_key=encode_public_key(raw),
            firmware_version=firmware_version,
            status=PENDING,
            site=None,
            name=None,
            claim_code_hash=fresh["claim_code_hash"],
            claim_expires_ms=fresh["claim_expires_ms"],
            poll_interval_ms=fresh["poll_interval_ms"],
            last_poll_ms=None,
            mqtt_nonce=None,
            enrolled_ms=now_ms,
            claimed_ms=None,
            revoked_ms=None,
            last_contact_ms=now_ms,
        )
        if not ctx.store.insert_device(device):  # enrolled concurrently: take over its row
            ctx.store.update_device(tenant.slug, device_id, **fresh)
        log.info("tenant %s: device %s enrolled, pending", tenant.slug, device_id)
    body: Json = {
        "device_id": device_id,
        "claim_code": code,
        "expires_in": int(ctx.settings.claim_code_ttl_s),
        "interval": _seconds(int(ctx.settings.poll_interval_s * 1000)),
        "tenant_name": tenant.name,
        "status": PENDING,
    }
    if enrollment_token:
        if existing is not None and existing.status == REVOKED:
            refused = "this kiosk was revoked: an admin claims it again with the code"
        else:
            claimed, refused = _claim_with_token(
                ctx, tenant, fresh["claim_code_hash"], enrollment_token
            )
            if claimed is not None:
                return Enrolled(
                    False, {"device_id": device_id, "status": ACTIVE, "tenant_name": tenant.name}
                )
        log.info("tenant %s: device %s: %s", tenant.slug, device_id, refused)
        body["enrollment_token_refused"] = refused
    return Enrolled(True, body)


def _claim_with_token(
    ctx: ServiceContext, tenant: Tenant, code_hash: str, raw_token: str
) -> tuple[Device | None, str]:
    """Claim the pending device showing `code_hash` for the token's site; or say why not."""
    from tenant.enrollment_tokens import redeem

    token, refused = redeem(ctx, tenant, raw_token)
    if token is None:
        return None, refused
    now_ms = ctx.settings.now_ms()
    device = ctx.store.claim(tenant.slug, code_hash, token.site, None, new_nonce(), now_ms)
    if device is None:
        return None, "the claim code changed meanwhile: enroll again"
    log.info(
        "tenant %s: device %s claimed for %r by a token", tenant.slug, device.device_id, token.site
    )
    record_change(
        ctx, tenant.slug, f"enrollment-token:{token.token_id}", "device.claim", "device",
        device.device_id, after={"site": device.site, "enrollment_token": token.token_id},
    )  # fmt: skip
    ensure_account(ctx, device)
    return device, ""


def _unused_claim_code(ctx: ServiceContext, slug: str, now_ms: int) -> str:
    for _ in range(20):
        code = new_claim_code()
        if not ctx.store.claim_code_in_use(slug, hash_secret(code), now_ms):
            return code
    raise ApiError(503, "temporarily_unavailable", "could not find a free claim code")


def _seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def token(
    ctx: ServiceContext,
    tenant: Tenant,
    assertion: str,
    audiences: set[str],
    wait_s: float | None = None,
) -> Json:
    """Exchange a device assertion for an access token, or say why not (RFC 8628 errors).

    `wait_s`: how long the client said it waits for the answer (`Prefer: wait`), if it did."""
    settings = ctx.settings
    try:
        device_id = claimed_issuer(assertion)
    except InvalidAssertion as exc:
        raise _invalid_client(str(exc)) from exc
    device = ctx.store.get_device(tenant.slug, device_id)
    if device is None:
        raise _invalid_client(f"unknown device {device_id!r}: enroll first")
    now_ms = settings.now_ms()
    try:
        verified = verify_assertion(
            assertion,
            decode_public_key(device.public_key) or b"",
            device.device_id,
            audiences,
            now_ms / 1000,
            settings.assertion_max_lifetime_s,
            settings.clock_leeway_s,
        )
    except InvalidAssertion as exc:
        raise _invalid_client(str(exc)) from exc
    ctx.store.forget_expired(now_ms - int(settings.clock_leeway_s * 1000))
    keep_until_ms = int((verified.expires_s + settings.clock_leeway_s) * 1000)
    if not ctx.store.remember_assertion(tenant.slug, device_id, verified.jti, keep_until_ms):
        raise _invalid_client("replayed assertion: every assertion needs a new jti")

    if device.status == REVOKED:
        raise ApiError(403, "access_denied", "this device was revoked by the tenant")
    if device.status == PENDING:
        try:
            device = _held_poll(ctx, device, now_ms, wait_s)
        except ApiError as exc:
            if wait_s is not None:  # so the client knows we count from poll start (RFC 7240)
                exc.headers["Preference-Applied"] = f"wait={int(wait_s)}"
            raise

    access = new_access_token()
    ttl_ms = int(settings.access_token_ttl_s * 1000)
    ctx.store.insert_access_token(
        hash_secret(access), tenant.slug, device_id, now_ms, now_ms + ttl_ms
    )
    ctx.store.update_device(tenant.slug, device_id, last_contact_ms=now_ms)
    ensure_account(ctx, device)  # cheap once done in this broker session
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(settings.access_token_ttl_s),
        "device": {
            "device_id": device_id,
            "site": device.site,
            "name": device.name,
        },
        "tenant": {
            "id": tenant.slug,
            "name": tenant.name,
            "signing_key": public_signing_key(ctx.data_dir, tenant.slug),
        },
        "mqtt": {
            "host": tenant.mqtt_host,
            "port": tenant.mqtt_port,
            "tls": tenant.mqtt_tls,
            "username": device_username(device_id),
            "password": device_password(ctx, device),
        },
    }


def _held_poll(ctx: ServiceContext, device: Device, now_ms: int, wait_s: float | None) -> Device:
    """The device once claimed, or raise the pending answer. An `authorization_pending` poll
    is first held open (RFC 8628 lets a server hold it) until a claim wakes it: one in this
    process at once (tenant/claim_wait.py), one in another process at the next re-read."""
    answer = _pending_answer(ctx, device, now_ms)
    hold_s = _hold_s(ctx, device, now_ms, wait_s)
    if answer.error != "authorization_pending" or hold_s <= 0:
        raise answer
    slug, device_id = device.tenant, device.device_id
    event = ctx.claim_waits.enter(slug, device_id, ctx.settings.claim_poll_waiters)
    if event is None:
        raise answer
    deadline = time.monotonic() + hold_s
    try:
        now = ctx.store.get_device(slug, device_id)  # claimed before `enter`: seen here
        while now is not None and now.status == PENDING:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if event.wait(min(left, ctx.settings.claim_poll_recheck_s)):
                if ctx.claim_waits.closing:
                    break  # the service stops: answer now, the kiosk polls again
                event.clear()
            now = ctx.store.get_device(slug, device_id)
    finally:
        ctx.claim_waits.leave(slug, device_id, event)
    if now is None:
        raise _invalid_client(f"unknown device {device_id!r}: enroll first")
    if now.status == REVOKED:
        raise ApiError(403, "access_denied", "this device was revoked by the tenant")
    if now.status == PENDING:  # the interval runs from this poll's start, as the kiosk counts it
        if now.claim_expires_ms is None or now.claim_expires_ms <= ctx.settings.now_ms():
            raise _expired()
        raise answer
    return now


def _hold_s(ctx: ServiceContext, device: Device, now_ms: int, wait_s: float | None) -> float:
    """How long to hold a pending poll: the setting, what the client said it waits, before the
    code expires. A client that did not say counts its interval from the answer (RFC 8628's
    plain client), so its poll is held within the interval, lest it poll less often."""
    expires_ms = device.claim_expires_ms or now_ms
    said = wait_s if wait_s is not None else 0.9 * device.poll_interval_ms / 1000
    return max(0.0, min(ctx.settings.claim_poll_hold_s, said, (expires_ms - now_ms) / 1000))


def _pending_answer(ctx: ServiceContext, device: Device, now_ms: int) -> ApiError:
    if device.claim_expires_ms is None or device.claim_expires_ms <= now_ms:
        return _expired()
    interval_ms = device.poll_interval_ms
    # From the start of the last poll to the start of this one: the client counts from its
    # sending, we from our receiving, and the two delays differ (a new connection, a busy
    # worker pool): so a poll a little early by our clock is not too soon.
    leeway_ms = int(interval_ms * INTERVAL_LEEWAY)
    too_soon = (
        device.last_poll_ms is not None and now_ms - device.last_poll_ms < interval_ms - leeway_ms
    )
    if too_soon:
        interval_ms += int(ctx.settings.slow_down_step_s * 1000)
    ctx.store.update_device(
        device.tenant,
        device.device_id,
        last_poll_ms=now_ms,
        poll_interval_ms=interval_ms,
        last_contact_ms=now_ms,
    )
    if too_soon:
        return ApiError(
            400, "slow_down", f"polled too fast: wait {_seconds(interval_ms)} s between polls"
        )
    return ApiError(400, "authorization_pending", "not claimed yet: show the claim code")


def _expired() -> ApiError:
    return ApiError(400, "expired_token", "the claim code expired: enroll again for a new one")


def _invalid_client(description: str) -> ApiError:
    return ApiError(401, "invalid_client", description)


def claim(
    ctx: ServiceContext, tenant: Tenant, code: str, site: str, name: str | None, *, actor: str
) -> Json:
    normalised = normalise_claim_code(code)
    now_ms = ctx.settings.now_ms()
    device = (
        ctx.store.claim(tenant.slug, hash_secret(normalised), site, name, new_nonce(), now_ms)
        if normalised
        else None
    )
    if device is None:
        raise ApiError(404, "not_found", f"unknown or expired claim code {code!r}")
    log.info("tenant %s: device %s claimed for site %r", tenant.slug, device.device_id, site)
    record_change(
        ctx, tenant.slug, actor, "device.claim", "device", device.device_id,
        after={"site": device.site, "name": device.name},
    )  # fmt: skip
    ensure_account(ctx, device)
    ctx.claim_waits.notify(tenant.slug, device.device_id)  # answer its held poll now
    return {
        "device_id": device.device_id,
        "site": device.site,
        "name": device.name,
    }


def revoke(ctx: ServiceContext, tenant: Tenant, device_id: str, *, actor: str) -> Json:
    before = ctx.store.get_device(tenant.slug, device_id)
    if before is None or not ctx.store.revoke(tenant.slug, device_id, ctx.settings.now_ms()):
        raise ApiError(404, "not_found", f"no device {device_id!r} in tenant {tenant.slug!r}")
    log.info("tenant %s: device %s revoked", tenant.slug, device_id)
    record_change(
        ctx, tenant.slug, actor, "device.revoke", "device", device_id,
        before={"status": before.status, "site": before.site}, after={"status": REVOKED},
    )  # fmt: skip
    remove_account(ctx, tenant.slug, device_id)
    ctx.claim_waits.notify(tenant.slug, device_id)
    return {"device_id": device_id, "status": REVOKED}
