"""The one `jukebox` command; each part of the project adds its own sub-commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from contract import __version__

# The commands that run on the kiosk, each with the one module that adds it: `jukebox run`
# (start to READY) and what systemd starts at every boot (`update health`, `firstboot`) or on
# a stick (`stick`) load no other part: on a slow card every CLI imported costs seconds.
KIOSK_COMMANDS = {
    "run": "device.cli",
    "control": "device.cli",
    "firstboot": "device.firstboot.cli",
    "stick": "device.stick.cli",
    "update": "device.update.cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every sub-command, or only its own when `command` is one the kiosk runs."""
    parser = argparse.ArgumentParser(prog="jukebox", description=__doc__)
    parser.add_argument("--version", action="version", version=f"jukebox {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    own = KIOSK_COMMANDS.get(command or "")
    if own is not None:
        importlib.import_module(own).add_commands(commands)
        return parser
    from demo import cli as demo_cli
    from device import cli as device_cli
    from device.firstboot import cli as firstboot_cli
    from device.stick import cli as stick_cli
    from device.update import cli as update_cli
    from provisioning import cli as provisioning_cli
    from tenant import cli as tenant_cli

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

    words = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in words if not word.startswith("-")), None)
    if command in KIOSK_COMMANDS:
        from device.platform.method_cache import install

        install()  # before the kiosk's modules create their dataclasses
    args = build_parser(command).parse_args(words)
    setup_logging(args.verbose)
    # Alembic names each of its plugins at INFO when the tenant's store is imported: seven
    # lines before anything of ours, at every start of the service, the ingester and the CLI.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
