"""A minimal kiosk for the tenant tests: an Ed25519 key, enrollment and signed assertions.

(The real device client lives in device/; this one exists so that the tenant's tests can make
every malformed request the real client never would.)
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.ids import device_id_for

TIMEOUT = 10


class Kiosk:
    def __init__(self, tenant_url: str, clock: Callable[[], float]) -> None:
        self.tenant_url = tenant_url
        self.clock = clock
        self.key = Ed25519PrivateKey.generate()
        self.public_raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.device_id = device_id_for(self.public_raw)
        self.access_token = ""

    @property
    def public_key(self) -> str:
        return base64.urlsafe_b64encode(self.public_raw).decode().rstrip("=")

    def enroll(self, tenant_url: str | None = None) -> requests.Response:
        return requests.post(
            f"{tenant_url or self.tenant_url}/v1/enroll",
            json={"public_key": self.public_key, "firmware_version": "0.1.0"},
            timeout=TIMEOUT,
        )

    def claim_code(self) -> str:
        response = self.enroll()
        assert response.status_code == 201, response.text
        code: str = response.json()["claim_code"]
        return code

    def assertion(
        self,
        key: Ed25519PrivateKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(self.clock())
        body: dict[str, Any] = {
            "iss": self.device_id,
            "sub": self.device_id,
            "aud": f"{self.tenant_url}/v1/token",
            "iat": now,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="EdDSA", headers=headers)

    def token(
        self, assertion: str | None = None, tenant_url: str | None = None, wait_s: int | None = None
    ) -> requests.Response:
        """A token poll; with `wait_s`, saying how long it waits for a held answer (`Prefer`)."""
        return requests.post(
            f"{tenant_url or self.tenant_url}/v1/token",
            json={"assertion": assertion or self.assertion()},
            headers={} if wait_s is None else {"Prefer": f"wait={wait_s}"},
            timeout=TIMEOUT + (wait_s or 0),
        )

    def login(self) -> str:
        response = self.token()
        assert response.status_code == 200, response.text
        self.access_token = response.json()["access_token"]
        return self.access_token

    def get(self, path: str, token: str | None = None, **headers: str) -> requests.Response:
        auth = {"Authorization": f"Bearer {token or self.access_token}"}
        url = path if path.startswith("http") else f"{self.tenant_url}{path}"
        return requests.get(url, headers={**auth, **headers}, timeout=TIMEOUT)

    def playlists(self, **headers: str) -> requests.Response:
        return self.get("/v1/device/playlists", **headers)
