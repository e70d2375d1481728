"""What first boot left in the state directory, read the way the daemon needs it.

The daemon runs after `jukebox firstboot` and as another user; these readers never raise for
a file that is merely absent, so a kiosk that was never provisioned starts as it always did.
"""

from __future__ import annotations

from pathlib import Path

from contract.layout import ENROLLMENT_TOKEN_FILE, FIRSTBOOT_ERROR_FILE, STATE_SITE_FILE
from contract.site import SiteConfig, load_site_config


def applied_site(state_dir: Path) -> SiteConfig | None:
    """The applied site configuration (no secret in it), or None before any first boot.
    A damaged file raises SiteConfigError, naming it."""
    path = state_dir / STATE_SITE_FILE
    if not path.exists():
        return None
    return load_site_config(path, allow_moved_psk=True)


def enrollment_token(state_dir: Path) -> str | None:
    """The one-time enrollment token first boot moved here, if any."""
    try:
        token = (state_dir / ENROLLMENT_TOKEN_FILE).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return token or None


def firstboot_error(state_dir: Path) -> str | None:
    """Why the boot partition's file was refused, for the technician screen; None if it was not."""
    try:
        return (state_dir / FIRSTBOOT_ERROR_FILE).read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, UnicodeDecodeError):
        return None
