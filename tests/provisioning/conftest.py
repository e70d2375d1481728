"""A small real disk image made once per session, site files, and the CLI run in-process."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from contract.layout import BOOT_SITE_FILE
from jukebox.cli import build_parser
from provisioning.partitions import find_boot_partition
from provisioning.testimage import make_small_image

TENANT = "https://tenant.example/t/mediatheques-sud"
PSK = "correct horse battery staple"
TOKEN = "enr-4f9c2d7a1b"

SITE_TOML = f"""\
[tenant]
url = "{TENANT}"
enrollment_token = "{TOKEN}"

[device]
name = "Kiosque de l'entrée"
site = "alcazar"

[wifi]
ssid = "Médiathèque Public"
psk = "{PSK}"
country = "FR"
"""

PUBLIC_TOML = f"""\
[tenant]
url = "{TENANT}"

[device]
name = "Kiosque de l'entrée"
site = "alcazar"
"""


def jukebox(*argv: str | Path) -> int:
    """`jukebox ARGS` in this process (output in capsys), without touching logging set-up."""
    args = build_parser().parse_args([str(a) for a in argv])
    code: int = args.handler(args)
    return code


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mtype(image: Path, path: PurePosixPath = BOOT_SITE_FILE) -> str:
    """Read a file back from the image's boot partition with mtools itself."""
    offset = find_boot_partition(image).offset
    return subprocess.run(
        ["mtype", "-i", f"{image}@@{offset}", f"::{path}"],
        capture_output=True,
        text=True,
        check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout


@pytest.fixture(scope="session")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_image(tmp_path_factory.mktemp("base") / "base.img")


@pytest.fixture
def site_toml(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(SITE_TOML, encoding="utf-8")
    return path
