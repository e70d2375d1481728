"""A signed RAUC update bundle (`.raucb`) from the image build's root folder.

The bundle holds one image, the root filesystem as ext4 (made by assemble.make_ext4, the same
code that makes the card's root partition), and a manifest naming the product it fits (the
`compatible` string, one per library network: ``jukebox-<tenant>-rpi-arm64``) and its
`version`. `rauc bundle` signs it with the network's release key (`image-build/release-key`
makes one); a kiosk refuses a bundle its keyring does not trust.

Format ``plain``: the CMS signature covers the whole squashfs, so `rauc info --keyring` refuses
a bundle with a single byte changed before anything is installed; the ``verity`` format would
need dm-verity, which the image leaves out with the other device-mapper modules (rootfs.py).

    image-build/bundle --root ROOTDIR --tenant NAME --version 0.2.0 \\
        --cert release/signing.pem --key release/signing.key -o jukebox-0.2.0.raucb
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the checkout: contract/

import assemble
from progress import say

from contract import firmware

SLOT_CLASS = "rootfs"  # system.conf's slot class the bundle's image goes to
IMAGE_NAME = "rootfs.ext4"
ROOT_LABEL = "JUKEBOX-ROOT"  # both slots carry it; the boot script names a slot by PARTUUID
VERSION_RE = re.compile(r"^\d{1,9}(?:\.\d{1,9}){0,3}$")


class BundleError(Exception):
    """The bundle cannot be made: bad input (named) or a tool that failed."""


def compatible_for(tenant: str) -> str:
    """The compatible string of a library network's kiosks, in system.conf and every bundle:
    contract.firmware's, the one the tenant checks uploads against."""
    try:
        return firmware.compatible_for(tenant)
    except ValueError as exc:
        raise BundleError(str(exc)) from None


def manifest(compatible: str, version: str, *, description: str = "") -> str:
    if not VERSION_RE.match(version):
        raise BundleError(f"version {version!r}: expected numbers and dots, such as 0.2.0")
    text = f"[update]\ncompatible={compatible}\nversion={version}\n"
    if description:
        text += f"description={description.replace(chr(10), ' ')}\n"
    return text + f"\n[bundle]\nformat=plain\n\n[image.{SLOT_CLASS}]\nfilename={IMAGE_NAME}\n"


def make_bundle(
    out: Path,
    *,
    root_dir: Path | None = None,
    rootfs_image: Path | None = None,
    compatible: str,
    version: str,
    cert: Path,
    key: Path,
    workdir: Path | None = None,
    description: str = "",
) -> Path:
    """Write the signed bundle `out` from a root folder (or a ready ext4 image); return `out`."""
    if (root_dir is None) == (rootfs_image is None):
        raise BundleError("give either a root folder or a root filesystem image")
    for name, path in (("--cert", cert), ("--key", key)):
        if not Path(path).is_file():
            raise BundleError(f"{name} {path}: no such file")
    rauc = shutil.which("rauc")
    if rauc is None or shutil.which("mksquashfs") is None:
        raise BundleError("rauc or mksquashfs not found: apt-get install rauc squashfs-tools")
    text = manifest(compatible, version, description=description)
    with tempfile.TemporaryDirectory(prefix="jukebox-bundle-", dir=workdir) as scratch:
        content = Path(scratch) / "content"
        content.mkdir()
        image = content / IMAGE_NAME
        if root_dir is not None:
            if not root_dir.is_dir():
                raise BundleError(f"{root_dir}: not a folder")
            size = assemble.ext4_mib_for(assemble.measure_tree(root_dir), spare=assemble.ROOT_SPARE)
            assemble.make_ext4(image, root_dir, size, ROOT_LABEL, reserved_percent=0)
        else:
            assert rootfs_image is not None
            shutil.copyfile(rootfs_image, image)
        (content / "manifest.raucm").write_text(text)
        out = Path(out)
        partial = out.with_name(out.name + ".partial")
        partial.unlink(missing_ok=True)
        result = subprocess.run(
            [rauc, "bundle", "--cert", str(cert), "--key", str(key), str(content), str(partial)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            why = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise BundleError("rauc bundle failed: " + " / ".join(why))
        partial.replace(out)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="image-build/bundle",
        description="A signed RAUC update bundle of a root folder (see docs/updates.md).",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--root", type=Path, help="the root folder (image-build/build --keep-root)")
    source.add_argument("--rootfs-image", type=Path, help="a ready ext4 image of the root")
    p.add_argument("--tenant", required=True, help="the library network: compatible string")
    p.add_argument("--version", required=True, help="the firmware version, e.g. 0.2.0")
    p.add_argument("--cert", type=Path, required=True, help="the release signing certificate")
    p.add_argument("--key", type=Path, required=True, help="its private key")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .raucb file")
    p.add_argument("--description", default="", help="a line shown by rauc info")
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        out = make_bundle(
            args.output,
            root_dir=args.root,
            rootfs_image=args.rootfs_image,
            compatible=compatible_for(args.tenant),
            version=args.version,
            cert=args.cert,
            key=args.key,
            description=args.description,
        )
    except (BundleError, assemble.AssemblyError) as exc:
        say(f"image-build/bundle: {exc}")
        return 1
    say(f"{out}: {out.stat().st_size} bytes, {compatible_for(args.tenant)} {args.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
