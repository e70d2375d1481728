"""Technician sticks for the tests: real filesystem images, real loop devices, real mounts.

A stick is built as a folder, turned into an ext4 image with `mkfs.ext4 -d` and attached to a
loop device, so the helper mounts it exactly as it mounts a USB stick (this machine's kernel
has no vfat; FAT sticks take the same path with other mount options). Packs are signed with
a test key by the same format the tenant writes (the tenant's side: tests/tenant/test_pack.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contract.pack import encode_signature
from device.identity.credentials import Credentials
from tenant.assertions import encode_public_key

TENANT = "lib-a"
TENANT_URL = "http://tenant.example/t/lib-a"
SITE_TOML = """\
[tenant]
url = "http://tenant.example/t/lib-a"
enrollment_token = "enr-0123456789"

[device]
name = "Hall, left"
site = "carre-d-art"
"""


def _can_mount_loop() -> str | None:
    if os.geteuid() != 0:
        return "mounting a loop device needs root"
    for tool in ("losetup", "mount", "umount", "mkfs.ext4", "blkid"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if "ext4" not in Path("/proc/filesystems").read_text():
        return "this kernel cannot mount ext4"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control: this machine has no loop devices"
    return None


needs_loop = pytest.mark.skipif(_can_mount_loop() is not None, reason=str(_can_mount_loop()))


@dataclass(frozen=True)
class Signer:
    key: Ed25519PrivateKey

    @property
    def public(self) -> str:
        return encode_public_key(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def credentials(signing_key: str) -> Credentials:
    return Credentials(
        tenant_url=TENANT_URL,
        device_id="jk-abcdefghijklmnopqrst",
        tenant_id=TENANT,
        tenant_name="Library network lib-a",
        site="centre",
        device_name="Kiosk",
        mqtt=None,
        signing_key=signing_key,
    )


@pytest.fixture
def state_dir(tmp_path: Path, signer: Signer) -> Path:
    """A claimed kiosk's state directory: its credentials carry the tenant's signing key."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    credentials(signer.public).save(state)
    return state


def write_pack(folder: Path, media: list[Path], signer: Signer, tenant: str = TENANT) -> Path:
    """A signed pack of one playlist holding `media`, in folder/jukebox/pack."""
    pack = folder / "jukebox" / "pack"
    (pack / "media").mkdir(parents=True)
    tracks = []
    for i, path in enumerate(media):
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        (pack / "media" / sha).write_bytes(data)
        tracks.append(
            {
                "id": f"trk-{sha[:16]}",
                "title": f"Track {i}",
                "artist": "Artist",
                "sha256": sha,
                "size": len(data),
                "url": f"/t/{tenant}/v1/media/{sha}",
            }
        )
    document = {
        "revision": "rev-pack-1",
        "featured": "offline",
        "playlists": [
            {"id": "offline", "title": "Offline picks", "note": "", "revision": "r1",
             "tracks": tracks}
        ],
    }  # fmt: skip
    manifest = {
        "format": 1,
        "kind": "jukebox-content-pack",
        "tenant": tenant,
        "created_at": "2026-11-29T10:00:00Z",
        "document": document,
    }
    data = json.dumps(manifest, indent=1).encode()
    (pack / "manifest.json").write_bytes(data)
    (pack / "manifest.sig").write_text(encode_signature(signer.key.sign(data)) + "\n")
    return pack


def ext4_image(tree: Path, image: Path) -> Path:
    """An ext4 filesystem holding `tree`, as `mkfs.ext4 -d` makes it (no mount needed)."""
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", str(tree), str(image)], check=True, capture_output=True
    )
    return image


@pytest.fixture
def loop() -> Iterator[list[str]]:
    """Attach images with `attach(image)`; every loop device is detached at the end."""
    attached: list[str] = []
    yield attached
    for device in attached:
        subprocess.run(["umount", f"/dev/{device}"], capture_output=True, check=False)
        subprocess.run(["losetup", "-d", f"/dev/{device}"], capture_output=True, check=False)


def attach_loop(image: Path, attached: list[str]) -> str:
    node = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    attached.append(Path(node).name)
    return Path(node).name


def mounted(point: Path) -> str | None:
    """The mount options of `point`, or None when nothing is mounted there."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[1] == str(point):
            return fields[3]
    return None
