"""Numbered steps with the elapsed time, and commands that fail with a readable message.

    [ 3/10  +1:42] Installing the project into /opt/jukebox/venv

The image build runs in two processes (the build, and mmdebstrap's customize hook that calls
back into rootfs.py), so the step counter and the start time travel on the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class BuildError(Exception):
    """The build cannot go on; the message says what failed and what to do about it."""


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class Steps:
    """Prints `[n/total +m:ss] title` for each step and indented notes under it."""

    def __init__(
        self, total: int, *, done: int = 0, started: float | None = None, prefix: str = ""
    ) -> None:
        self.total = total
        self.done = done
        self.started = time.time() if started is None else started
        self.prefix = prefix  # marks the hook's lines in mmdebstrap's output

    def elapsed(self) -> float:
        return time.time() - self.started

    def step(self, title: str) -> None:
        self.done += 1
        width = len(str(self.total))
        say(f"{self.prefix}[{self.done:>{width}}/{self.total} +{clock(self.elapsed()):>5}] {title}")

    def note(self, text: str) -> None:
        say(f"{self.prefix}        {text}")


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run(
    args: Sequence[str | Path],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    data: str | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a command and return its output; on failure, a BuildError with its last lines."""
    command = [str(a) for a in args]
    try:
        result = subprocess.run(
            command,
            input=data,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BuildError(f"{what}: {command[0]} not found ({exc})") from None
    if result.returncode != 0:
        output = (result.stderr.strip() + "\n" + result.stdout.strip()).strip().splitlines()
        tail = "\n    ".join(output[-15:]) or "(no output)"
        raise BuildError(
            f"{what} failed (exit code {result.returncode}): {' '.join(command)}\n    {tail}"
        )
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment for commands in the target root (no host pip or proxy settings)."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LC_ALL": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    for name in ("http_proxy", "https_proxy", "no_proxy"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env
