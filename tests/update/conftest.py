"""Release keys, a tiny root folder and bundles made from it, for the update tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.image_build import load

bundle_tool = load("bundle")
release_key = load("release_key")
COMPATIBLE = "jukebox-springfield-rpi-arm64"


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths: dict[str, Path] = release_key.make_release_keys(tmp_path_factory.mktemp("k"), "Sp")
    return paths


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths: dict[str, Path] = release_key.make_release_keys(tmp_path_factory.mktemp("o"), "Sh")
    return paths


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    (root / "etc").mkdir()
    (root / "etc/hostname").write_text("jukebox\n")
    (root / "opt/jukebox").mkdir(parents=True)
    (root / "opt/jukebox/VERSION").write_text("0.2.0\n")
    return root


def make(
    out: Path, root: Path, keys: dict[str, Path], *, version: str = "0.2.0",
    tenant: str = "springfield",
) -> Path:  # fmt: skip
    bundle: Path = bundle_tool.make_bundle(
        out,
        root_dir=root,
        compatible=bundle_tool.compatible_for(tenant),
        version=version,
        cert=keys["signing.pem"],
        key=keys["signing.key"],
    )
    return bundle
