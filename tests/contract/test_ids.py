"""contract.ids: the SHA-256 the kiosk daemon uses without OpenSSL gives hashlib's digests."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest

from contract.ids import _builtin_sha256, sha256, sha256_file

SAMPLES = [b"", b"abc", bytes(range(256)) * 4099]  # the last one spans several reads


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "abc", "1-MiB"])
def test_the_interpreters_own_sha256_matches_hashlib(data: bytes) -> None:
    expected = hashlib.sha256(data).hexdigest()
    builtin = _builtin_sha256()
    assert builtin.__module__ != "_hashlib"  # the constructor is not OpenSSL's
    assert builtin(data).hexdigest() == expected
    assert sha256(data).hexdigest() == expected
    assert sha256_file(io.BytesIO(data)) == expected


def test_sha256_file_reads_from_where_the_file_is() -> None:
    f = io.BytesIO(b"header" + b"body" * 100_000)
    f.seek(6)
    assert sha256_file(f) == hashlib.sha256(b"body" * 100_000).hexdigest()


def test_hashing_does_not_load_openssl_into_a_process_without_it() -> None:
    """A folder kiosk's daemon hashes its content without initialising OpenSSL (2.1 MiB)."""
    code = (
        "import io, sys\n"
        "from contract.ids import sha256, sha256_file\n"
        "print(sha256(b'abc').hexdigest(), sha256_file(io.BytesIO(b'abc')))\n"
        "print('_hashlib' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    digests, openssl = result.stdout.splitlines()
    expected = hashlib.sha256(b"abc").hexdigest()
    assert digests == f"{expected} {expected}"
    assert openssl == "False"
