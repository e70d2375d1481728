"""The previous boot's last log lines, from the persistent systemd journal.

The cause of a crash is usually in the boot that ended with it (an out-of-memory kill, an
under-voltage, a kernel oops, the daemon's last traceback), and diagnostics are asked for in
the boot after. The image keeps the journal on the data partition (``/var/log/journal``, see
image-build/files/etc/systemd/journald.conf.d/jukebox.conf). Its machine id is new at every
boot (read-only root), so each boot writes into its own subdirectory: ``-D`` reads them all,
where plain ``journalctl`` would read only this boot's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from device.platform.logs import scrub

__all__ = ["PERSISTENT_JOURNAL", "previous_boot_lines"]

PERSISTENT_JOURNAL = Path("/var/log/journal")


def previous_boot_lines(
    lines: int = 200, directory: Path = PERSISTENT_JOURNAL, timeout_s: float = 20.0
) -> list[str]:
    """The last `lines` lines of the boot before this one, every unit and the kernel, scrubbed
    of secrets. When there are none (no journalctl, no persistent journal, a first boot), one
    line in parentheses says why; never raises."""
    command = ["journalctl", "--no-pager", "-o", "short-iso", "-D", str(directory)]
    command += ["-b", "-1", "-n", str(max(1, lines))]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=timeout_s
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"(previous boot: journalctl unavailable: {exc})"]
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return [f"(previous boot: journalctl: {scrub(why[0])})"]
    found = [scrub(line) for line in done.stdout.splitlines() if line.strip()]
    return found[-lines:] if found else ["(previous boot: no lines)"]
