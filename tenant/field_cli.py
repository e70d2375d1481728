"""`jukebox admin enrollment-token | site-settings | track retire | playlist retire | alerts`.

Registered by tenant/admin_cli.py (`playlist retire` under its `playlist` command); each
command calls the tenant service over HTTP (tenant/api/field.py).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TypeAlias

from tenant.console import out
from tenant.tables import format_table

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient

Json = dict[str, Any]
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_field_commands(sub: Sub, playlist_commands: Sub) -> None:
    tokens = sub.add_parser("enrollment-token", help="tokens that claim kiosks without a code")
    tsub = tokens.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    create = tsub.add_parser("create", help="a token for site.toml's enrollment_token")
    create.add_argument("--site", required=True, help="the site the kiosks are claimed for")
    create.add_argument("--expires", metavar="ISO", help="e.g. 2026-12-31 (default: never)")
    create.add_argument("--uses", type=int, metavar="N", help="at most N kiosks (default: any)")
    create.set_defaults(action=cmd_token_create)
    tsub.add_parser("list", help="every token (never the token itself)").set_defaults(
        action=cmd_token_list
    )
    revoke = tsub.add_parser("revoke", help="the token claims no more kiosks")
    revoke.add_argument("token_id")
    revoke.set_defaults(action=cmd_token_revoke)

    settings = sub.add_parser(
        "site-settings", help="time zone and behaviour when closed, per site or the network's"
    )
    settings.add_argument("--site", help="this site (default: the network's default)")
    settings.add_argument("--timezone", metavar="ZONE", help="an IANA zone, e.g. Europe/Paris")
    settings.add_argument(
        "--when-closed", choices=("allow", "refuse"),
        help="outside opening hours, a visitor's play: allow, or refuse and say when it opens",
    )  # fmt: skip
    settings.add_argument(
        "--clear", action="append", default=[], choices=("timezone", "when_closed"),
        help="back to the network's (or the kiosk's) value",
    )  # fmt: skip
    settings.set_defaults(action=cmd_site_settings)

    retire_track = _commands_of(sub, "track", "a track's settings").add_parser(
        "retire", help="off every kiosk; its plays stay in reports"
    )
    retire_track.add_argument("id")
    retire_track.set_defaults(action=cmd_track_retire)
    retire_playlist = playlist_commands.add_parser(
        "retire", help="off every kiosk at its next sync; its plays stay in reports"
    )
    retire_playlist.add_argument("id")
    retire_playlist.set_defaults(action=cmd_playlist_retire)

    alerts = sub.add_parser("alerts", help="kiosks that need a look, and the alert webhook")
    alerts.add_argument("--json", action="store_true", help="the answer as JSON")
    alerts.add_argument("--webhook", metavar="URL", help="send alerts there (JSON POST)")
    alerts.add_argument("--no-webhook", action="store_true", help="stop sending alerts")
    alerts.add_argument(
        "--offline-after", type=int, metavar="SECONDS", help="offline longer than this alerts"
    )
    alerts.set_defaults(action=cmd_alerts)


def _commands_of(sub: Sub, name: str, help_text: str) -> Sub:
    """The sub-commands of `jukebox admin NAME`, made when no other module made them (the
    payouts add `track shares` beside `track retire`)."""
    parser = sub.choices.get(name) or sub.add_parser(name, help=help_text)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def cmd_token_create(client: AdminClient, args: argparse.Namespace) -> int:
    body = {"site": args.site, "expires": args.expires, "uses": args.uses}
    made = client.call("POST", "/enrollment-tokens", json=body)
    out(f"enrollment token {made['token_id']} for site {made['site']} (shown once):")
    out(made["token"])
    out('put it in site.toml: [tenant] enrollment_token = "…" (jukebox provision image)')
    return 0


def cmd_token_list(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [
        (t["token_id"], t["site"], t["expires_at"], t["uses"], t["max_uses"] or "any",
         "revoked" if t["revoked"] else "", t["created_by"])
        for t in client.call("GET", "/enrollment-tokens")
    ]  # fmt: skip
    out(format_table(("TOKEN", "SITE", "EXPIRES", "USED", "OF", "", "BY"), rows))
    return 0


def cmd_token_revoke(client: AdminClient, args: argparse.Namespace) -> int:
    client.call("DELETE", f"/enrollment-tokens/{args.token_id}")
    out(f"enrollment token {args.token_id} revoked")
    return 0


def cmd_site_settings(client: AdminClient, args: argparse.Namespace) -> int:
    if args.timezone or args.when_closed or args.clear:
        body = {
            "site": args.site,
            "timezone": args.timezone,
            "when_closed": args.when_closed,
            "clear": args.clear,
        }
        client.call("PUT", "/settings/sites", json=body)
    rows = []
    for view in client.call("GET", "/settings/sites"):
        effective = view["effective"]
        rows.append(
            (view["site"] or "(network)", effective.get("timezone") or "(kiosk's)",
             effective["when_closed"], "own" if view["timezone"] or view["when_closed"] else "")
        )  # fmt: skip
    out(format_table(("SITE", "TIME ZONE", "WHEN CLOSED", ""), rows))
    return 0


def cmd_track_retire(client: AdminClient, args: argparse.Namespace) -> int:
    done = client.call("POST", f"/tracks/{args.id}/retire")
    out(f"track {args.id} retired (it leaves {len(done['playlists'])} playlist(s))")
    return 0


def cmd_playlist_retire(client: AdminClient, args: argparse.Namespace) -> int:
    done = client.call("POST", f"/playlists/{args.id}/retire")
    out(f"playlist {args.id} retired ({len(done['desired_states_sent'])} kiosk(s) told at once)")
    return 0


def cmd_alerts(client: AdminClient, args: argparse.Namespace) -> int:
    if args.webhook or args.no_webhook or args.offline_after is not None:
        current = client.call("GET", "/alerts/settings")
        body = {
            "webhook_url": None if args.no_webhook else args.webhook or current["webhook_url"],
            "offline_after_s": args.offline_after or current["offline_after_s"],
        }
        settings = client.call("PUT", "/alerts/settings", json=body)
        webhook = settings["webhook_url"] or "none"
        out(f"webhook {webhook}, offline after {settings['offline_after_s']} s")
    alerts: list[Json] = client.call("GET", "/alerts")
    if args.json:
        out(json.dumps(alerts, indent=2, ensure_ascii=False))
        return 0
    if not alerts:
        out("no alerts")
        return 0
    rows = [(a["device_id"], a["name"], a["site"], a["condition"], a["detail"]) for a in alerts]
    out(format_table(("DEVICE", "NAME", "SITE", "ALERT", "DETAIL"), rows))
    return 0
