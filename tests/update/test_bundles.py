"""Signed bundles, made and read by the real `rauc` (Debian's rauc 1.8) with throwaway keys:
the release-key helper, image-build/bundle on a tiny root folder, and the kiosk's refusals
(unsigned, another network's key, altered bytes, another network's compatible, older)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from device.update.rauc import RaucUpdater
from device.update.versions import BundleInfo, UpdateRefused, check_bundle, parse_version
from tests.image_build import IMAGE_BUILD
from tests.update.conftest import COMPATIBLE, bundle_tool, make

pytestmark = pytest.mark.skipif(
    shutil.which("rauc") is None or shutil.which("mksquashfs") is None,
    reason="apt-get install rauc squashfs-tools (scripts/lib/setup.sh)",
)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, root: Path, keys: dict[str, Path]) -> Path:
    return make(tmp_path_factory.mktemp("b") / "good.raucb", root, keys)


def test_a_bundle_from_a_root_folder_is_signed_and_read_back_by_rauc_info(
    good: Path, keys: dict[str, Path]
) -> None:
    result = subprocess.run(
        ["rauc", "info", "--keyring", str(keys["ca.pem"]), str(good)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Compatible: \t'{COMPATIBLE}'" in result.stdout or COMPATIBLE in result.stdout
    info = RaucUpdater(keys["ca.pem"]).inspect(good)
    assert info == BundleInfo(COMPATIBLE, "0.2.0")
    check_bundle(info, compatible=COMPATIBLE, running="0.1.0", expected_version="0.2.0")


def test_the_command_line_tools_make_keys_and_a_bundle(tmp_path: Path, root: Path) -> None:
    keys = tmp_path / "keys"
    subprocess.run([IMAGE_BUILD / "release-key", keys, "--name", "Test"], check=True)
    out = tmp_path / "cli.raucb"
    result = subprocess.run(
        [IMAGE_BUILD / "bundle", "--root", root, "--tenant", "springfield", "--version", "1.0",
         "--cert", keys / "signing.pem", "--key", keys / "signing.key", "-o", out],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert RaucUpdater(keys / "ca.pem").inspect(out).version == "1.0"
    bad = subprocess.run(
        [IMAGE_BUILD / "bundle", "--root", root, "--tenant", "Spring Field", "--version", "1.0",
         "--cert", keys / "signing.pem", "--key", keys / "signing.key", "-o", out],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "tenant 'Spring Field'" in bad.stdout


def test_a_bundle_signed_by_another_network_is_refused(
    tmp_path: Path, root: Path, keys: dict[str, Path], other_keys: dict[str, Path]
) -> None:
    foreign = make(tmp_path / "foreign.raucb", root, other_keys)
    with pytest.raises(UpdateRefused, match="unable to get local issuer certificate"):
        RaucUpdater(keys["ca.pem"]).inspect(foreign)


def test_an_unsigned_bundle_is_refused(tmp_path: Path, root: Path, keys: dict[str, Path]) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "manifest.raucm").write_text(bundle_tool.manifest(COMPATIBLE, "9.0"))
    shutil.copy(root / "etc/hostname", content / "rootfs.ext4")
    unsigned = tmp_path / "unsigned.raucb"
    subprocess.run(
        ["mksquashfs", content, unsigned, "-quiet", "-noappend"], check=True, capture_output=True
    )
    with pytest.raises(UpdateRefused, match="Signature size is 0"):
        RaucUpdater(keys["ca.pem"]).inspect(unsigned)


def test_a_bundle_with_one_byte_changed_is_refused(
    tmp_path: Path, good: Path, keys: dict[str, Path]
) -> None:
    corrupted = tmp_path / "corrupted.raucb"
    data = bytearray(good.read_bytes())
    data[200] ^= 0x01  # in the squashfs: the manifest or the root image
    corrupted.write_bytes(bytes(data))
    with pytest.raises(UpdateRefused, match="verification failure"):
        RaucUpdater(keys["ca.pem"]).inspect(corrupted)
    truncated = tmp_path / "truncated.raucb"
    truncated.write_bytes(good.read_bytes()[: len(data) // 2])
    with pytest.raises(UpdateRefused, match="rauc info"):
        RaucUpdater(keys["ca.pem"]).inspect(truncated)


def test_another_networks_compatible_is_refused_even_when_signed_with_our_key(
    tmp_path: Path, root: Path, keys: dict[str, Path]
) -> None:
    theirs = make(tmp_path / "theirs.raucb", root, keys, tenant="shelbyville")
    info = RaucUpdater(keys["ca.pem"]).inspect(theirs)  # the signature is fine
    with pytest.raises(UpdateRefused, match="jukebox-shelbyville-rpi-arm64"):
        check_bundle(info, compatible=COMPATIBLE, running="0.1.0")


def test_an_older_version_is_refused_unless_a_downgrade_is_allowed(
    tmp_path: Path, root: Path, keys: dict[str, Path]
) -> None:
    older = make(tmp_path / "older.raucb", root, keys, version="0.1.9")
    info = RaucUpdater(keys["ca.pem"]).inspect(older)
    with pytest.raises(UpdateRefused, match=r"0\.1\.9 is older than the running 0\.2\.0"):
        check_bundle(info, compatible=COMPATIBLE, running="0.2.0")
    with pytest.raises(UpdateRefused, match="the same as"):
        check_bundle(info, compatible=COMPATIBLE, running="0.1.9.0")
    check_bundle(info, compatible=COMPATIBLE, running="0.2.0", allow_downgrade=True)
    with pytest.raises(UpdateRefused, match=r"not the announced 0\.3\.0"):
        check_bundle(info, compatible=COMPATIBLE, running="0.1.0", expected_version="0.3.0")


def test_versions_compare_number_by_number() -> None:
    assert parse_version("0.2.10") > parse_version("0.2.9")
    assert parse_version("1.0") == parse_version("1.0.0")
    for bad in ("1.0rc1", "", "1..2", "v1"):
        with pytest.raises(ValueError, match="not a version"):
            parse_version(bad)
    with pytest.raises(bundle_tool.BundleError, match=r"version '1\.0-rc1'"):
        bundle_tool.manifest(COMPATIBLE, "1.0-rc1")
