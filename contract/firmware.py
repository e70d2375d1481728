"""The firmware bundles' compatible string, shared by the image build and the tenant.

RAUC refuses a bundle whose compatible string differs from the kiosk's system.conf, so the
image build (image-build/bundle.py, writing system.conf and bundles) and the tenant (which
checks an uploaded bundle against its own network) must spell it the same way: one per
library network, ``jukebox-<tenant slug>-rpi-arm64`` (docs/updates.md).
"""

from __future__ import annotations

import re

PRODUCT = "rpi-arm64"  # the boards one image fits: the Pi 3, 4, 400 and Zero 2 W in 64-bit
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a tenant's slug (tenant/setup.py's rule)


def compatible_for(slug: str) -> str:
    """The compatible string of a library network's kiosks and bundles; ValueError naming the
    slug when it is not one a tenant can have."""
    if not SLUG_RE.fullmatch(slug):
        raise ValueError(
            f"tenant {slug!r}: expected 1 to 63 lower-case letters, digits or '-', "
            "starting with a letter or digit"
        )
    return f"jukebox-{slug}-{PRODUCT}"
