"""The device key: made once, kept 0600, never silently replaced, and signing valid assertions."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.ids import device_id_for
from device.identity.keys import KEY_FILE, DeviceKey, DeviceKeyError, write_private_file


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_boot_creates_a_key_readable_by_the_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = DeviceKey.load_or_create(state)
    path = state / KEY_FILE
    assert mode_of(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key.device_id == device_id_for(key.public_bytes)
    assert key.device_id.startswith("jk-") and len(key.device_id) == 23
    assert [p.name for p in state.iterdir()] == [KEY_FILE]  # no temporary left behind


def test_a_restart_loads_the_same_key_and_keeps_the_device_id(tmp_path: Path) -> None:
    first = DeviceKey.load_or_create(tmp_path)
    pem = (tmp_path / KEY_FILE).read_bytes()
    second = DeviceKey.load_or_create(tmp_path)
    assert second.device_id == first.device_id
    assert second.public_bytes == first.public_bytes
    assert (tmp_path / KEY_FILE).read_bytes() == pem


def test_the_key_is_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        DeviceKey.load_or_create(tmp_path)
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / KEY_FILE) == 0o600


def test_a_key_readable_by_others_is_tightened_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = DeviceKey.load_or_create(tmp_path)
    path = tmp_path / KEY_FILE
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        again = DeviceKey.load_or_create(tmp_path)
    assert again.device_id == original.device_id
    assert mode_of(path) == 0o600
    assert str(path) in caplog.text and "tightened" in caplog.text


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key at all\n", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
    ids=["empty", "garbage", "truncated-pem"],
)
def test_a_corrupt_key_is_refused_naming_the_file_and_never_replaced(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / KEY_FILE
    path.write_bytes(content)
    with pytest.raises(DeviceKeyError) as caught:
        DeviceKey.load_or_create(tmp_path)
    message = str(caught.value)
    assert str(path) in message and "corrupt" in message and "never replaced" in message
    assert path.read_bytes() == content


def test_a_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    with pytest.raises(DeviceKeyError, match="not Ed25519"):
        DeviceKey.load_or_create(tmp_path)


def test_an_unreadable_key_path_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).mkdir()
    with pytest.raises(DeviceKeyError, match=str(tmp_path / KEY_FILE)):
        DeviceKey.load_or_create(tmp_path)


def test_a_dangling_symlink_is_an_error_rather_than_a_new_identity(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).symlink_to(tmp_path / "elsewhere.pem")
    with pytest.raises(DeviceKeyError, match="cannot read"):
        DeviceKey.load_or_create(tmp_path)
    assert not (tmp_path / "elsewhere.pem").exists()


def test_an_assertion_is_an_eddsa_jwt_naming_the_device_for_the_audience(tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path)
    audience = "https://tenant.example/t/mediatheques/v1/token"
    token = key.assertion(audience, now=1_800_000_000)
    public = Ed25519PublicKey.from_public_bytes(key.public_bytes)
    claims = jwt.decode(
        token,
        public,
        algorithms=["EdDSA"],
        audience=audience,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert claims["iss"] == claims["sub"] == key.device_id
    assert claims["iat"] == 1_800_000_000
    assert claims["exp"] == 1_800_000_120
    assert key.assertion(audience)  # stamped with the local clock by default


def test_every_assertion_has_its_own_jti(tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path)
    jtis = {
        jwt.decode(key.assertion("x"), options={"verify_signature": False})["jti"] for _ in "abcdef"
    }
    assert len(jtis) == 6


@pytest.mark.parametrize("lifetime", [0, 301])
def test_an_assertion_lifetime_outside_the_contract_is_refused(
    tmp_path: Path, lifetime: int
) -> None:
    key = DeviceKey.load_or_create(tmp_path)
    with pytest.raises(ValueError, match="lifetime"):
        key.assertion("x", lifetime)


def test_a_private_file_is_replaced_atomically_or_kept_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert write_private_file(path, b"one")
    assert write_private_file(path, b"two")
    assert path.read_bytes() == b"two" and mode_of(path) == 0o600
    assert not write_private_file(path, b"three", replace=False)
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]
