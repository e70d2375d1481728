"""The one `jukebox` command; each part of the project adds its own sub-commands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from contract import __version__


def build_parser() -> argparse.ArgumentParser:
    from demo import cli as demo_cli
    from device import cli as device_cli
    from device.firstboot import cli as firstboot_cli
    from device.stick import cli as stick_cli
    from device.update import cli as update_cli
    from provisioning import cli as provisioning_cli
    from tenant import cli as tenant_cli

    parser = argparse.ArgumentParser(prog="jukebox", description=__doc__)
    parser.add_argument("--version", action="version", version=f"jukebox {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    device_cli.add_commands(commands)
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

    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
