"""Device assertions (RFC 7523 style): EdDSA JWTs signed by the device's own key."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_BASE64URL_KEY = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]=?")
REQUIRED_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti"]


class InvalidAssertion(Exception):
    """The assertion is not acceptable; the message says why (sent as error_description)."""


@dataclass(frozen=True)
class VerifiedAssertion:
    device_id: str
    jti: str
    expires_s: float


def decode_public_key(text: str) -> bytes | None:
    """base64url (padding optional) raw 32 bytes that load as an Ed25519 key, else None."""
    if not _BASE64URL_KEY.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None
    return raw


def encode_public_key(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def claimed_issuer(assertion: str) -> str:
    """The device id the assertion claims to come from (not yet verified)."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise InvalidAssertion(f"malformed assertion: {exc}") from exc
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidAssertion("the assertion names no issuer (iss)")
    return issuer


def normalise_url(url: str) -> str:
    """Scheme and host in lowercase, default ports and trailing slashes dropped."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = (
        host
        if port is None or (scheme, port) in (("http", 80), ("https", 443))
        else (f"{host}:{port}")
    )
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def verify_assertion(
    assertion: str,
    public_key: bytes,
    device_id: str,
    audiences: set[str],
    now_s: float,
    max_lifetime_s: float,
    leeway_s: float,
) -> VerifiedAssertion:
    key = Ed25519PublicKey.from_public_bytes(public_key)
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key=key,
            algorithms=["EdDSA"],
            options={
                "require": REQUIRED_CLAIMS,
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise InvalidAssertion("bad assertion signature") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidAssertion(f"invalid assertion: {exc}") from exc
    if claims["iss"] != device_id or claims["sub"] != device_id:
        raise InvalidAssertion("iss and sub must both be the device id")
    aud = claims["aud"]
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and normalise_url(a) in audiences for a in named):
        raise InvalidAssertion(f"wrong audience: expected {sorted(audiences)[0]}")
    iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
        raise InvalidAssertion("iat and exp must be numbers")
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise InvalidAssertion("jti must be a string of 1 to 200 characters")
    if exp - iat > max_lifetime_s:
        raise InvalidAssertion(f"assertion lifetime over {max_lifetime_s:g} s (exp - iat)")
    if exp <= now_s - leeway_s:
        raise InvalidAssertion("expired assertion (check the device clock against Date)")
    if iat > now_s + leeway_s:
        raise InvalidAssertion("assertion issued in the future (check the device clock)")
    if (
        "nbf" in claims
        and isinstance(claims["nbf"], int | float)
        and claims["nbf"] > now_s + leeway_s
    ):
        raise InvalidAssertion("assertion not yet valid (nbf)")
    return VerifiedAssertion(device_id, jti, float(exp))
