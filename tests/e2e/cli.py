"""`jukebox admin …` run through the real CLI parser, in the test's process."""

from __future__ import annotations

import pytest

from jukebox.cli import build_parser
from tests.e2e.rig import SLUG, Rig


def admin(rig: Rig, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `jukebox admin --credentials … ARGV`."""
    capsys.readouterr()
    credentials = str(rig.tenant.credentials_path(SLUG))
    args = build_parser().parse_args(["admin", "--credentials", credentials, *argv])
    code: int = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(out: str) -> dict[str, str]:
    """The table lines of an admin command's output, by device id."""
    return {line.split()[0]: line for line in out.splitlines() if line.startswith("jk-")}
