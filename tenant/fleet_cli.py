"""`jukebox admin push | status | plays | command`: remote administration of the kiosks.

Registered by tenant/admin_cli.py; each command talks to the tenant service over HTTP (the
service publishes over MQTT; the ingester stores what the kiosks answer).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant.console import err, out
from tenant.firmware_cli import add_firmware_commands
from tenant.tables import format_table

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient

Json = dict[str, Any]
POLL_S = 0.5
FINAL = ("applied", "rejected")  # a rollout state that will not change by waiting


def add_fleet_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    push = sub.add_parser("push", help="push playlists and settings to kiosks and wait for them")
    target = push.add_argument_group("kiosks (at least one)")
    target.add_argument("--device", dest="devices", action="append", default=[], metavar="ID")
    target.add_argument("--site", dest="sites", action="append", default=[], metavar="SITE")
    target.add_argument("--all", action="store_true", help="every active kiosk")
    push.add_argument(
        "--playlist", dest="playlists", action="append", default=[], metavar="ID",
        help="assign this playlist to the kiosks (repeatable; their other playlists stay)",
    )  # fmt: skip
    featured = push.add_mutually_exclusive_group()
    featured.add_argument("--featured", metavar="ID", help="the playlist kiosks return to")
    featured.add_argument("--no-featured", action="store_true", help="use the playlists' own")
    push.add_argument("--volume-min", type=int, metavar="0-100")
    push.add_argument("--volume-max", type=int, metavar="0-100")
    hours = push.add_mutually_exclusive_group()
    hours.add_argument(
        "--hours", action="append", metavar="'DAYS HH:MM-HH:MM'",
        help="opening hours, when kiosks may autoplay (repeatable), e.g. 'mon-sat 10:00-19:00'",
    )  # fmt: skip
    hours.add_argument("--always-open", action="store_true", help="clear the opening hours")
    schedule = push.add_mutually_exclusive_group()
    schedule.add_argument(
        "--schedule", action="append", metavar="'PLAYLIST DAYS HH:MM-HH:MM'",
        help="feature a playlist in a weekly window (repeatable)",
    )  # fmt: skip
    schedule.add_argument("--no-schedule", action="store_true", help="clear the schedule")
    push.add_argument(
        "--language", choices=("en", "fr", "default"),
        help="the screens' language (default: back to the kiosk's own configuration)",
    )  # fmt: skip
    push.add_argument(
        "--autoplay", choices=("on", "off", "default"),
        help="start the default playlist unasked within opening hours (default: the kiosk's)",
    )  # fmt: skip
    push.add_argument(
        "--idle-timeout", metavar="SECONDS|default",
        help="seconds without a visitor before volume and playlist go back to the defaults",
    )  # fmt: skip
    push.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the kiosks (default 30; 0: do not wait)",
    )
    push.set_defaults(action=cmd_push)

    sub.add_parser("status", help="the kiosks: online, playing, content, last heard").set_defaults(
        action=cmd_status
    )

    plays = sub.add_parser("plays", help="plays per track, artist, site, device or day")
    plays.add_argument(
        "--by", choices=("track", "artist", "site", "device", "day"), default="track"
    )
    plays.add_argument("--from", dest="start", metavar="DATE", help="e.g. 2026-07-01 (UTC)")
    plays.add_argument("--to", dest="end", metavar="DATE", help="included when a date")
    plays.add_argument("--csv", type=Path, metavar="FILE", help="also write the table as CSV")
    plays.set_defaults(action=cmd_plays)

    rules = sub.add_parser("rules", help="show or set from how long a play counts as a stream")
    threshold = rules.add_mutually_exclusive_group()
    threshold.add_argument("--counted-stream-s", type=float, metavar="SECONDS")
    threshold.add_argument(
        "--default", action="store_true", help="back to the service's default (30 s)"
    )
    rules.set_defaults(action=cmd_rules)

    command = sub.add_parser("command", help="send a command to a kiosk and show its result")
    command.add_argument("device")
    command.add_argument("command", choices=("resync", "identify", "reboot", "diagnostics"))
    command.add_argument("--seconds", type=int, help="identify: how long the name flashes")
    command.add_argument("--lines", type=int, help="diagnostics: how many log lines")
    command.add_argument("--wait", type=float, default=30.0, metavar="SECONDS")
    command.set_defaults(action=cmd_command)

    add_firmware_commands(sub)  # firmware keyring|upload|releases|rollout|status


# ---------------------------------------------------------------------------------- push


def push_body(args: argparse.Namespace) -> Json:
    """The `POST /admin/push` body of the command line (ValueError names a bad option)."""
    if not (args.devices or args.sites or args.all):
        raise ValueError("name the kiosks: --device, --site or --all")
    body: Json = {
        "devices": args.devices,
        "sites": args.sites,
        "all": args.all,
        "playlists": args.playlists,
    }
    if args.featured or args.no_featured:
        body["featured"] = args.featured
    if (args.volume_min is None) != (args.volume_max is None):
        raise ValueError("give both --volume-min and --volume-max")
    if args.volume_min is not None:
        body["volume"] = {"min": args.volume_min, "max": args.volume_max}
    if args.hours or args.always_open:
        body["opening_hours"] = [_window(spec, "--hours") for spec in args.hours or ()]
    if args.schedule or args.no_schedule:
        body["schedule"] = [_scheduled(spec) for spec in args.schedule or ()]
    if args.language is not None:
        body["language"] = None if args.language == "default" else args.language
    if args.autoplay is not None:
        body["autoplay"] = None if args.autoplay == "default" else args.autoplay == "on"
    if args.idle_timeout is not None:
        body["idle_timeout_s"] = _idle_timeout(args.idle_timeout)
    return body


def _idle_timeout(text: str) -> float | None:
    if text == "default":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 1 <= seconds <= 86400:
        raise ValueError(f"--idle-timeout: {text!r} is not a number of seconds from 1 to 86400")
    return seconds


def _window(spec: str, option: str) -> dict[str, str]:
    days, _, span = spec.strip().partition(" ")
    start, dash, end = span.strip().partition("-")
    if not (days and dash and start and end):
        raise ValueError(
            f"{option} {spec!r}: expected 'DAYS HH:MM-HH:MM', e.g. 'mon-sat 10:00-19:00'"
        )
    return {"days": days, "from": start.strip(), "to": end.strip()}


def _scheduled(spec: str) -> dict[str, str]:
    playlist, _, window = spec.strip().partition(" ")
    return {"playlist": playlist, **_window(window, f"--schedule {playlist}")}


def cmd_push(client: AdminClient, args: argparse.Namespace) -> int:
    try:
        body = push_body(args)
    except ValueError as exc:
        err(f"jukebox admin push: {exc}")
        return 2
    pushed = client.push(body)
    versions = {d["device_id"]: d["version"] for d in pushed}
    for device in pushed:
        playlists = ", ".join(device["desired"]["playlists"]) or "none"
        out(f"{device['device_id']}: desired state {device['version']} (playlists {playlists})")
    states = wait_for_rollout(client, versions, args.wait, progress=out)
    out()
    out(rollout_table(states))
    settled = sum(s["rollout"] == "applied" for s in states)
    out(f"\n{settled} of {len(states)} kiosk(s) applied")
    return 0 if settled == len(states) else 1


def wait_for_rollout(
    client: AdminClient,
    versions: dict[str, int],
    wait_s: float,
    progress: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> list[Json]:
    """Poll the kiosks' status until each applied or rejected, or `wait_s` is over."""
    deadline = time.monotonic() + wait_s
    shown: dict[str, str | None] = {}
    while True:
        states = client.status(list(versions))
        for state in states:
            label = _rollout_label(state)
            if shown.get(state["device_id"]) != label:
                shown[state["device_id"]] = label
                progress(f"  {state['device_id']}: {label}")
        if all(s["rollout"] in FINAL for s in states) or time.monotonic() >= deadline:
            return states
        sleep(POLL_S)


def _rollout_label(state: Json) -> str:
    rollout = state["rollout"] or "nothing pushed"
    reported = state.get("reported") or {}
    if rollout == "syncing" and reported.get("missing"):
        return f"syncing (missing {', '.join(reported['missing'])})"
    if rollout == "rejected":
        return f"rejected: {reported.get('problem') or 'no reason given'}"
    if rollout == "offline" and state.get("offline_reason"):
        return f"offline ({state['offline_reason']})"
    if rollout == "offline" and state.get("online") is None:
        return "offline (never seen on the broker)"
    return rollout


def rollout_table(states: Sequence[Json]) -> str:
    rows = [
        (s["device_id"], s["name"], s["site"], s["desired_version"],
         (s.get("reported") or {}).get("version"), _rollout_label(s))
        for s in states
    ]  # fmt: skip
    return format_table(("DEVICE", "NAME", "SITE", "DESIRED", "REPORTED", "STATE"), rows)


# ---------------------------------------------------------------------------------- status


def cmd_status(client: AdminClient, _args: argparse.Namespace) -> int:
    states = client.status()
    rows = []
    for s in states:
        beat = s.get("heartbeat") or {}
        reported = s.get("reported")
        rows.append(
            (
                s["device_id"],
                s["name"],
                s["site"],
                _online(s),
                _playing(beat.get("playing")),
                beat.get("volume"),
                _content(beat.get("content")),
                beat.get("firmware_version"),
                age(s.get("heartbeat_age_s")),
                f"v{reported['version']} {reported['status']} {age(s.get('reported_age_s'))}"
                if reported
                else None,
                beat.get("outbox"),
            )
        )
    headers = ("DEVICE", "NAME", "SITE", "ONLINE", "PLAYING", "VOLUME", "CONTENT", "FIRMWARE",
               "HEARTBEAT", "REPORTED", "OUTBOX")  # fmt: skip
    out(format_table(headers, rows))
    online = sum(s["online"] is True for s in states)
    out(f"\n{online} of {len(states)} kiosk(s) online")
    return 0


def _online(state: Json) -> str:
    if state["online"] is None:
        return "never seen"
    return "yes" if state["online"] else f"no ({state.get('offline_reason') or 'offline'})"


def _playing(playing: Json | None) -> str | None:
    if not playing:
        return None
    if playing.get("title"):
        return f"{playing.get('artist') or '?'} — {playing['title']}"
    return f"{playing['playlist_id']}/{playing['track_id']}"


def _content(content: Json | None) -> str | None:
    if not content:
        return None
    parts = []
    if "playlists" in content:
        parts.append(f"{content['playlists']} playlists")
    if "tracks" in content:
        parts.append(f"{content['tracks']} tracks")
    if content.get("sync"):
        parts.append(str(content["sync"]))
    return ", ".join(parts) or None


def age(seconds: float | None) -> str | None:
    """`12s ago`, `5m ago`, `3h ago`, `2d ago`."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


# ---------------------------------------------------------------------------------- plays


def cmd_plays(client: AdminClient, args: argparse.Namespace) -> int:
    report = client.plays(args.by, args.start, args.end)
    groups = report["groups"]
    rows = [
        (g["label"] if g["label"] != g["key"] else g["key"], g["plays"], g["counted"],
         hours(g["listened_ms"]))
        for g in groups
    ]  # fmt: skip
    rows.append(
        ("TOTAL", sum(g["plays"] for g in groups), sum(g["counted"] for g in groups),
         hours(sum(g["listened_ms"] for g in groups)))
    )  # fmt: skip
    out(format_table((args.by.upper(), "PLAYS", "COUNTED", "LISTENED"), rows))
    window = f"from {report['from'] or 'the start'} to {report['to'] or 'now'}"
    out(f"\ncounted: listened to for {report['counted_stream_s']:g} s or more; {window}")
    estimated = sum(g.get("time_estimated", 0) for g in groups)
    if estimated:
        out(f"{estimated} play(s) dated by estimate: their kiosk's clock was not synced")
    if args.csv:
        write_csv(args.csv, args.by, groups)
        out(f"wrote {args.csv}")
    return 0


def write_csv(path: Path, by: str, groups: Sequence[Json]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([by, "label", "plays", "counted_streams", "listened_s", "time_estimated"])
        for g in groups:
            listened_s = round(g["listened_ms"] / 1000)
            writer.writerow([g["key"], g["label"], g["plays"], g["counted"], listened_s,
                             g.get("time_estimated", 0)])  # fmt: skip


def hours(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def cmd_rules(client: AdminClient, args: argparse.Namespace) -> int:
    if args.default or args.counted_stream_s is not None:
        rules = client.set_rules(None if args.default else args.counted_stream_s)
    else:
        rules = client.rules()
    whose = "this tenant's" if rules["own"] else "the service's default"
    out(f"a play counts as a stream from {rules['counted_stream_s']:g} s listened ({whose})")
    return 0


# ---------------------------------------------------------------------------------- command


def cmd_command(client: AdminClient, args: argparse.Namespace) -> int:
    extra = {k: v for k, v in (("seconds", args.seconds), ("lines", args.lines)) if v is not None}
    sent = client.send_command(args.device, args.command, **extra)
    out(f"{args.command} sent to {args.device} (request {sent['request_id']})")
    deadline = time.monotonic() + args.wait
    answer = sent
    while not answer["done"] and time.monotonic() < deadline:
        time.sleep(POLL_S)
        answer = client.command(args.device, sent["request_id"])
    if not answer["done"]:
        err(f"no result after {args.wait:g} s (is the kiosk online? `jukebox admin status`)")
        return 1
    if not answer["ok"]:
        err(f"{args.command} failed on {args.device}: {answer['error'] or 'no reason given'}")
        return 1
    out(f"{args.command}: ok")
    result = answer.get("result") or {}
    for line in result.get("log", []) if isinstance(result.get("log"), list) else []:
        out(f"  {line}")
    rest = {k: v for k, v in result.items() if k != "log"}
    if rest:
        out(json.dumps(rest, indent=2, ensure_ascii=False))
    return 0
