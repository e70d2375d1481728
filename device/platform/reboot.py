"""Rebooting the box, asked by the unprivileged, sandboxed kiosk: a request file systemd acts on.

The daemon writes `reboot-requested` into its runtime directory (`/run/jukebox`, 0700, owned
by the jukebox user, `RUNTIME_DIRECTORY` in its environment). `jukebox-reboot.path`, a unit of
root's systemd, sees it and starts `jukebox-reboot.service`, which removes the request and runs
`systemctl reboot`. So the kiosk can ask for exactly this one privileged act, with no D-Bus, no
polkit and nothing more in its sandbox. systemd then stops the kiosk as at any shutdown, so
open plays are closed. /run is a tmpfs: a request never outlives the boot it was made in.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from contract.files import atomic_write

log = logging.getLogger(__name__)

REQUEST_NAME = "reboot-requested"
UNIT = "jukebox-reboot.path"


class RebootRequest:
    """The `Rebooter` port's real adapter."""

    def __init__(self, runtime_dir: Path | None) -> None:
        self.runtime_dir = runtime_dir

    @classmethod
    def from_environment(cls) -> RebootRequest:
        """Under systemd, the unit's RuntimeDirectory; elsewhere (a laptop, the simulator) none."""
        value = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        return cls(Path(value) if value else None)

    @property
    def request_file(self) -> Path | None:
        return None if self.runtime_dir is None else self.runtime_dir / REQUEST_NAME

    def reboot(self) -> None:
        """Ask for the reboot; OSError naming the reason when it cannot be asked."""
        if self.request_file is None:
            raise OSError(
                "no reboot outside systemd: RUNTIME_DIRECTORY is not set "
                f"(jukebox.service sets it, and {UNIT} acts on the request)"
            )
        log.warning("asking for a reboot: %s", self.request_file)
        try:
            atomic_write(self.request_file, b"reboot requested by the tenant\n", mode=0o600)
        except OSError as exc:
            raise OSError(f"cannot write {self.request_file}: {exc.strerror or exc}") from exc
