"""`jukebox admin firmware keyring | upload | releases | rollout | status` (docs/updates.md).

Registered by tenant/fleet_cli.py; each command calls `/v1/admin/firmware/*` over HTTP. An
upload sends the bundle as media (by sha256, skipped when the tenant has it), then asks the
service to verify and record it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant.console import out
from tenant.tables import format_table

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient

Json = dict[str, Any]


def add_firmware_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    firmware = sub.add_parser("firmware", help="firmware over the air: bundles and rollouts")
    fsub = firmware.add_subparsers(dest="firmware_command", required=True, metavar="COMMAND")

    keyring = fsub.add_parser(
        "keyring", help="show or set the release keyring and the rollback share that pauses"
    )
    keyring.add_argument("ca", nargs="?", type=Path, help="ca.pem of image-build/release-key")
    keyring.add_argument("--max-rollback-percent", type=int, metavar="0-100")
    keyring.set_defaults(action=cmd_keyring)

    upload = fsub.add_parser("upload", help="upload a bundle (verified with rauc info)")
    upload.add_argument("bundle", type=Path, help="a .raucb made by image-build/bundle")
    upload.set_defaults(action=cmd_upload)

    fsub.add_parser("releases", help="the uploaded bundles").set_defaults(action=cmd_releases)

    rollout = fsub.add_parser("rollout", help="give kiosks a version (their desired state)")
    rollout.add_argument("version")
    which = rollout.add_mutually_exclusive_group(required=True)
    which.add_argument("--site", dest="sites", action="append", metavar="SITE")
    which.add_argument("--devices", nargs="+", metavar="ID")
    which.add_argument(
        "--percent", type=int, metavar="1-100",
        help="a stable share of the network's kiosks; raising it only adds",
    )  # fmt: skip
    rollout.add_argument(
        "--allow-downgrade", action="store_true",
        help="install even when not newer than what a kiosk runs",
    )  # fmt: skip
    rollout.add_argument("--resume", action="store_true", help="go on with a paused rollout")
    rollout.set_defaults(action=cmd_rollout)

    fsub.add_parser("status", help="per kiosk: running, target, phase; rollouts").set_defaults(
        action=cmd_status
    )


def _call(client: AdminClient, method: str, path: str, **kwargs: Any) -> Any:
    return client._check(client._send(method, f"/firmware{path}", **kwargs))


def cmd_keyring(client: AdminClient, args: argparse.Namespace) -> int:
    body: Json = {}
    if args.ca is not None:
        body["keyring"] = args.ca.read_text(encoding="utf-8")
    if args.max_rollback_percent is not None:
        body["max_rollback_percent"] = args.max_rollback_percent
    settings = (
        _call(client, "PUT", "/settings", json=body) if body else _call(client, "GET", "/settings")
    )
    have = "set" if settings["keyring"] else "none: `jukebox admin firmware keyring ca.pem`"
    out(f"release keyring: {have}")
    out(f"bundles must name: {settings['compatible']}")
    out(f"a rollout pauses above {settings['max_rollback_percent']} % rollbacks")
    return 0


def cmd_upload(client: AdminClient, args: argparse.Namespace) -> int:
    sha256, sent = client.upload_media(args.bundle)
    release = _call(client, "POST", "/releases", json={"sha256": sha256}, timeout=900)
    state = "recorded" if release["created"] else "already recorded"
    out(f"{args.bundle}: {'uploaded' if sent else 'already uploaded'}, sha256 {sha256}")
    out(f"firmware {release['version']} ({release['compatible']}, {release['size']} bytes) {state}")
    return 0


def cmd_releases(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [
        (r["version"], r["sha256"][:12], r["size"], r["uploaded_by"], r["uploaded_at"])
        for r in _call(client, "GET", "/releases")
    ]
    out(format_table(("VERSION", "SHA256", "BYTES", "BY", "UPLOADED"), rows))
    return 0


def cmd_rollout(client: AdminClient, args: argparse.Namespace) -> int:
    body: Json = {
        "version": args.version,
        "sites": args.sites or [],
        "devices": args.devices or [],
        "percent": args.percent,
        "allow_downgrade": args.allow_downgrade,
        "resume": args.resume,
    }
    answer = _call(client, "POST", "/rollouts", json=body)
    for device_id in answer["added"]:
        out(f"{device_id}: firmware {answer['version']} in its desired state")
    out(
        f"{len(answer['added'])} kiosk(s) added, {len(answer['already'])} had it already; "
        "follow with `jukebox admin firmware status`"
    )
    return 0


def cmd_status(client: AdminClient, _args: argparse.Namespace) -> int:
    status = _call(client, "GET", "/status")
    rows = [
        (d["device_id"], d["name"], d["site"], d["running"], d["booted"], d["target"],
         _phase(d), d["result"])
        for d in status["devices"]
    ]  # fmt: skip
    headers = ("DEVICE", "NAME", "SITE", "RUNNING", "SLOT", "TARGET", "PHASE", "RESULT")
    out(format_table(headers, rows))
    for r in status["rollouts"]:
        state = f"PAUSED: {r['paused_reason']}" if r["paused"] else "rolling out"
        out(
            f"\nfirmware {r['version']}: {state}; {r['kiosks']} kiosk(s): "
            f"{r['committed']} committed, {r['failed']} rolled back or refused, "
            f"{r['pending']} pending"
        )
    return 0


def _phase(device: Json) -> str | None:
    phase = device.get("phase")
    if phase is None:
        return None
    label = str(phase)
    if device.get("update_target") and device["update_target"] != device.get("target"):
        label += f" ({device['update_target']})"
    if device.get("progress") is not None and phase in ("downloading", "installing"):
        label += f" {device['progress']} %"
    return label
