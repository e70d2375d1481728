"""`jukebox demo`: a simulated kiosk claimed by a local tenant, playing a curated playlist."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="a simulated kiosk playing a curated playlist")
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("demo-output"),
        help="where the tracks, the screen GIF and the journal go",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the tenant and the kiosk running after the demo (the web console) until Ctrl-C",
    )
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.scenario import run_demo

    return run_demo(args.output, args.serve)
