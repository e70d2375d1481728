"""`jukebox admin payouts | holders | track shares | subscriptions`: payout statements over HTTP.

Registered by tenant/admin_cli.py. Amounts and percentages are parsed as decimal text into
integers (minor units, basis points), never through a float. A closed statement's signature is
checked with the tenant's published key before its CSV and PDF files are written. (A little
over 400 lines: one command family, its parsing and its output together.)
"""

from __future__ import annotations

import argparse
import base64
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant.console import err, out
from tenant.payouts.currencies import format_amount, minor_units
from tenant.tables import format_table

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient
    from tenant.payouts.statement import Statement

UNATTRIBUTED = ""  # tenant.payouts.statement.UNATTRIBUTED, without importing it at start

Json = dict[str, Any]
_DECIMAL = re.compile(r"(-?)(\d+)(?:[.,](\d+))?")


class UsageError(ValueError):
    """A bad command-line value; the message names the option and the problem."""


def add_payout_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payouts = sub.add_parser("payouts", help="payout statements: preview, close, show, rules")
    psub = payouts.add_subparsers(dest="payouts_command", required=True, metavar="COMMAND")
    for name, text in (
        ("preview", "what closing PERIOD now would pay (nothing is kept)"),
        ("close", "compute, sign and freeze PERIOD's statement (late plays go to the next)"),
        ("show", "a closed period's statement, its signature checked"),
    ):
        cmd = psub.add_parser(name, help=text)
        cmd.add_argument("period", metavar="PERIOD", help="a month, e.g. 2026-11")
        cmd.add_argument("--library", metavar="L", help="only this library's files")
        cmd.add_argument("--holder", metavar="H", help="only this rights holder's files")
        cmd.add_argument(
            "-o", "--output", type=Path, metavar="DIR",
            help="where to write the CSV and PDF files (default: ./payouts-PERIOD)",
        )  # fmt: skip
        cmd.set_defaults(action=cmd_payouts, payouts_command=name)
    psub.add_parser("periods", help="the closed periods").set_defaults(action=cmd_periods)
    rules = psub.add_parser("rules", help="show or set a period's rules (before it is closed)")
    rules.add_argument("period", metavar="PERIOD")
    rules.add_argument("--counted-stream-s", type=int, metavar="SECONDS")
    rules.add_argument("--started-by", metavar="LIST", help="e.g. visitor,autoplay,schedule")
    errors = rules.add_mutually_exclusive_group()
    errors.add_argument("--count-errors", action="store_true", default=None)
    errors.add_argument("--no-count-errors", dest="count_errors", action="store_false")
    rules.add_argument("--split", choices=("plays", "listened"))
    rules.set_defaults(action=cmd_rules)

    holders = sub.add_parser("holders", help="rights holders: labels, producers, artists")
    hsub = holders.add_subparsers(dest="holders_command", required=True, metavar="COMMAND")
    for name in ("add", "edit"):
        cmd = hsub.add_parser(name, help=f"{name} a rights holder")
        cmd.add_argument("id")
        cmd.add_argument("--name", required=name == "add")
        cmd.add_argument("--contact")
        cmd.add_argument("--payment-details", help="kept out of logs and of the audit")
        cmd.set_defaults(action=cmd_holder, holders_command=name)
    hsub.add_parser("list", help="every rights holder").set_defaults(action=cmd_holders)
    tags = hsub.add_parser(
        "import-tags", help="give each imported file's track the label its tags name (100 %%)"
    )
    tags.add_argument("folder", type=Path)
    tags.set_defaults(action=cmd_import_tags)

    track = sub.add_parser("track", help="a track's payout settings")
    tsub = track.add_subparsers(dest="track_command", required=True, metavar="COMMAND")
    shares = tsub.add_parser("shares", help="set (or show) who holds a track's rights")
    shares.add_argument("track")
    shares.add_argument("shares", nargs="*", metavar="HOLDER=PCT", help="e.g. brume=60 soleil=40")
    shares.add_argument("--clear", action="store_true", help="no known rights holder")
    shares.set_defaults(action=cmd_shares)

    subs = sub.add_parser("subscriptions", help="what each library pays per period")
    ssub = subs.add_subparsers(dest="subscriptions_command", required=True, metavar="COMMAND")
    set_ = ssub.add_parser("set", help="set a library's amount (and sites) for a period")
    set_.add_argument("library")
    set_.add_argument("--period", required=True, metavar="PERIOD")
    set_.add_argument("--amount", required=True, help="e.g. 1234.56 (in the currency's units)")
    set_.add_argument("--currency", required=True, help="ISO 4217, e.g. EUR")
    set_.add_argument("--sites", help="comma-separated (default: the library's sites of before)")
    set_.set_defaults(action=cmd_subscription)
    show = ssub.add_parser("list", help="the subscriptions of a period")
    show.add_argument("--period", required=True, metavar="PERIOD")
    show.set_defaults(action=cmd_subscriptions)


# ---------------------------------------------------------------------------- parsing


def parse_minor(text: str, currency: str) -> int:
    """ "1234.56" EUR -> 123456; never through a float."""
    code = currency.strip().upper()
    try:
        exponent = minor_units(code)
    except KeyError:
        raise UsageError(f"--currency: {currency!r} is not an ISO 4217 currency code") from None
    match = _DECIMAL.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--amount: {text!r} is not an amount, e.g. 1234.56")
    sign, whole, fraction = match[1], match[2], match[3] or ""
    if len(fraction) > exponent:
        raise UsageError(f"--amount: {text}: {code} has {exponent} decimal(s)")
    minor: int = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    return -minor if sign else minor


def parse_share(spec: str) -> tuple[str, int]:
    """ "brume=60.5" -> ("brume", 6050) basis points."""
    holder, equals, pct = spec.partition("=")
    match = _DECIMAL.fullmatch(pct.strip())
    if not (holder.strip() and equals and match) or match[1]:
        raise UsageError(f"{spec!r}: expected HOLDER=PERCENT, e.g. brume=60")
    fraction = match[3] or ""
    if len(fraction) > 2:
        raise UsageError(f"{spec!r}: a share has at most 2 decimals (basis points)")
    return holder.strip(), int(match[2]) * 100 + int(fraction.ljust(2, "0") or "0")


# ---------------------------------------------------------------------------- statements


def cmd_payouts(client: AdminClient, args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from tenant.payouts.statement import (
        PayoutSignatureError,
        SignedStatement,
        statement_from_bytes,
        verify_statement,
    )

    period: str = args.period
    command: str = args.payouts_command
    if command == "preview":
        answer = client.payouts("GET", f"/periods/{period}/preview")
        statement = statement_from_bytes(json.dumps(answer["statement"]).encode())
        signed = None
    else:
        method, path = ("POST", f"/periods/{period}/close") if command == "close" else (
            "GET", f"/periods/{period}"
        )  # fmt: skip
        answer = client.payouts(method, path)
        signed = SignedStatement(base64.b64decode(answer["body"]), _unb64(answer["signature"]))
        key = Ed25519PublicKey.from_public_bytes(_unb64(answer["signing_key"]))
        try:
            verify_statement(signed, key)
        except PayoutSignatureError as exc:
            err(f"jukebox admin payouts {command}: period {period}: {exc}")
            return 1
        statement = statement_from_bytes(signed.body)
    folder: Path = args.output or Path(f"payouts-{statement.period.name}")
    written = write_files(statement, folder, args.library, args.holder)
    if signed is not None:
        (folder / "statement.json").write_bytes(signed.body)
        (folder / "statement.sig").write_text(answer["signature"] + "\n")
        (folder / "signing-key.txt").write_text(answer["signing_key"] + "\n")
        written += 3
    out(summary(statement))
    if signed is not None:
        out(f"\nclosed by {answer['closed_by']} at {answer['closed_at']}; signature checked")
    else:
        out("\npreview: nothing is kept; `jukebox admin payouts close` freezes the period")
    out(f"{written} file(s) in {folder}")
    return 0


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _file_name(kind: str, ident: str, suffix: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ident) if ident != UNATTRIBUTED else "unattributed"
    return f"{kind}-{safe}{suffix}"


def write_files(statement: Statement, folder: Path, library: str | None, holder: str | None) -> int:
    """Each rights holder's CSV and PDF, each library's CSV (only `library`'s or `holder`'s
    when given); how many files were written."""
    from tenant.payouts.export_csv import holder_csv, library_csv
    from tenant.payouts.export_pdf import holder_pdf

    folder.mkdir(parents=True, exist_ok=True)
    holders = sorted({line.holder_id for line in statement.lines})
    libraries = [total.library for total in statement.libraries]
    if holder is not None:
        holders = [holder]
    elif library is not None:
        holders = []
    if library is not None:
        libraries = [library]
    elif holder is not None:
        libraries = []
    for ident in holders:
        (folder / _file_name("holder", ident, ".csv")).write_bytes(holder_csv(statement, ident))
        (folder / _file_name("holder", ident, ".pdf")).write_bytes(holder_pdf(statement, ident))
    for ident in libraries:
        (folder / _file_name("library", ident, ".csv")).write_bytes(library_csv(statement, ident))
    return 2 * len(holders) + len(libraries)


def summary(statement: Statement) -> str:
    """Per library what it paid, per rights holder library-centric against pro-rata."""
    plays = statement.plays
    head = (
        f"period {statement.period.name}: {plays.selected} play(s) ({plays.regular} regular, "
        f"{plays.adjustments} adjustment(s)), {plays.counted} counted; "
        f"plays sha256 {statement.plays_sha256[:16]}…"
    )
    libs = [
        (t.library, _money(t.amount_minor, t.currency), t.counted_plays,
         _money(t.unattributed_minor, t.currency), _money(t.unallocated_minor, t.currency))
        for t in statement.libraries
    ]  # fmt: skip
    per_holder: dict[tuple[str, str], list[int]] = {}
    for line in statement.lines:
        figures = per_holder.setdefault((line.holder_id, line.currency), [0, 0, 0])
        figures[0] += line.counted_plays
        figures[1] += line.amount_minor
        figures[2] += line.pro_rata_minor
    holders = [
        (statement.holder_name(h), plays_n, _money(amount, c), _money(pro_rata, c))
        for (h, c), (plays_n, amount, pro_rata) in sorted(per_holder.items())
    ]
    parts = [
        head, "",
        format_table(("LIBRARY", "PAYS", "COUNTED", "HELD", "UNALLOCATED"), libs), "",
        format_table(("RIGHTS HOLDER", "PLAYS", "LIBRARY-CENTRIC", "PRO-RATA"), holders),
    ]  # fmt: skip
    if statement.unattributed_tracks:
        held = _few(statement.unattributed_tracks)
        parts.append(f"\ntracks with no known rights holder (held): {held}")
    if statement.unsubscribed_sites:
        sites = [f"{site} ({n})" for site, n in statement.unsubscribed_sites]
        parts.append(f"counted plays at sites no library covers: {_few(sites)}")
    return "\n".join(parts)


def _money(minor: int, currency: str) -> str:
    return f"{format_amount(minor, currency, '.')} {currency}"


def _few(items: Iterable[str], limit: int = 10) -> str:
    listed = list(items)
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def cmd_periods(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [
        (p["period"], p["closed_at"], p["closed_by"], p["plays_sha256"][:16])
        for p in client.payouts("GET", "/periods")
    ]
    out(format_table(("PERIOD", "CLOSED", "BY", "PLAYS SHA256"), rows))
    return 0


def cmd_rules(client: AdminClient, args: argparse.Namespace) -> int:
    current: Json = client.payouts("GET", f"/rules/{args.period}")
    changes: Json = {}
    if args.counted_stream_s is not None:
        changes["counted_stream_ms"] = args.counted_stream_s * 1000
    if args.started_by is not None:
        changes["counted_started_by"] = [s.strip() for s in args.started_by.split(",") if s.strip()]
    if args.count_errors is not None:
        changes["count_error_ended"] = args.count_errors
    if args.split is not None:
        changes["split"] = args.split
    if changes:
        keys = ("counted_stream_ms", "counted_started_by", "count_error_ended", "split")
        body = {key: current[key] for key in keys} | changes
        current = client.payouts("PUT", f"/rules/{args.period}", json=body)
    who = ", ".join(current["counted_started_by"])
    out(
        f"period {current['period']}: a play counts from {current['counted_stream_ms'] / 1000:g} s "
        f"listened, started by {who}, {'with' if current['count_error_ended'] else 'without'} "
        f"plays ended by an error; split by {current['split']}"
        + ("" if current["set"] else " (the defaults)")
    )
    return 0


# ---------------------------------------------------------------------------- holders, shares


def cmd_holder(client: AdminClient, args: argparse.Namespace) -> int:
    fields = {"name": args.name, "contact": args.contact, "payment_details": args.payment_details}
    body = {key: value for key, value in fields.items() if value is not None}
    if args.holders_command == "add":
        holder = client.payouts("POST", "/holders", json={"id": args.id, **body})
    else:
        holder = client.payouts("PATCH", f"/holders/{args.id}", json=body)
    out(f"rights holder {holder['id']}: {holder['name']}")
    return 0


def cmd_holders(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [(h["id"], h["name"], h["contact"]) for h in client.payouts("GET", "/holders")]
    out(format_table(("ID", "NAME", "CONTACT"), rows))
    return 0


def holder_id_for(label: str) -> str:
    """ "Soleil Records" -> "soleil-records": a rights holder id from a label tag."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.casefold()).strip("-")[:64].strip("-")
    return slug or "label"


def cmd_import_tags(client: AdminClient, args: argparse.Namespace) -> int:
    """Files already imported (`jukebox admin import`) whose tags name a label: the label
    becomes a rights holder (if new) holding 100 % of the track, unless the track already has
    shares (an edit is never overwritten by a tag)."""
    import hashlib

    from contract.tags import read_tags
    from tenant.admin_cli import AUDIO_SUFFIXES
    from tenant.catalogue import track_id_for

    folder: Path = args.folder
    if not folder.is_dir():
        err(f"jukebox admin holders import-tags: {folder} is not a folder")
        return 1
    known = {h["id"] for h in client.payouts("GET", "/holders")}
    given = kept = untagged = 0
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        label = read_tags(path).label
        if not label:
            untagged += 1
            continue
        holder = holder_id_for(label)
        if holder not in known:
            client.payouts("POST", "/holders", json={"id": holder, "name": label[:300]})
            known.add(holder)
            out(f"rights holder {holder}: {label}")
        with path.open("rb") as f:
            track = track_id_for(hashlib.file_digest(f, "sha256").hexdigest())
        body = {"shares": [{"holder": holder, "basis_points": 10_000}], "source": "tag",
                "only_if_none": True}  # fmt: skip
        if client.payouts("PUT", f"/shares/{track}", json=body)["changed"]:
            given += 1
            out(f"{path.relative_to(folder)}: track {track}: {holder} 100 %")
        else:
            kept += 1
    out(f"{given} track(s) given their label, {kept} kept their shares, {untagged} without label")
    return 0


def cmd_shares(client: AdminClient, args: argparse.Namespace) -> int:
    if args.shares or args.clear:
        try:
            parsed = [parse_share(spec) for spec in args.shares]
        except UsageError as exc:
            err(f"jukebox admin track shares: {exc}")
            return 2
        body = {"shares": [{"holder": h, "basis_points": bp} for h, bp in parsed]}
        shares = client.payouts("PUT", f"/shares/{args.track}", json=body)["shares"]
    else:
        shares = client.payouts("GET", "/shares", params={"track": args.track})
    listed = ", ".join(
        f"{s['holder']} {s['basis_points'] // 100}.{s['basis_points'] % 100:02d} %" for s in shares
    )
    out(f"track {args.track}: {listed or 'no known rights holder'}")
    return 0


def cmd_subscription(client: AdminClient, args: argparse.Namespace) -> int:
    try:
        amount = parse_minor(args.amount, args.currency)
    except UsageError as exc:
        err(f"jukebox admin subscriptions set: {exc}")
        return 2
    body: Json = {"amount_minor": amount, "currency": args.currency.strip().upper()}
    if args.sites is not None:
        body["sites"] = [s.strip() for s in args.sites.split(",") if s.strip()]
    sub = client.payouts("PUT", f"/subscriptions/{args.period}/{args.library}", json=body)
    out(
        f"library {sub['library']} pays {_money(sub['amount_minor'], sub['currency'])} for "
        f"{sub['period']} (sites {', '.join(sub['sites'])})"
    )
    return 0


def cmd_subscriptions(client: AdminClient, args: argparse.Namespace) -> int:
    rows = [
        (s["library"], _money(s["amount_minor"], s["currency"]), ", ".join(s["sites"]))
        for s in client.payouts("GET", f"/subscriptions/{args.period}")
    ]
    out(format_table(("LIBRARY", "PAYS", "SITES"), rows))
    return 0
