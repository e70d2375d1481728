"""`jukebox run` and `jukebox control`: the device's sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contract.toml_reader import ConfigError
from device.config import DEFAULT_CONFIG_PATH, load_config

EXIT_CONFIG = 2


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run the kiosk daemon")
    run.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_PATH,
        help=f"configuration file (default {DEFAULT_CONFIG_PATH})",
    )
    run.add_argument(
        "--simulate",
        action="store_true",
        help="mock GPIO pins and an emulated screen; control from the keyboard and a local socket",
    )
    run.add_argument(
        "--control-socket",
        type=Path,
        help="control socket path in simulation (default <state_dir>/control.sock)",
    )
    run.add_argument("--no-keyboard", action="store_true", help="ignore the terminal's keys")
    run.add_argument(
        "--check", action="store_true", help="only validate the configuration, then exit"
    )
    run.set_defaults(handler=cmd_run)

    control = commands.add_parser("control", help="press buttons of a simulated kiosk")
    control.add_argument("--socket", type=Path, required=True, help="the kiosk's control socket")
    control.add_argument(
        "request", nargs="+", help="tap NAME | hold NAME SECONDS | rotate STEPS | status | quit"
    )
    control.set_defaults(handler=cmd_control)


def cmd_run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"jukebox: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(f"{args.config}: configuration is valid")
        return 0
    from device.daemon import RunOptions, StartupError, run

    options = RunOptions(
        simulate=args.simulate,
        control_socket=args.control_socket,
        keyboard=not args.no_keyboard,
    )
    try:
        return run(config, options)
    except StartupError as exc:
        print(f"jukebox: cannot start: {exc}", file=sys.stderr)
        return 1


def cmd_control(args: argparse.Namespace) -> int:
    from device.sim.control import ControlClient

    words = args.request
    request: dict[str, object] = {"cmd": words[0]}
    try:
        if words[0] in ("tap", "press", "release"):
            request["button"] = words[1]
        elif words[0] == "hold":
            request["button"] = words[1]
            if len(words) > 2:
                request["seconds"] = float(words[2])
        elif words[0] == "rotate":
            request["steps"] = int(words[1])
        elif words[0] == "screenshot":
            request["path"] = str(Path(words[1]).resolve())
    except (IndexError, ValueError):
        print(f"jukebox control: malformed request {' '.join(words)!r}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        with ControlClient(args.socket) as client:
            answer = client.send(**request)
    except OSError as exc:
        print(f"jukebox control: cannot reach {args.socket}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0 if answer.get("ok") else 1
