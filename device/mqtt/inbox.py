"""A stand-in RemoteInbox for when no remote administration is wired in: logs and drops.

TEMPORARY until device.remote.RemoteAdmin (issue 4, helper B2) is wired into the daemon: desired
states and commands are received, logged and NOT applied, and no result is sent.
"""

from __future__ import annotations

import logging

__all__ = ["DroppingInbox"]

log = logging.getLogger(__name__)


class DroppingInbox:
    def __init__(self) -> None:
        self.dropped = 0

    def on_desired(self, payload: bytes) -> None:
        self.dropped += 1
        log.warning(
            "desired state received (%d bytes) but remote administration is not wired in: ignored",
            len(payload),
        )

    def on_command(self, payload: bytes) -> None:
        self.dropped += 1
        log.warning(
            "command received (%d bytes) but remote administration is not wired in: ignored",
            len(payload),
        )
