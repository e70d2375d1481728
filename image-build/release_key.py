"""A library network's release keys: a CA (the kiosks' keyring) and a signing certificate.

    image-build/release-key DIR [--name "Springfield libraries"]

writes DIR/ca.pem (goes into every image, /etc/rauc/keyring.pem), DIR/ca.key (kept offline:
it only signs new signing certificates), DIR/signing.pem and DIR/signing.key (sign bundles).
EC P-256 keys by openssl. The signing certificate has no extended key usage: RAUC checks
S/MIME-style purposes and refuses a "code signing" only certificate by default.
An existing DIR/ca.key is reused, so a new signing certificate keeps the kiosks' keyring.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from progress import say

CA_DAYS = 20 * 365  # a kiosk's keyring lives as long as its image
SIGNING_DAYS = 5 * 365
EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid\n"
)


class ReleaseKeyError(Exception):
    """openssl is missing or failed; the message has its last words."""


def _openssl(*args: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise ReleaseKeyError("openssl not found: apt-get install openssl")
    result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseKeyError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}")


def make_release_keys(folder: Path, name: str = "Jukebox") -> dict[str, Path]:
    """CA (made unless DIR/ca.key exists) and a new signing certificate; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    paths = {n: folder / n for n in ("ca.pem", "ca.key", "signing.pem", "signing.key")}
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    if not paths["ca.key"].exists():
        _openssl(
            "req", "-x509", *curve, "-keyout", str(paths["ca.key"]), "-out", str(paths["ca.pem"]),
            "-days", str(CA_DAYS), "-subj", f"/O={name}/CN={name} release CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        csr, ext = Path(scratch) / "signing.csr", Path(scratch) / "ext.cnf"
        ext.write_text(EXTENSIONS)
        _openssl(
            "req", *curve, "-keyout", str(paths["signing.key"]), "-out", str(csr),
            "-subj", f"/O={name}/CN={name} release signing",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(paths["ca.pem"]),
            "-CAkey", str(paths["ca.key"]), "-CAcreateserial", "-out", str(paths["signing.pem"]),
            "-days", str(SIGNING_DAYS), "-extfile", str(ext),
        )  # fmt: skip
    for key in ("ca.key", "signing.key"):
        paths[key].chmod(0o600)
    return paths


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="image-build/release-key", description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--name", default="Jukebox", help="the library network's name")
    args = p.parse_args(argv)
    try:
        paths = make_release_keys(args.folder, args.name)
    except ReleaseKeyError as exc:
        say(f"image-build/release-key: {exc}")
        return 1
    for name, path in paths.items():
        say(f"{name}: {path}")
    say("Keep ca.key offline; ca.pem goes into the image (image-build/build --keyring).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
