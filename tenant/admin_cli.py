"""`jukebox admin …`: import audio, edit playlists, claim and revoke kiosks, over HTTP."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant.console import err, out
from tenant.field_cli import add_field_commands
from tenant.fleet_cli import add_fleet_commands
from tenant.payouts_cli import add_payout_commands
from tenant.staff_cli import add_account_commands
from tenant.tables import duration, format_table

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient

ENV_CREDENTIALS = "JUKEBOX_ADMIN_CREDENTIALS"
ENV_TENANT_URL = "JUKEBOX_TENANT_URL"
AUDIO_SUFFIXES = {
    ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".aif", ".aiff",
    ".wma", ".wv", ".ape", ".mpc",
}  # fmt: skip

Handler = Callable[["AdminClient", argparse.Namespace], int]


def add_admin_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="administer a tenant over its HTTP API")
    admin.add_argument(
        "--credentials",
        type=Path,
        default=os.environ.get(ENV_CREDENTIALS) or None,
        help=f"a credentials file, e.g. from `jukebox tenant init` (or ${ENV_CREDENTIALS})",
    )
    admin.add_argument(
        "--tenant-url",
        default=os.environ.get(ENV_TENANT_URL) or None,
        metavar="URL",
        help=f"use your `jukebox admin login` token for this tenant (or ${ENV_TENANT_URL}; "
        "default: your only login)",
    )
    admin.set_defaults(handler=run_admin)
    sub = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")

    imp = sub.add_parser("import", help="upload a folder's audio files and register the tracks")
    imp.add_argument("folder", type=Path)
    imp.set_defaults(action=cmd_import)

    sub.add_parser("tracks", help="list the tenant's tracks").set_defaults(action=cmd_tracks)

    playlist = sub.add_parser("playlist", help="create, assign, list and show playlists")
    psub = playlist.add_subparsers(dest="playlist_command", required=True, metavar="COMMAND")
    create = psub.add_parser("create", help="create a playlist, or replace one with this id")
    create.add_argument("id")
    create.add_argument("--title", required=True)
    create.add_argument("--note", default="")
    create.add_argument(
        "--track", dest="tracks", nargs="+", action="extend", required=True, metavar="TRACK_ID"
    )
    create.add_argument("--valid-from", metavar="ISO", help="e.g. 2026-07-01T00:00:00Z")
    create.add_argument("--valid-until", metavar="ISO")
    create.add_argument(
        "--hours",
        action="append",
        default=[],
        metavar="'DAYS HH:MM-HH:MM'",
        help="opening hours, e.g. 'mon-sat 10:00-19:00' (repeatable; none: always)",
    )
    create.set_defaults(action=cmd_playlist_create)
    assign = psub.add_parser("assign", help="set the sites and devices a playlist goes to")
    assign.add_argument("id")
    assign.add_argument("--site", dest="sites", action="append", default=[])
    assign.add_argument("--device", dest="devices", action="append", default=[])
    assign.add_argument("--featured", action="store_true", help="the playlist kiosks start on")
    assign.set_defaults(action=cmd_playlist_assign)
    psub.add_parser("list", help="all playlists").set_defaults(action=cmd_playlist_list)
    show = psub.add_parser("show", help="one playlist and its tracks")
    show.add_argument("id")
    show.set_defaults(action=cmd_playlist_show)

    claim = sub.add_parser("claim", help="claim the kiosk showing CODE for a site")
    claim.add_argument("code")
    claim.add_argument("--site", required=True)
    claim.add_argument("--name", help="a name for the kiosk, e.g. 'Hall, left'")
    claim.set_defaults(action=cmd_claim)

    sub.add_parser("devices", help="the tenant's kiosks").set_defaults(action=cmd_devices)

    revoke = sub.add_parser("revoke", help="revoke a kiosk (it can be claimed again)")
    revoke.add_argument("device")
    revoke.set_defaults(action=cmd_revoke)

    add_fleet_commands(sub)  # push, status, plays, command (tenant/fleet_cli.py)
    add_account_commands(sub)  # login, logout, whoami, token, audit (tenant/staff_cli.py)
    add_payout_commands(sub)  # payouts, holders, track shares, subscriptions (payouts_cli.py)
    add_field_commands(sub, psub)  # tokens, site settings, retire, alerts (field_cli.py)

    pack = sub.add_parser(
        "pack", help="write a signed content pack of playlists for a technician's USB stick"
    )
    pack.add_argument("playlists", nargs="+", metavar="PLAYLIST")
    pack.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR",
        help="where to write jukebox/pack/ (e.g. the stick's root)",
    )  # fmt: skip
    pack.set_defaults(action=cmd_pack)


def run_admin(args: argparse.Namespace) -> int:
    """Run an admin command with the credentials named: --credentials FILE, else the stored
    login (`jukebox admin login`) of --tenant-url, else the only stored login."""
    from tenant.admin_client import AdminClient, AdminError, load_credentials
    from tenant.logins import NotLoggedIn, stored_credentials

    if not getattr(args, "needs_client", True):
        standalone: Callable[[argparse.Namespace], int] = args.action
        return standalone(args)
    action: Handler = args.action
    try:
        if args.credentials is not None:
            credentials = load_credentials(args.credentials)
        else:
            credentials = stored_credentials(args.tenant_url)
        with AdminClient(credentials) as client:
            return action(client, args)
    except AdminError as exc:
        err(f"jukebox admin: {exc}")
        return 2 if isinstance(exc, NotLoggedIn) else 1


def cmd_import(client: AdminClient, args: argparse.Namespace) -> int:
    from tenant.admin_client import AdminError, ServiceUnreachable

    folder: Path = args.folder
    if not folder.is_dir():
        err(f"jukebox admin import: {folder} is not a folder")
        return 1
    files = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
    )
    if not files:
        err(f"jukebox admin import: no audio files in {folder}")
        return 1
    imported: list[dict[str, Any]] = []
    failed = 0
    for n, path in enumerate(files, 1):
        label = path.relative_to(folder)
        try:
            result = client.import_file(path)
        except AdminError as exc:
            if isinstance(exc, ServiceUnreachable):
                raise
            failed += 1
            out(f"[{n}/{len(files)}] {label}: FAILED: {exc}")
            continue
        what = "uploaded" if result.uploaded else "already stored"
        track = "new track" if result.created else "existing track"
        out(f"[{n}/{len(files)}] {label}: {what}, {track} {result.track['id']}")
        imported.append(result.track)
    out()
    out(_tracks_table(imported))
    out(f"\n{len(imported)} track(s) imported, {failed} failed")
    return 1 if failed else 0


def _tracks_table(tracks: list[dict[str, Any]]) -> str:
    rows = [
        (t["id"], t["title"], t["artist"], duration(t.get("duration_ms")), t.get("isrc"))
        for t in tracks
    ]
    return format_table(("ID", "TITLE", "ARTIST", "DURATION", "ISRC"), rows)


def cmd_tracks(client: AdminClient, _args: argparse.Namespace) -> int:
    out(_tracks_table(client.tracks()))
    return 0


def _parse_hours(specs: list[str]) -> list[dict[str, str]]:
    hours = []
    for spec in specs:
        days, _, span = spec.strip().partition(" ")
        start, _, end = span.strip().partition("-")
        hours.append({"days": days, "from": start.strip(), "to": end.strip()})
    return hours


def cmd_playlist_create(client: AdminClient, args: argparse.Namespace) -> int:
    playlist = client.put_playlist(
        args.id,
        args.title,
        args.tracks,
        note=args.note,
        valid_from=args.valid_from,
        valid_until=args.valid_until,
        hours=_parse_hours(args.hours),
    )
    out(
        f"playlist {playlist['id']}: {len(playlist['tracks'])} track(s), "
        f"revision {playlist['revision']}"
    )
    return 0


def cmd_playlist_assign(client: AdminClient, args: argparse.Namespace) -> int:
    playlist = client.assign(args.id, args.sites, args.devices, args.featured)
    out(_assignment(playlist))
    return 0


def _assignment(playlist: dict[str, Any]) -> str:
    sites = ", ".join(playlist["sites"]) or "none"
    devices = ", ".join(playlist["devices"]) or "none"
    featured = " (featured)" if playlist["featured"] else ""
    return f"playlist {playlist['id']}{featured}: sites {sites}; devices {devices}"


def cmd_playlist_list(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [
        (
            p["id"],
            p["title"],
            len(p["tracks"]),
            p["valid_from"],
            p["valid_until"],
            "yes" if p["featured"] else "",
            ", ".join(p["sites"]),
            ", ".join(p["devices"]),
        )
        for p in client.playlists()
    ]
    headers = ("ID", "TITLE", "TRACKS", "FROM", "UNTIL", "FEATURED", "SITES", "DEVICES")
    out(format_table(headers, rows))
    return 0


def cmd_playlist_show(client: AdminClient, args: argparse.Namespace) -> int:
    p = client.playlist(args.id)
    out(f"{p['id']}: {p['title']}")
    if p["note"]:
        out(f"  note: {p['note']}")
    out(f"  revision: {p['revision']}")
    out(f"  valid: {p['valid_from'] or 'always'} .. {p['valid_until'] or 'open-ended'}")
    hours = "; ".join(f"{h['days']} {h['from']}-{h['to']}" for h in p["hours"]) or "always open"
    out(f"  hours: {hours}")
    out(f"  {_assignment(p)}")
    out()
    out(_tracks_table(p["tracks"]))
    return 0


def cmd_claim(client: AdminClient, args: argparse.Namespace) -> int:
    claimed = client.claim(args.code, args.site, args.name)
    out(f"claimed {claimed['device_id']} for site {claimed['site']}")
    return 0


def cmd_devices(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [
        (
            d["device_id"],
            d["name"],
            d["site"],
            d["status"],
            d["last_contact"],
            d["firmware_version"],
        )
        for d in client.devices()
    ]
    headers = ("DEVICE", "NAME", "SITE", "STATUS", "LAST CONTACT", "FIRMWARE")
    out(format_table(headers, rows))
    return 0


def cmd_revoke(client: AdminClient, args: argparse.Namespace) -> int:
    revoked = client.revoke(args.device)
    out(f"revoked {revoked['device_id']}")
    return 0


def cmd_pack(client: AdminClient, args: argparse.Namespace) -> int:
    from tenant.pack_writer import write_pack

    written = write_pack(client, args.playlists, args.output, progress=out)
    out(
        f"content pack in {written.folder}: {len(args.playlists)} playlist(s), "
        f"{written.files} file(s), {written.bytes / 1e6:.1f} MB ({written.fetched} downloaded)"
    )
    out("copy the jukebox/ folder to the root of a USB stick and plug it into the kiosk")
    return 0
