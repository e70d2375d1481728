"""Whether a verified bundle may go into the other slot: our own rule, not RAUC's.

RAUC checks the signature (its keyring) and, at install, the compatible string; it has no
notion of "older". So a bundle's compatible and version are read by `rauc info` and judged
here, before `rauc install`: another library network's bundle, or an older version than the
one running, is refused with the reason (unless the tenant explicitly allows a downgrade).
Versions are numbers and dots (``0.2.0``), compared number by number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION_RE = re.compile(r"^\d{1,9}(?:\.\d{1,9}){0,3}$")


class UpdateRefused(Exception):
    """This bundle must not be installed here; the message says why (shown to the tenant)."""


@dataclass(frozen=True)
class BundleInfo:
    """What `rauc info --keyring` read from a bundle whose signature it verified."""

    compatible: str
    version: str


def parse_version(text: str, *, what: str = "version") -> tuple[int, ...]:
    """``0.2.10`` → (0, 2, 10); ValueError naming `what` for anything else."""
    if not VERSION_RE.match(text):
        raise ValueError(f"{what}: {text!r} is not a version (numbers and dots, e.g. 0.2.0)")
    numbers = [int(n) for n in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()  # 0.2 == 0.2.0
    return tuple(numbers)


def check_bundle(
    bundle: BundleInfo,
    *,
    compatible: str,
    running: str,
    expected_version: str | None = None,
    allow_downgrade: bool = False,
) -> None:
    """Raise UpdateRefused unless `bundle` fits this kiosk and moves it forward.

    `expected_version` is the one the tenant's desired state announced: a bundle that says
    otherwise is not the one asked for. The same version as the one running is refused too
    (nothing to do), unless `allow_downgrade` (a re-install).
    """
    if bundle.compatible != compatible:
        raise UpdateRefused(
            f"bundle is for {bundle.compatible!r}, this kiosk is {compatible!r} "
            "(another library network's or product's firmware)"
        )
    try:
        new = parse_version(bundle.version, what="bundle version")
    except ValueError as exc:
        raise UpdateRefused(str(exc)) from None
    if expected_version is not None and bundle.version != expected_version:
        raise UpdateRefused(
            f"bundle version {bundle.version} is not the announced {expected_version}"
        )
    try:
        old = parse_version(running, what="running version")
    except ValueError:
        old = (0,)  # a development build: any release moves it forward
    if new <= old and not allow_downgrade:
        word = "the same as" if new == old else "older than"
        raise UpdateRefused(
            f"bundle version {bundle.version} is {word} the running {running} "
            "(allow_downgrade is not set)"
        )
