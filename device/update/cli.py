"""`jukebox update …`: the root side of firmware updates, each run by its own unit.

- ``install``: the pending request into the other slot (jukebox-update.service, started by
  jukebox-update.path when the daemon writes ``STATE_DIR/update/request.json``);
- ``health``: the health gate of this boot (jukebox-update-health.service);
- ``bootloader``: RAUC's custom bootloader backend over ``bootstate.txt`` (system.conf);
- ``status``: what the reported state says about updates, as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from contract.layout import DEFAULT_BOOT_DIR, DEFAULT_STATE_DIR

SYSTEM_CONF = Path("/etc/rauc/system.conf")
RUNTIME_DIR = Path("/run/jukebox")  # jukebox.service's RuntimeDirectory
EXIT_FAILED = 1


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    update = commands.add_parser("update", help="firmware updates (root side; docs/updates.md)")
    sub = update.add_subparsers(dest="update_command", required=True, metavar="ACTION")
    install = sub.add_parser("install", help="install the requested bundle into the other slot")
    install.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    install.add_argument("--system-conf", type=Path, default=SYSTEM_CONF)
    install.set_defaults(handler=cmd_install)
    health = sub.add_parser("health", help="commit the booted slot, or fall back")
    health.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    health.add_argument("--runtime-dir", type=Path, default=RUNTIME_DIR)
    health.add_argument("--limit", type=float, default=None, help="seconds (default 600)")
    health.set_defaults(handler=cmd_health)
    boot = sub.add_parser("bootloader", help="RAUC's custom bootloader backend")
    boot.add_argument("--boot-dir", type=Path, default=DEFAULT_BOOT_DIR)
    boot.add_argument("request", nargs="+")
    boot.set_defaults(handler=cmd_bootloader)
    show = sub.add_parser("status", help="slots and the latest update, as JSON")
    show.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    show.set_defaults(handler=cmd_status)


def cmd_install(args: argparse.Namespace) -> int:
    from device import FIRMWARE_VERSION
    from device.update.installer import read_compatible, run_install
    from device.update.rauc import RaucUpdater

    try:
        compatible = read_compatible(args.system_conf)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"jukebox update install: {exc}\n")
        return EXIT_FAILED
    record = run_install(
        args.state_dir, RaucUpdater(), compatible=compatible, running=FIRMWARE_VERSION
    )
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    return 0 if record.get("phase") in (None, "installed", "refused") else EXIT_FAILED


def cmd_health(args: argparse.Namespace) -> int:
    from device.update import status
    from device.update.health import LIMIT_S, Signals, run_gate
    from device.update.rauc import RaucUpdater

    def signals() -> Signals:
        active = subprocess.run(
            ["systemctl", "is-active", "--quiet", "jukebox.service"], check=False
        )
        # "failed" only once systemd gave up: a restart pending is "activating"
        failed = subprocess.run(
            ["systemctl", "is-failed", "--quiet", "jukebox.service"], check=False
        )
        seen = status.read(args.runtime_dir / status.HEALTH) or {}
        return Signals(
            ready=active.returncode == 0,
            tenant=seen.get("tenant") is True,
            mqtt=seen.get("mqtt") is True,
            failed=failed.returncode == 0,
        )

    def reboot() -> None:
        subprocess.run(["systemctl", "--no-block", "reboot"], check=False)

    record = run_gate(
        args.state_dir, RaucUpdater(), signals, reboot=reboot,
        monotonic=time.monotonic, sleep=time.sleep, limit_s=args.limit or LIMIT_S,
    )  # fmt: skip
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    return 0


def cmd_bootloader(args: argparse.Namespace) -> int:
    from device.update.bootstate import main

    return main(args.request, args.boot_dir)


def cmd_status(args: argparse.Namespace) -> int:
    from device.update.status import update_report

    sys.stdout.write(json.dumps(update_report(args.state_dir), indent=2, sort_keys=True) + "\n")
    return 0
