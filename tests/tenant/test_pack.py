"""Signed content packs end to end: the tenant signs (`jukebox admin pack`), a kiosk verifies.

The real tenant over HTTP writes the pack; the kiosk's own code (device/stick/pack.py) checks
it with the signing key the token answer gave, and refuses anything altered, foreign or
unsigned before a byte enters its media cache.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from contract.media import MediaCache
from device.stick.pack import PackError, import_pack, verify_pack
from jukebox.cli import main
from tenant.packs import SIGNING_FILE
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock, claimed

Tracks = list[dict[str, object]]


@pytest.fixture
def pack_dir(service: RunningTenant, flac_tracks: Tracks, tmp_path: Path) -> Path:
    """`jukebox admin pack fest calm -o OUT`, in process against the running tenant."""
    ids = [str(t["id"]) for t in flac_tracks]
    service.create_playlist("lib-a", "fest", "Festival", ids[:2], featured=True)
    service.create_playlist("lib-a", "calm", "Calm", ids[1:3])
    out = tmp_path / "stick"
    credentials = service.credentials_path("lib-a")
    code = main(
        ["admin", "--credentials", str(credentials), "pack", "fest", "calm", "-o", str(out)]
    )
    assert code == 0
    return out / "jukebox" / "pack"


def _key(service: RunningTenant, clock: MovableClock, slug: str = "lib-a") -> str:
    token = claimed(service, clock, "centre", slug).token().json()
    key: str = token["tenant"]["signing_key"]
    return key


def _cached(cache: MediaCache) -> list[Path]:
    return sorted(p for p in cache.media.rglob("*") if p.is_file())


def test_a_pack_verifies_with_the_key_the_claim_gave_and_imports_into_the_cache(
    service: RunningTenant, clock: MovableClock, pack_dir: Path, tmp_path: Path
) -> None:
    key = _key(service, clock)
    assert sorted(p.name for p in pack_dir.iterdir()) == ["manifest.json", "manifest.sig", "media"]
    assert len(list((pack_dir / "media").iterdir())) == 3

    pack = verify_pack(pack_dir, key, "lib-a", service.url("lib-a"))
    cache = MediaCache(tmp_path / "cache")
    (tmp_path / "state").mkdir()
    library = import_pack(pack, cache, tmp_path / "state", service.url("lib-a"))

    assert [p.id for p in library.playlists] == ["fest", "calm"]
    assert library.featured == "fest"
    assert library.available_tracks == library.total_tracks == 4
    assert all(cache.contains(t.media) for p in library.playlists for t in p.tracks if t.media)
    assert (tmp_path / "state" / "library.json").exists()  # what a reboot plays


def test_the_signing_key_is_private_and_each_tenant_has_its_own(
    service: RunningTenant, clock: MovableClock
) -> None:
    key_a, key_b = _key(service, clock, "lib-a"), _key(service, clock, "lib-b")
    assert stat.S_IMODE((service.data_dir / SIGNING_FILE).stat().st_mode) == 0o600
    assert key_a != key_b
    assert key_a == _key(service, clock, "lib-a")  # stable across claims


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("media", "content hashes to"),
        ("truncate", "bytes, the manifest says"),
        ("manifest", "the signature does not match"),
        ("unsigned", "manifest.sig: missing"),
        ("garbled", "not an Ed25519 signature"),
        ("missing_media", "missing (the manifest names it)"),
    ],
)
def test_an_altered_or_unsigned_pack_is_refused_and_the_cache_stays_as_it_was(
    service: RunningTenant,
    clock: MovableClock,
    pack_dir: Path,
    tmp_path: Path,
    tamper: str,
    expected: str,
) -> None:
    key = _key(service, clock)
    media = sorted((pack_dir / "media").iterdir())
    manifest = pack_dir / "manifest.json"
    match tamper:
        case "media":
            data = bytearray(media[-1].read_bytes())
            data[len(data) // 2] ^= 0xFF
            media[-1].write_bytes(bytes(data))
        case "truncate":
            media[0].write_bytes(media[0].read_bytes()[:-10])
        case "manifest":
            manifest.write_bytes(manifest.read_bytes().replace(b'"Festival"', b'"Festivxl"'))
        case "unsigned":
            (pack_dir / "manifest.sig").unlink()
        case "garbled":
            (pack_dir / "manifest.sig").write_text("not a signature\n")
        case "missing_media":
            media[1].unlink()
    cache = MediaCache(tmp_path / "cache")

    with pytest.raises(PackError, match=re.escape(expected)):
        verify_pack(pack_dir, key, "lib-a", service.url("lib-a"))
    assert _cached(cache) == []


def test_another_tenants_key_or_tenant_refuses_the_pack(
    service: RunningTenant, clock: MovableClock, pack_dir: Path
) -> None:
    key_b = _key(service, clock, "lib-b")
    with pytest.raises(PackError, match="signature does not match"):
        verify_pack(pack_dir, key_b, "lib-a", service.url("lib-a"))
    key_a = _key(service, clock, "lib-a")
    with pytest.raises(PackError, match="made for 'lib-a', this kiosk belongs to 'lib-b'"):
        verify_pack(pack_dir, key_a, "lib-b", service.url("lib-b"))


def test_a_pack_of_an_unknown_playlist_is_refused_by_the_tenant(
    service: RunningTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = service.credentials_path("lib-a")
    code = main(["admin", "--credentials", str(credentials), "pack", "nope", "-o", str(tmp_path)])
    assert code == 1
    assert "no playlist 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "jukebox").exists()


def test_writing_the_pack_again_fetches_nothing_new_and_keeps_it_valid(
    service: RunningTenant, clock: MovableClock, pack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = pack_dir.parent.parent
    credentials = service.credentials_path("lib-a")
    capsys.readouterr()
    assert main(["admin", "--credentials", str(credentials), "pack", "fest", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "(0 downloaded)" in said
    assert len(list((pack_dir / "media").iterdir())) == 2  # calm's own file was removed
    document = json.loads((pack_dir / "manifest.json").read_bytes())["document"]
    assert [p["id"] for p in document["playlists"]] == ["fest"]
    verify_pack(pack_dir, _key(service, clock), "lib-a", service.url("lib-a"))
