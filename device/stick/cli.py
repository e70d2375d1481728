"""`jukebox stick attach NAME`: the privileged helper's entry point (jukebox-stick@.service)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from contract.layout import DEFAULT_STATE_DIR
from device.display.texts import EN
from device.stick.layout import STICK_ROOT

log = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stick = commands.add_parser("stick", help="technician USB sticks (run by systemd as root)")
    sub = stick.add_subparsers(dest="stick_command", required=True, metavar="COMMAND")
    attach = sub.add_parser(
        "attach", help="mount a plugged-in stick read-only, apply it, unmount it (docs/usb.md)"
    )
    attach.add_argument("device", help="kernel name of the partition, e.g. sda1")
    attach.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    attach.add_argument("--stick-root", type=Path, default=STICK_ROOT)
    attach.set_defaults(handler=cmd_attach)


def cmd_attach(args: argparse.Namespace) -> int:
    from device.stick.helper import attach

    try:
        verdict = attach(args.device, state_dir=args.state_dir, stick_root=args.stick_root)
    except (ValueError, OSError) as exc:
        log.error("jukebox stick attach: %s", exc)
        return 1
    if verdict is None:
        return 0
    if verdict.state == "refused":
        for problem in verdict.problems:
            log.error("refused: %s", problem)
        return 0  # the stick was handled: refusing it is the right outcome, not a failure
    done = (*verdict.site, *verdict.settings, *verdict.notes, *filter(None, (verdict.written,)))
    log.info("stick %s done: %s", args.device, "; ".join(p.say(EN) for p in done))
    return 0
