"""Provisioning a batch of cards from a devices.csv: images, then site files alone.

A small base image (`provisioning.testimage`, optionally with --data-mb of incompressible
data in its root filesystem, to see what copying a real image costs) and a CSV of N kiosks
with Wi-Fi and one enrollment token each; `jukebox provision image --batch` runs in this
process, once making images, once with --config-only. The aim in issue 5 is 100 cards in
under 2 minutes.

    .venv/bin/python bench/provision_batch.py [--cards 100] [--data-mb 0]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

from jukebox.cli import main as jukebox
from provisioning.partitions import find_boot_partition
from provisioning.testimage import make_small_image

SITE = '[tenant]\nurl = "https://tenant.example/t/mediatheques-sud"\n'


def make_base(folder: Path, data_mb: int) -> Path:
    root = folder / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("jukebox\n")
    if data_mb:
        with (root / "payload.bin").open("wb") as f:
            for _ in range(data_mb):
                f.write(os.urandom(1 << 20))
    return make_small_image(
        folder / "base.img", data_mb=max(8, data_mb + data_mb // 4 + 8), root=root
    )


def run(*args: str | Path) -> float:
    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = jukebox([str(a) for a in args])
    elapsed = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"jukebox {' '.join(map(str, args))} failed:\n{printed.getvalue()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100)
    parser.add_argument("--data-mb", type=int, default=0, help="random data in the base image")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-provision-") as scratch:
        folder = Path(scratch)
        base = make_base(folder, options.data_mb)
        (folder / "site.toml").write_text(SITE)
        rows = [
            f"Kiosque {i},site-{i % 7},Staff,correct horse battery staple,FR,enr-{i:04d}"
            for i in range(1, options.cards + 1)
        ]
        devices = folder / "devices.csv"
        devices.write_text("name,site,wifi_ssid,wifi_psk,wifi_country,enrollment_token\n")
        with devices.open("a") as f:
            f.write("\n".join(rows) + "\n")
        used = base.stat().st_blocks * 512
        print(
            f"base image: {base.stat().st_size >> 20} MiB, {used / (1 << 20):.1f} MiB of data, "
            f"boot {find_boot_partition(base).describe()}"
        )
        common = ("--site-config", folder / "site.toml", "--batch", devices)
        images = run("provision", "image", base, *common, "--out-dir", folder / "images")
        configs = run("provision", "image", "--config-only", *common, "--out-dir", folder / "cards")
        n = options.cards
        print(f"{n} images:     {images:6.2f} s total, {1000 * images / n:6.1f} ms per card")
        print(f"{n} site files: {configs:6.2f} s total, {1000 * configs / n:6.1f} ms per card")
        if options.data_mb:
            rate = n * used / images / (1 << 20)
            print(f"image data copied: {rate:.0f} MiB/s")


if __name__ == "__main__":
    main()
