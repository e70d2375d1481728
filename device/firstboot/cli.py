"""`jukebox firstboot`: the technician's site file applied on the kiosk (its own unit)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.layout import DEFAULT_BOOT_DIR, DEFAULT_STATE_DIR
from contract.site import SiteConfigError

EXIT_FAILED = 1
EXIT_CONFIG = 2  # a broken configuration, as `jukebox run` says it


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    firstboot = commands.add_parser(
        "firstboot",
        help="apply the boot partition's site configuration and move its secrets to the device",
    )
    firstboot.add_argument("--boot-dir", type=Path, default=DEFAULT_BOOT_DIR)
    firstboot.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    firstboot.set_defaults(handler=cmd_firstboot)


def cmd_firstboot(args: argparse.Namespace) -> int:
    from device.firstboot.apply import apply_boot_config

    try:
        result = apply_boot_config(args.boot_dir, args.state_dir)
    except SiteConfigError as exc:
        err(f"jukebox firstboot: {exc}")
        return EXIT_CONFIG
    except OSError as exc:
        err(f"jukebox firstboot: {exc}")
        return EXIT_FAILED
    if result.kiosk_file is not None:
        out(f"{result.kiosk_file}: valid, kept as the kiosk settings")
    if result.config is None:
        out(f"{result.boot_file}: absent, nothing to apply")
        for path in result.written:
            out(f"  wrote {path}")
        return 0
    if not result.changed:
        out(f"{result.boot_file}: already applied, nothing changed")
        return 0
    out(f"{result.boot_file}: applied")
    for path in result.written:
        out(f"  wrote {path}")
    for path in result.removed:
        out(f"  removed {path}")
    if result.moved:
        out(f"  moved {', '.join(result.moved)} off the boot partition")
    return 0
