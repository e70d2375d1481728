"""The tenant's signing key in the kiosk's stored credentials, old files included."""

from __future__ import annotations

import json
from pathlib import Path

from device.identity.credentials import CREDENTIALS_FILE, load_credentials
from tests.stick.conftest import credentials


def test_the_signing_key_is_kept_with_the_credentials(tmp_path: Path) -> None:
    credentials("a" * 43).save(tmp_path)
    loaded = load_credentials(tmp_path)
    assert loaded is not None and loaded.signing_key == "a" * 43


def test_a_credentials_file_written_before_signing_keys_still_loads(tmp_path: Path) -> None:
    path = credentials("a" * 43).save(tmp_path)
    document = json.loads(path.read_text())
    del document["signing_key"]
    (tmp_path / CREDENTIALS_FILE).write_text(json.dumps(document))

    loaded = load_credentials(tmp_path)

    assert loaded is not None and loaded.signing_key == ""
    assert loaded.tenant_id == "lib-a"
