"""Rebooting the box through systemd, as the unprivileged jukebox user.

`systemctl reboot` run by a user other than root asks logind over D-Bus; polkit allows it for
the jukebox user only (image-build/files/etc/polkit-1/rules.d/50-jukebox-reboot.rules). The
service's sandbox needs nothing more: a D-Bus call is a plain AF_UNIX connection, no new
privileges. systemd then stops the kiosk like at any shutdown, so open plays are closed.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

log = logging.getLogger(__name__)

REBOOT_COMMAND = ("systemctl", "--no-ask-password", "reboot")


class SystemdRebooter:
    """The `Rebooter` port's real adapter. `command` is replaceable for tests only."""

    def __init__(self, command: Sequence[str] = REBOOT_COMMAND, timeout_s: float = 30.0) -> None:
        self.command = tuple(command)
        self.timeout_s = timeout_s

    def reboot(self) -> None:
        """Ask for the reboot; OSError naming the reason when systemd refuses or is absent."""
        log.warning("rebooting the machine: %s", " ".join(self.command))
        try:
            done = subprocess.run(
                self.command, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OSError(f"cannot run {self.command[0]}: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()[:300] or f"exit code {done.returncode}"
            raise OSError(f"{' '.join(self.command)} failed: {detail}")
