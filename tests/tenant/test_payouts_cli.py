"""`jukebox admin payouts | holders | track shares | subscriptions` as subprocesses against the
real tenant: the CSV and PDF files they write, the signature they check, their errors."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tenant.payouts_cli import UsageError, parse_minor, parse_share
from tenant.store import TenantStore
from tenant.timefmt import parse_rfc3339
from tests.support.tenant import RunningTenant
from tests.tenant.mqtt_device import play

SLUG = "lib-a"
REPO = Path(__file__).resolve().parents[2]
OCT_10 = parse_rfc3339("2024-10-10T10:00:00Z")


def admin(service: RunningTenant, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukebox", "admin", "--credentials",
         str(service.credentials_path(SLUG)), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def ok(service: RunningTenant, *args: str) -> str:
    done = admin(service, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_amounts_and_shares_are_parsed_as_decimals_never_floats() -> None:
    assert parse_minor("1234.56", "EUR") == 123456
    assert parse_minor("0,1", "eur") == 10
    assert parse_minor("1234", "JPY") == 1234
    assert parse_minor("-5", "EUR") == -500
    assert parse_minor("0.29", "EUR") == 29  # 0.29 * 100 is 28.999999999999996 in floats
    with pytest.raises(UsageError, match="EUR has 2 decimal"):
        parse_minor("12.345", "EUR")
    with pytest.raises(UsageError, match="'EUX' is not an ISO 4217"):
        parse_minor("12", "EUX")
    assert parse_share("brume=60") == ("brume", 6000)
    assert parse_share("soleil=33.33") == ("soleil", 3333)
    with pytest.raises(UsageError, match="at most 2 decimals"):
        parse_share("a=33.333")
    with pytest.raises(UsageError, match="HOLDER=PERCENT"):
        parse_share("brume")


def test_the_commands_set_up_close_and_write_verified_statements(
    service: RunningTenant, flac_tracks: list[dict[str, Any]], tmp_path: Path
) -> None:
    t0, t1 = (str(t["id"]) for t in flac_tracks[:2])
    ok(service, "holders", "add", "ana", "--name", "Ana", "--payment-details", "IBAN FR76 1")
    ok(service, "holders", "add", "brume", "--name", "Duo Brume")
    assert "Duo Brume" in ok(service, "holders", "list")
    assert "ana 100.00 %" in ok(service, "track", "shares", t0, "ana=100")
    short = admin(service, "track", "shares", t1, "ana=60", "brume=39.5")
    assert short.returncode == 1
    assert "shares add up to 99.50 %, not 100 %" in short.stderr
    assert "no known rights holder" in ok(service, "track", "shares", t1)
    ok(service, "track", "shares", t1, "ana=60", "brume=40")
    out = ok(service, "subscriptions", "set", "alcazar", "--period", "2024-10", "--amount",
             "1234.56", "--currency", "EUR", "--sites", "centre")  # fmt: skip
    assert "pays 1234.56 EUR for 2024-10 (sites centre)" in out
    unknown = admin(service, "subscriptions", "set", "alcazar", "--period", "2024-10",
                    "--amount", "1", "--currency", "EUX")  # fmt: skip
    assert unknown.returncode == 2
    assert "'EUX' is not an ISO 4217 currency code" in unknown.stderr
    negative = admin(service, "subscriptions", "set", "alcazar", "--period", "2024-10",
                     "--amount", "-1", "--currency", "EUR")  # fmt: skip
    assert negative.returncode == 1
    assert "amount: -100 is negative" in negative.stderr
    assert "1234.56 EUR" in ok(service, "subscriptions", "list", "--period", "2024-10")
    assert "split by listened" in ok(service, "payouts", "rules", "2024-10", "--split", "listened")

    reports = [play(SLUG, "jk-aaaaaaaaaaaaaaaaaaaa", n, track_id=t, started_wall_ms=OCT_10,
                    listened_ms=60_000) for n, t in enumerate((t0, t0, t1), 1)]  # fmt: skip
    store = TenantStore(service.database_url)
    try:
        store.store_plays(SLUG, reports, OCT_10 + 60_000)
    finally:
        store.close()

    preview = tmp_path / "preview"
    out = ok(service, "payouts", "preview", "2024-10", "-o", str(preview))
    assert "nothing is kept" in out
    assert sorted(p.name for p in preview.iterdir()) == [
        "holder-ana.csv", "holder-ana.pdf", "holder-brume.csv", "holder-brume.pdf",
        "library-alcazar.csv",
    ]  # fmt: skip

    closed = tmp_path / "closed"
    out = ok(service, "payouts", "close", "2024-10", "-o", str(closed))
    assert "signature checked" in out
    body = (closed / "statement.json").read_bytes()
    signature = (closed / "statement.sig").read_text().strip()
    key = (closed / "signing-key.txt").read_text().strip()
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key + "="))
    public.verify(base64.urlsafe_b64decode(signature + "=="), body)
    csv = (closed / "holder-ana.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf") and b";" in csv
    # By listened time (60 s each): t0's 2 plays 1234.56 * 2/3 = 823.04; ana's 60 % of t1's
    # 411.52 is 246.912 -> 246.91 (brume's 164.608 has the larger remainder: 164.61).
    assert b"823,04" in csv and b"246,91" in csv
    assert b"164,61" in (closed / "holder-brume.csv").read_bytes()
    assert (closed / "holder-ana.pdf").read_bytes().startswith(b"%PDF-")

    shown = tmp_path / "shown"
    ok(service, "payouts", "show", "2024-10", "--holder", "brume", "-o", str(shown))
    assert sorted(p.name for p in shown.iterdir()) == [
        "holder-brume.csv", "holder-brume.pdf", "signing-key.txt", "statement.json",
        "statement.sig",
    ]  # fmt: skip
    assert (shown / "statement.json").read_bytes() == body
    again = admin(service, "payouts", "close", "2024-10", "-o", str(tmp_path / "again"))
    assert again.returncode == 1
    assert "overlaps closed period 2024-10" in again.stderr
    assert "2024-10" in ok(service, "payouts", "periods")


def test_labels_in_the_tags_become_rights_holders_without_overwriting_edits(
    service: RunningTenant, flac_dir: Path, tmp_path: Path
) -> None:
    from mutagen.flac import FLAC

    folder = tmp_path / "label"
    folder.mkdir()
    for name, label in (
        ("a.flac", "Soleil Records"),
        ("b.flac", None),
        ("c.flac", "Soleil Records"),
    ):
        path = folder / name
        shutil.copy(flac_dir / f"t{'abc'.index(name[0])}.flac", path)
        audio = FLAC(path)  # type: ignore[no-untyped-call]
        audio["title"] = f"Labelled {name}"  # a new file: its own sha256, its own track
        if label:
            audio["organization"] = label
        audio.save()
    ok(service, "import", str(folder))
    tracks = {t["title"]: t["id"] for t in service.admin(SLUG).tracks()}
    ok(service, "holders", "add", "duo", "--name", "Duo")
    ok(service, "track", "shares", tracks["Labelled c.flac"], "duo=100")  # edited by hand

    out = ok(service, "holders", "import-tags", str(folder))

    assert "rights holder soleil-records: Soleil Records" in out
    assert "1 track(s) given their label, 1 kept their shares, 1 without label" in out
    shares = {s["track_id"]: (s["holder"], s["source"])
              for s in service.admin(SLUG).payouts("GET", "/shares")}  # fmt: skip
    assert shares[tracks["Labelled a.flac"]] == ("soleil-records", "tag")
    assert shares[tracks["Labelled c.flac"]] == ("duo", "manual")
    assert tracks["Labelled b.flac"] not in shares
    again = ok(service, "holders", "import-tags", str(folder))
    assert "0 track(s) given their label, 2 kept their shares" in again
