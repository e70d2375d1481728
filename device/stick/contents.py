"""What a technician stick carries, checked as a whole before anything is changed.

`inspect_stick` reads the mounted stick's ``jukebox/`` folder and refuses it (StickRefused,
every problem named with its file) if anything is malformed: an unknown entry (a typo must
not be silently ignored), a site.toml the provisioning rules refuse, a kiosk.toml the kiosk's
configuration refuses (contract/kiosk_settings.py), a content pack whose
signature, manifest or media do not verify. Both the privileged helper and the daemon call
it, so a stick is applied entirely or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.kiosk_settings import parse_kiosk_text
from contract.pack import PACK_DIR
from contract.site import SiteConfig, SiteConfigError, parse_site_config, read_text
from device.identity.credentials import Credentials
from device.stick.layout import (
    DIAGNOSTICS_REQUEST,
    KIOSK_FILE,
    KNOWN_ENTRIES,
    SITE_FILE,
    STICK_FOLDER,
)
from device.stick.pack import PackError, VerifiedPack, verify_pack

__all__ = ["StickContents", "StickRefused", "inspect_stick", "is_technician_stick"]


class StickRefused(Exception):
    """The stick changes nothing; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class StickContents:
    folder: Path  # the stick's jukebox/ folder
    site: SiteConfig | None
    pack: VerifiedPack | None
    diagnostics: bool
    kiosk: bytes | None = None  # a checked kiosk.toml, as it is on the stick
    kiosk_document: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return (
            self.site is None and self.pack is None and self.kiosk is None and not self.diagnostics
        )


def is_technician_stick(mount: Path) -> bool:
    return (mount / STICK_FOLDER).is_dir() and not (mount / STICK_FOLDER).is_symlink()


def inspect_stick(mount: Path, credentials: Credentials | None) -> StickContents:
    """Validate the stick mounted at `mount`; `credentials` give the tenant's signing key."""
    folder = mount / STICK_FOLDER
    problems: list[str] = []
    try:
        entries = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise StickRefused([f"{folder}: cannot be read ({exc.strerror or exc})"]) from None
    for name in entries:
        if name not in KNOWN_ENTRIES and not name.startswith("."):
            known = ", ".join(sorted(KNOWN_ENTRIES))
            problems.append(f"{folder / name}: unknown entry (a stick may hold {known})")
    site = None
    site_path = folder / SITE_FILE
    if SITE_FILE in entries:
        try:
            site = parse_site_config(read_text(site_path), str(site_path), allow_moved_psk=True)
        except SiteConfigError as exc:
            problems.append(str(exc))
    kiosk = kiosk_document = None
    kiosk_path = folder / KIOSK_FILE
    if KIOSK_FILE in entries:
        try:
            text = read_text(kiosk_path)
            kiosk_document = parse_kiosk_text(text, str(kiosk_path), SiteConfigError)[0]
            kiosk = text.encode("utf-8")
        except SiteConfigError as exc:
            problems.extend(str(problem) for problem in exc.problems)
    pack = None
    if "pack" in entries:
        if credentials is None:
            problems.append(
                f"{folder / PACK_DIR}: this kiosk is not claimed yet, so it knows no tenant "
                "key to check the pack's signature"
            )
        elif not credentials.signing_key:
            problems.append(
                f"{folder / PACK_DIR}: this kiosk has no tenant signing key yet (its tenant "
                "has not sent one); let it reach the tenant once"
            )
        else:
            try:
                pack = verify_pack(
                    folder / PACK_DIR,
                    credentials.signing_key,
                    credentials.tenant_id,
                    credentials.tenant_url,
                )
            except PackError as exc:
                problems.append(f"pack refused: {exc}")
    diagnostics = DIAGNOSTICS_REQUEST in entries
    if problems:
        raise StickRefused(problems)
    return StickContents(folder, site, pack, diagnostics, kiosk, kiosk_document)
