"""Payout statements through the real tenant over HTTP: holders, shares, subscriptions, preview,
close and show; late plays become the next period's adjustments; a closed statement's bytes
and signature verify and never change; bad input writes nothing; every change is audited.

Plays are stored as the ingester stores them (TenantStore.store_plays, tested over MQTT in
test_ingest.py), with the received time each test needs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tenant.admin_client import AdminClient, AdminError
from tenant.payouts.statement import SignedStatement, statement_from_bytes, verify_statement
from tenant.roles import Role
from tenant.store import TenantStore
from tenant.timefmt import parse_rfc3339
from tests.support.tenant import RunningTenant
from tests.tenant.mqtt_device import Json, play
from tests.tenant.staff_support import add_user, call, token_of

SLUG = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
OCT_10 = parse_rfc3339("2024-10-10T10:00:00Z")
OCT_15 = parse_rfc3339("2024-10-15T10:00:00Z")
NOV_3 = parse_rfc3339("2024-11-03T10:00:00Z")
HOUR = 3_600_000
SECRET = "IBAN FR76 3000 6000 0112 3456 7890 189"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Network:
    def __init__(self, service: RunningTenant, tracks: list[str]) -> None:
        self.service = service
        self.admin: AdminClient = service.admin(SLUG)
        self.t0, self.t1, self.t2 = tracks
        self.seq = 0

    def store(self, *reports: Json, received_ms: int) -> None:
        store = TenantStore(self.service.database_url)
        try:
            assert len(store.store_plays(SLUG, list(reports), received_ms).stored) == len(reports)
        finally:
            store.close()

    def play(self, track: str, at_ms: int, site: str = "centre", **extra: Any) -> Json:
        self.seq += 1
        return play(SLUG, DEVICE, self.seq, track_id=track, started_wall_ms=at_ms, site=site,
                    **{"listened_ms": 60_000, **extra})  # fmt: skip

    def payouts(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.admin.payouts(method, path, **kwargs)


@pytest.fixture
def network(service: RunningTenant, flac_tracks: list[dict[str, Any]]) -> Iterator[Network]:
    """Holders ana, brume, soleil; t0 is ana's, t1 is brume 60 % / soleil 40 %, t2 has no
    known holder; alcazar (site centre) pays 100,00 EUR and nord (annexe) 50,00 EUR in
    October; plays in October received before the end of the month."""
    net = Network(service, [str(t["id"]) for t in flac_tracks[:3]])
    for holder, name in (("ana", "Ana"), ("brume", "Duo Brume"), ("soleil", "Soleil Records")):
        net.payouts("POST", "/holders", json={"id": holder, "name": name,
                                              "payment_details": SECRET})  # fmt: skip
    for track, shares in ((net.t0, {"ana": 10_000}), (net.t1, {"brume": 6_000, "soleil": 4_000})):
        body = [{"holder": holder, "basis_points": bp} for holder, bp in shares.items()]
        net.payouts("PUT", f"/shares/{track}", json={"shares": body})
    for library, site, amount in (("alcazar", "centre", 10_000), ("nord", "annexe", 5_000)):
        net.payouts("PUT", f"/subscriptions/2024-10/{library}",
                    json={"amount_minor": amount, "currency": "EUR", "sites": [site]})  # fmt: skip
    net.store(
        *(net.play(net.t0, OCT_10) for _ in range(3)),
        net.play(net.t1, OCT_10),
        net.play(net.t2, OCT_10),
        net.play(net.t1, OCT_10, site="annexe"),
        net.play(net.t1, OCT_10, site="annexe"),
        net.play(net.t0, OCT_10, listened_ms=20_000),  # too short to count
        net.play(net.t0, OCT_10, started_by="autoplay"),  # not a visitor's
        received_ms=OCT_10 + HOUR,
    )
    yield net


def amounts(content: dict[str, Any], kind: str = "regular") -> dict[tuple[str, str], int]:
    """{(library, holder): amount_minor} of the statement's lines of `kind`."""
    columns = content["line_columns"]
    totals: dict[tuple[str, str], int] = {}
    for raw in content["lines"]:
        line = dict(zip(columns, raw, strict=True))
        if line["kind"] == kind:
            key = (line["library"], line["holder_id"])
            totals[key] = totals.get(key, 0) + line["amount_minor"]
    return totals


OCTOBER = {
    # alcazar: 10000 over 5 counted plays = 2000 a play; t1's 2000 is 60/40
    ("alcazar", "ana"): 6000,
    ("alcazar", "brume"): 1200,
    ("alcazar", "soleil"): 800,
    ("alcazar", ""): 2000,  # t2: no known rights holder, held
    # nord: 5000 over 2 plays of t1
    ("nord", "brume"): 3000,
    ("nord", "soleil"): 2000,
}


def test_preview_close_show_round_trip_with_a_verified_signature(network: Network) -> None:
    preview = network.payouts("GET", "/periods/2024-10/preview")
    assert preview["closed"] is False
    assert amounts(preview["statement"]) == OCTOBER
    assert preview["statement"]["plays"]["counted"] == 7

    closed = network.payouts("POST", "/periods/2024-10/close")
    shown = network.payouts("GET", "/periods/2024-10")
    key = network.payouts("GET", "/signing-key")

    body = base64.b64decode(shown["body"])
    assert body == base64.b64decode(closed["body"])
    assert shown["signature"] == closed["signature"]
    assert shown["closed_by"] == "admin"
    public = Ed25519PublicKey.from_public_bytes(unb64(key["key"]))
    content = verify_statement(SignedStatement(body, unb64(shown["signature"])), public)
    assert amounts(content) == OCTOBER
    assert content == shown["statement"]
    assert statement_from_bytes(body).canonical_bytes() == body
    # The preview computed the same plays: only the cutoff differs.
    assert content["plays_sha256"] == preview["statement"]["plays_sha256"]
    assert {k: v for k, v in content.items() if k != "cutoff_ms"} == {
        k: v for k, v in preview["statement"].items() if k != "cutoff_ms"
    }
    periods = network.payouts("GET", "/periods")
    assert [p["period"] for p in periods] == ["2024-10"]

    only_nord = network.payouts("GET", "/periods/2024-10", params={"library": "nord"})
    assert amounts(only_nord["statement"]) == {k: v for k, v in OCTOBER.items() if k[0] == "nord"}
    assert base64.b64decode(only_nord["body"]) == body  # the signed bytes stay whole


def test_late_plays_go_to_the_next_period_and_a_closed_one_never_changes(
    network: Network,
) -> None:
    network.payouts("POST", "/periods/2024-10/close")
    before = network.payouts("GET", "/periods/2024-10")
    cutoff = before["cutoff_ms"]
    # A kiosk offline for weeks: its October plays arrive after October closed.
    network.store(network.play(network.t1, OCT_15), network.play(network.t1, OCT_15),
                  received_ms=cutoff + 1)  # fmt: skip
    network.store(network.play(network.t0, NOV_3), received_ms=cutoff + 2)
    # November's subscriptions keep the libraries' sites of October.
    network.payouts("PUT", "/subscriptions/2024-11/alcazar",
                    json={"amount_minor": 9_000, "currency": "EUR"})  # fmt: skip
    subs = network.payouts("GET", "/subscriptions/2024-11")
    assert [(s["library"], s["sites"]) for s in subs] == [("alcazar", ["centre"])]

    preview = network.payouts("GET", "/periods/2024-11/preview")["statement"]
    assert preview["plays"]["regular"] == 1
    assert preview["plays"]["adjustments"] == 2
    # 9000 over 3 plays at centre: 1 regular (ana) and 2 late ones of t1 (brume, soleil)
    assert amounts(preview) == {("alcazar", "ana"): 3000}
    assert amounts(preview, "adjustment") == {("alcazar", "brume"): 3600,
                                              ("alcazar", "soleil"): 2400}  # fmt: skip

    after = network.payouts("GET", "/periods/2024-10")
    assert after["body"] == before["body"]
    assert after["signature"] == before["signature"]
    network.payouts("POST", "/periods/2024-11/close")
    assert network.payouts("GET", "/periods/2024-10")["body"] == before["body"]
    assert network.payouts("GET", "/periods/2024-11")["statement"]["plays"]["adjustments"] == 2


def error_of(network: Network, method: str, path: str, **kwargs: Any) -> str:
    with pytest.raises(AdminError) as caught:
        network.payouts(method, path, **kwargs)
    assert caught.value.status == 422, caught.value
    return str(caught.value)


def test_bad_input_is_named_and_writes_nothing(network: Network) -> None:
    shares_before = network.payouts("GET", "/shares")
    bad = {"shares": [{"holder": "brume", "basis_points": 6_000},
                      {"holder": "soleil", "basis_points": 3_950}]}  # fmt: skip
    assert "shares add up to 99.50 %, not 100 %" in error_of(
        network, "PUT", f"/shares/{network.t1}", json=bad
    )
    unknown = {"shares": [{"holder": "nobody", "basis_points": 10_000}]}
    assert "nobody: no such rights holder" in error_of(
        network, "PUT", f"/shares/{network.t2}", json=unknown
    )
    assert network.payouts("GET", "/shares") == shares_before

    subs_before = network.payouts("GET", "/subscriptions/2024-10")
    negative = {"amount_minor": -5, "currency": "EUR", "sites": ["centre"]}
    assert "amount: -5 is negative" in error_of(
        network, "PUT", "/subscriptions/2024-10/alcazar", json=negative
    )
    currency = {"amount_minor": 500, "currency": "EUX", "sites": ["centre"]}
    assert "'EUX' is not an ISO 4217 currency code" in error_of(
        network, "PUT", "/subscriptions/2024-10/alcazar", json=currency
    )
    taken = {"amount_minor": 500, "currency": "EUR", "sites": ["annexe", "hall"]}
    assert "annexe already belongs to library nord" in error_of(
        network, "PUT", "/subscriptions/2024-10/alcazar", json=taken
    )
    assert network.payouts("GET", "/subscriptions/2024-10") == subs_before

    network.payouts("POST", "/periods/2024-10/close")
    shown = network.payouts("GET", "/periods/2024-10")
    assert "overlaps closed period 2024-10" in error_of(network, "POST", "/periods/2024-10/close")
    assert "period 2024-10 is closed" in error_of(
        network, "PUT", "/subscriptions/2024-10/nord",
        json={"amount_minor": 1, "currency": "EUR"},
    )  # fmt: skip
    assert "period 2024-10 is closed" in error_of(
        network, "PUT", "/rules/2024-10", json={"counted_stream_ms": 1000}
    )
    assert "with no gap" in error_of(network, "POST", "/periods/2024-12/close")
    assert "not over yet" in error_of(network, "POST", "/periods/2099-01/close")
    assert "not a month" in error_of(network, "GET", "/periods/26-10/preview")
    assert network.payouts("GET", "/periods/2024-10") == shown
    assert network.payouts("GET", "/rules/2024-10")["set"] is False


def test_rules_of_an_open_period_change_its_statement(network: Network) -> None:
    rules = {"counted_stream_ms": 10_000, "counted_started_by": ["visitor", "autoplay"],
             "count_error_ended": False, "split": "plays"}  # fmt: skip
    network.payouts("PUT", "/rules/2024-10", json=rules)

    preview = network.payouts("GET", "/periods/2024-10/preview")["statement"]
    assert preview["rules"] == {**rules, "counted_started_by": ["autoplay", "visitor"]}
    assert preview["plays"]["counted"] == 9  # the short and the autoplayed play count now


def test_every_change_is_audited_without_payment_details(
    service: RunningTenant, network: Network
) -> None:
    network.payouts("PATCH", "/holders/ana", json={"contact": "ana@example.org"})
    network.payouts("POST", "/periods/2024-10/close")

    entries = network.admin.audit()
    actions = [e["action"] for e in entries]
    for action in ("holder.add", "holder.edit", "shares.set", "subscription.set", "payouts.close"):
        assert action in actions
    assert SECRET not in json.dumps(entries)
    edit = next(e for e in entries if e["action"] == "holder.edit")
    assert "(set)" in json.dumps(edit)
    holders = {h["id"]: h for h in network.payouts("GET", "/holders")}
    assert holders["ana"]["payment_details"] == SECRET  # the network admin sees them
    assert holders["ana"]["contact"] == "ana@example.org"


def test_the_reports_role_reads_but_neither_closes_nor_edits(
    service: RunningTenant, network: Network
) -> None:
    add_user(service, "rita", Role.REPORTS)
    add_user(service, "carla", Role.CURATOR, ("centre",))
    rita, carla = token_of(service, "rita"), token_of(service, "carla")
    base = "/v1/admin/payouts"

    assert call(service, "GET", f"{base}/periods/2024-10/preview", rita).status_code == 200
    holders = call(service, "GET", f"{base}/holders", rita).json()
    assert SECRET not in json.dumps(holders)
    assert call(service, "POST", f"{base}/periods/2024-10/close", rita).status_code == 403
    assert call(service, "PUT", f"{base}/rules/2024-10", rita, json={}).status_code == 403
    assert call(service, "GET", f"{base}/periods/2024-10/preview", carla).status_code == 403
    assert network.payouts("GET", "/periods") == []
