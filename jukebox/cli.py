"""The one `jukebox` command; each part of the project adds its own sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from contract import __version__

# The kiosk's own commands: `jukebox run` starts with no other part's imports (start to READY).
DEVICE_COMMANDS = frozenset({"run", "control"})


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every sub-command, or only the device's when `command` is one of them."""
    from device import cli as device_cli

    parser = argparse.ArgumentParser(prog="jukebox", description=__doc__)
    parser.add_argument("--version", action="version", version=f"jukebox {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    device_cli.add_commands(commands)
    if command in DEVICE_COMMANDS:
        return parser
    from demo import cli as demo_cli
    from device.firstboot import cli as firstboot_cli
    from device.stick import cli as stick_cli
    from device.update import cli as update_cli
    from provisioning import cli as provisioning_cli
    from tenant import cli as tenant_cli

    tenant_cli.add_commands(commands)
    provisioning_cli.add_commands(commands)
    stick_cli.add_commands(commands)
    firstboot_cli.add_commands(commands)
    update_cli.add_commands(commands)
    demo_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from device.platform.logs import setup_logging

    words = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in words if not word.startswith("-")), None)
    args = build_parser(command).parse_args(words)
    setup_logging(args.verbose)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
