"""Payout statements under Reports over real HTTP: the reports role and the network
administrator see the periods, a closed period per library and per rights holder in their
locale's money, and download each holder's CSV and PDF, the same bytes as the payouts API's
statement gives through tenant/payouts/export_*.py; a curator sees no money, by link or URL."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pytest

from tenant.payouts.export_csv import holder_csv
from tenant.payouts.statement import statement_from_bytes
from tenant.store import TenantStore
from tenant.timefmt import parse_rfc3339
from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant
from tests.tenant.mqtt_device import play

SLUG = "lib-a"
OCT_10 = parse_rfc3339("2024-10-10T10:00:00Z")


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


@pytest.fixture
def closed_october(service: RunningTenant, flac_files: list[Path]) -> bytes:
    """October 2024 closed: alcazar (site centre) paid 100,00 EUR for 4 counted plays, 3 of a
    track of ana's and 1 of a track shared by brume (60 %, a hostile name) and soleil (40 %)."""
    nadia = signed_in(service, "nadia")
    t0, t1 = (nadia.upload(f.name, f.read_bytes()).json()["id"] for f in flac_files)
    admin = service.admin(SLUG)
    for holder, name in (("ana", "Ana"), ("brume", "<b>Duo</b> Brume"), ("soleil", "Soleil")):
        admin.payouts("POST", "/holders", json={"id": holder, "name": name})
    for track, shares in ((t0, {"ana": 10_000}), (t1, {"brume": 6_000, "soleil": 4_000})):
        body = [{"holder": h, "basis_points": bp} for h, bp in shares.items()]
        admin.payouts("PUT", f"/shares/{track}", json={"shares": body})
    subscription = {"amount_minor": 10_000, "currency": "EUR", "sites": ["centre"]}
    admin.payouts("PUT", "/subscriptions/2024-10/alcazar", json=subscription)
    plays = [play(SLUG, "jk-aaaaaaaaaaaaaaaaaaaa", n, track_id=t, started_wall_ms=OCT_10,
                  listened_ms=60_000) for n, t in enumerate((t0, t0, t0, t1), 1)]  # fmt: skip
    store = TenantStore(service.database_url)
    try:
        assert len(store.store_plays(SLUG, plays, OCT_10 + 60_000).stored) == 4
    finally:
        store.close()
    closed = admin.payouts("POST", "/periods/2024-10/close")
    return base64.b64decode(closed["body"])


def test_the_reports_role_reads_a_closed_period_and_downloads_each_holder_s_files(
    service: RunningTenant, closed_october: bytes
) -> None:
    rita = signed_in(service, "rita")
    assert 'id="payouts"' in rita.get("reports").text
    listing = rita.get("reports/payouts")
    assert listing.status_code == 200
    assert 'data-period="2024-10"' in listing.text and "closed" in listing.text
    assert 'data-period="2024-11"' in listing.text  # open since the last closed one
    october = rita.get("reports/payouts/2024-10")
    assert october.status_code == 200, october.text
    text = html.unescape(october.text)
    # 10000 cents over 4 plays: ana 3 x 2500; brume 60 % and soleil 40 % of 2500
    for amount in ("€100.00", "€75.00", "€15.00", "€10.00"):
        assert amount in text
    assert "&lt;b&gt;Duo&lt;/b&gt; Brume" in october.text  # a name is text
    french = rita.get("reports/payouts/2024-10", params={"lang": "fr"}).text
    assert "75,00\u00a0€" in html.unescape(french) and "Par ayant droit" in french

    csv = rita.get("reports/payouts/2024-10/holder.csv", params={"holder": "ana"})
    assert csv.status_code == 200
    assert csv.content == holder_csv(statement_from_bytes(closed_october), "ana")
    assert csv.content.startswith(b"\xef\xbb\xbf") and b"75,00" in csv.content
    assert 'filename="payouts-2024-10-holder-ana.csv"' in csv.headers["content-disposition"]
    pdf = rita.get("reports/payouts/2024-10/holder.pdf", params={"holder": "brume"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    library = rita.get("reports/payouts/2024-10/library.csv", params={"library": "alcazar"})
    assert library.status_code == 200 and b"alcazar;Ana;3;180;75,00" in library.content
    assert rita.get("reports/payouts/2024-10/holder.csv",
                    params={"holder": "nobody"}).status_code == 404  # fmt: skip
    bad = rita.get("reports/payouts/2024-13")
    assert bad.status_code == 422 and "YYYY-MM" in bad.text
    preview = rita.get("reports/payouts/2024-11")  # open: the preview, marked so
    assert preview.status_code == 200 and 'id="payout-state" class="error"' in preview.text


def test_a_curator_sees_no_money_by_link_or_url(
    service: RunningTenant, closed_october: bytes
) -> None:
    carla = signed_in(service, "carla")
    assert 'id="payouts"' not in carla.get("reports").text
    for page in ("reports/payouts", "reports/payouts/2024-10",
                 "reports/payouts/2024-10/holder.csv?holder=ana",
                 "reports/payouts/2024-10/holder.pdf?holder=ana"):  # fmt: skip
        assert carla.get(page).status_code == 403, page
    nadia = signed_in(service, "nadia")
    assert nadia.get("reports/payouts/2024-10").status_code == 200
