"""Enrollment, claims and tokens: the device flow of docs/tenant-api.md, over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.ids import device_id_for
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import POLL_INTERVAL_S, SLOW_DOWN_STEP_S, MovableClock
from tests.tenant.kiosk import Kiosk

CLAIM_CODE = re.compile(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}")


def error_of(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error_description"]
    return str(body["error"])


def test_a_new_key_gets_a_claim_code_and_its_key_derived_device_id(kiosk: Kiosk) -> None:
    response = kiosk.enroll()

    assert response.status_code == 201
    body = response.json()
    assert body["device_id"] == device_id_for(kiosk.public_raw)
    assert CLAIM_CODE.fullmatch(body["claim_code"])
    assert not set(body["claim_code"]) & set("01OIL")
    assert body["status"] == "pending"
    assert body["expires_in"] == 900
    assert body["interval"] == POLL_INTERVAL_S
    assert body["tenant_name"] == "Library network lib-a"


@pytest.mark.parametrize(
    "key",
    [
        "A" * 42,  # 31 bytes
        "A" * 44 + "AA",  # 33 bytes
        "A" * 42 + "B",  # 32 bytes with stray bits in the last character
        "!" * 43,
        "A" * 20 + "+/" + "A" * 21,  # base64, not base64url
    ],
)
def test_a_malformed_public_key_is_refused(service: RunningTenant, key: str) -> None:
    response = requests.post(
        f"{service.url('lib-a')}/v1/enroll", json={"public_key": key}, timeout=5
    )

    assert response.status_code in (400, 422)
    assert error_of(response) == "invalid_request"
    assert service.devices("lib-a") == []


def test_polling_before_the_claim_is_pending_then_the_claim_gives_a_token(
    service: RunningTenant, kiosk: Kiosk, clock: MovableClock
) -> None:
    code = kiosk.claim_code()

    pending = kiosk.token()
    assert pending.status_code == 400 and error_of(pending) == "authorization_pending"
    assert service.devices("lib-a")[0]["status"] == "pending"

    claimed = service.claim("lib-a", code.lower().replace("-", " "), "centre", "Hall")
    assert claimed == {"device_id": kiosk.device_id, "site": "centre", "name": "Hall"}
    clock.advance(POLL_INTERVAL_S)
    response = kiosk.token()

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["access_token"]
    assert body["device"] == {"device_id": kiosk.device_id, "site": "centre", "name": "Hall"}
    signing_key = body["tenant"].pop("signing_key")  # for content packs (tests/tenant/test_pack)
    assert len(signing_key) == 43  # base64url of a raw 32-byte Ed25519 key
    assert body["tenant"] == {"id": "lib-a", "name": "Library network lib-a"}
    mqtt = body["mqtt"]
    assert mqtt["username"] == kiosk.device_id
    assert len(mqtt["password"]) >= 32
    assert (mqtt["host"], mqtt["port"], mqtt["tls"]) == ("127.0.0.1", 8883, True)
    assert response.headers["cache-control"] == "no-store"
    assert kiosk.token().json()["mqtt"] == mqtt  # the same credentials until the next claim


def test_polling_faster_than_the_interval_is_told_to_slow_down_and_the_interval_grows(
    kiosk: Kiosk, clock: MovableClock
) -> None:
    kiosk.claim_code()
    # polls not held (wait=0): the interval runs from one poll's start to the next one's,
    # which the service says by applying the preference (an older service did not)
    pending = kiosk.token(wait_s=0)
    assert error_of(pending) == "authorization_pending"
    assert pending.headers["preference-applied"] == "wait=0"

    assert error_of(kiosk.token(wait_s=0)) == "slow_down"
    clock.advance(POLL_INTERVAL_S + 0.1)  # the old interval is no longer enough
    assert error_of(kiosk.token(wait_s=0)) == "slow_down"
    clock.advance(POLL_INTERVAL_S + SLOW_DOWN_STEP_S * 2 + 0.1)
    assert error_of(kiosk.token(wait_s=0)) == "authorization_pending"


def test_an_expired_claim_code_cannot_be_claimed_and_the_device_is_told_to_enroll_again(
    service: RunningTenant, kiosk: Kiosk, clock: MovableClock
) -> None:
    code = kiosk.claim_code()
    clock.advance(901)

    expired = kiosk.token()
    assert expired.status_code == 400 and error_of(expired) == "expired_token"
    with pytest.raises(Exception, match="404"):
        service.claim("lib-a", code, "centre")

    fresh = kiosk.claim_code()
    assert fresh != code
    service.claim("lib-a", fresh, "centre")
    assert kiosk.token().status_code == 200


def test_an_unknown_claim_code_is_404(service: RunningTenant) -> None:
    with pytest.raises(Exception, match="HTTP 404 not_found"):
        service.claim("lib-a", "ABCD-EFGH", "centre")
    with pytest.raises(Exception, match="HTTP 404 not_found"):
        service.claim("lib-a", "not a code", "centre")


def test_a_claimed_device_that_enrolls_again_goes_straight_to_its_token(
    service: RunningTenant, kiosk: Kiosk
) -> None:
    service.claim("lib-a", kiosk.claim_code(), "centre")

    again = kiosk.enroll()

    assert again.status_code == 200
    assert again.json() == {
        "device_id": kiosk.device_id,
        "status": "active",
        "tenant_name": "Library network lib-a",
    }
    assert kiosk.token().status_code == 200


def test_a_revoked_device_is_denied_then_reclaimed_with_the_same_id_and_new_mqtt_password(
    service: RunningTenant, kiosk: Kiosk, clock: MovableClock
) -> None:
    service.claim("lib-a", kiosk.claim_code(), "centre")
    first = kiosk.token().json()
    service.revoke("lib-a", kiosk.device_id)

    denied = kiosk.token()
    assert denied.status_code == 403 and error_of(denied) == "access_denied"
    assert service.devices("lib-a")[0]["status"] == "revoked"

    again = kiosk.enroll()
    assert again.status_code == 201
    assert again.json()["device_id"] == kiosk.device_id
    assert error_of(kiosk.token()) == "authorization_pending"
    service.claim("lib-a", again.json()["claim_code"], "annexe")
    clock.advance(POLL_INTERVAL_S)
    second = kiosk.token()

    assert second.status_code == 200
    assert second.json()["device"]["device_id"] == kiosk.device_id
    assert second.json()["device"]["site"] == "annexe"
    assert second.json()["mqtt"]["password"] != first["mqtt"]["password"]
    assert [d["device_id"] for d in service.devices("lib-a")] == [kiosk.device_id]


def _invalid(kiosk: Kiosk, clock: MovableClock) -> dict[str, str]:
    other = Ed25519PrivateKey.generate()
    now = int(clock())
    return {
        "bad signature": kiosk.assertion(key=other),
        "wrong audience": kiosk.assertion(aud="http://elsewhere.example/t/lib-a/v1/token"),
        "audience of another tenant": kiosk.assertion(aud=kiosk.tenant_url[:-1] + "b/v1/token"),
        "expired": kiosk.assertion(iat=now - 400, exp=now - 100),
        "lifetime over 300 s": kiosk.assertion(exp=now + 301),
        "issued in the future": kiosk.assertion(iat=now + 3600, exp=now + 3700),
        "no jti": kiosk.assertion(jti=None),
        "sub is not the device": kiosk.assertion(sub="jk-aaaaaaaaaaaaaaaaaaaa"),
        "HS256": jwt.encode(
            {
                "iss": kiosk.device_id,
                "sub": kiosk.device_id,
                "aud": "x",
                "iat": now,
                "exp": now + 60,
                "jti": "j",
            },
            "secret-secret-secret-secret-secret",
            algorithm="HS256",
        ),
        "not a JWT": "not-a-jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad signature",
        "wrong audience",
        "audience of another tenant",
        "expired",
        "lifetime over 300 s",
        "issued in the future",
        "no jti",
        "sub is not the device",
        "HS256",
        "not a JWT",
    ],
)
def test_an_unacceptable_assertion_is_invalid_client(
    service: RunningTenant, kiosk: Kiosk, clock: MovableClock, case: str
) -> None:
    service.claim("lib-a", kiosk.claim_code(), "centre")

    response = kiosk.token(_invalid(kiosk, clock)[case])

    assert response.status_code == 401, response.text
    assert error_of(response) == "invalid_client"
    assert kiosk.token().status_code == 200  # the device itself is fine


def test_a_replayed_assertion_is_refused(service: RunningTenant, kiosk: Kiosk) -> None:
    service.claim("lib-a", kiosk.claim_code(), "centre")
    assertion = kiosk.assertion()
    assert kiosk.token(assertion).status_code == 200

    replay = kiosk.token(assertion)

    assert replay.status_code == 401 and error_of(replay) == "invalid_client"
    assert "replay" in replay.json()["error_description"]


def test_an_unknown_device_is_invalid_client(service: RunningTenant, kiosk: Kiosk) -> None:
    response = kiosk.token()  # never enrolled

    assert response.status_code == 401 and error_of(response) == "invalid_client"


def test_a_device_enrolled_in_one_tenant_is_unknown_in_another(
    service: RunningTenant, kiosk: Kiosk, clock: MovableClock
) -> None:
    service.claim("lib-a", kiosk.claim_code(), "centre")
    other_url = service.url("lib-b")

    response = kiosk.token(kiosk.assertion(aud=f"{other_url}/v1/token"), tenant_url=other_url)

    assert response.status_code == 401 and error_of(response) == "invalid_client"
    assert service.devices("lib-b") == []
    with pytest.raises(Exception, match="404"):  # lib-a's code means nothing to lib-b
        service.claim("lib-b", Kiosk(service.url("lib-a"), clock).claim_code(), "x")


def test_claim_codes_accept_what_an_admin_types_and_nothing_ambiguous() -> None:
    from tenant.credentials import new_claim_code, normalise_claim_code

    for _ in range(200):
        code = new_claim_code()
        assert CLAIM_CODE.fullmatch(code)
        assert normalise_claim_code(code.lower().replace("-", "")) == code
        assert normalise_claim_code(f" {code[:4]} {code[5:]} ") == code
    assert normalise_claim_code("ABCD-EFG0") == ""  # 0 is not in the alphabet
    assert normalise_claim_code("ABCD-EFG") == ""
