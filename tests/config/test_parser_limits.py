"""A parser's own limits (nesting deeper than it recurses) are a clear refusal wherever the
kiosk reads TOML or JSON, never a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from contract.media import MediaCache
from contract.site import SiteConfigError, parse_site_config
from device.content.folder import HASH_INDEX, FolderContentSource
from device.identity.credentials import CREDENTIALS_FILE, load_credentials
from device.sync.document import DocumentError, parse_document
from device.sync.store import LIBRARY_FILE, load_active

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_TOML = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def test_site_toml(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="nested too deeply"):
        parse_site_config(DEEP_TOML, "site.toml")


def test_the_playlists_document() -> None:
    with pytest.raises(DocumentError, match="malformed JSON: nested too deeply"):
        parse_document(DEEP_JSON, "https://tenant.example/t/a")


def test_the_saved_library_and_the_credentials_are_ignored_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / LIBRARY_FILE).write_bytes(DEEP_JSON)
    (tmp_path / CREDENTIALS_FILE).write_bytes(DEEP_JSON)
    (tmp_path / CREDENTIALS_FILE).chmod(0o600)
    with caplog.at_level(logging.WARNING):
        assert load_active(tmp_path) is None
        assert load_credentials(tmp_path) is None
    assert "unusable" in caplog.text


def test_the_folders_hash_index_only_costs_a_re_hash(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "cache")
    (cache.root / HASH_INDEX).write_bytes(DEEP_JSON)
    folder = tmp_path / "content"
    folder.mkdir()
    source = FolderContentSource(folder, cache)
    assert source._read_hash_index() == {}
