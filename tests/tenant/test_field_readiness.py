"""Enrollment tokens, site settings and retiring against the real service over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from jukebox.cli import build_parser
from tenant.store import TenantStore
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock
from tests.tenant.kiosk import Kiosk

TIMEOUT = 30


def enroll_with(kiosk: Kiosk, token: str) -> requests.Response:
    body = {"public_key": kiosk.public_key, "firmware_version": "0.1.0", "enrollment_token": token}
    return requests.post(f"{kiosk.tenant_url}/v1/enroll", json=body, timeout=TIMEOUT)


def new_token(service: RunningTenant, slug: str = "lib-a", **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = service.admin(slug).call(
        "POST", "/enrollment-tokens", json={"site": "Bibliothèque Nord", **body}
    )
    return answer


def test_a_kiosk_enrolling_with_a_valid_token_is_claimed_for_its_site(
    service: RunningTenant, kiosk: Kiosk
) -> None:
    token = new_token(service, uses=1)
    answer = enroll_with(kiosk, token["token"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "active"
    device = next(d for d in service.devices("lib-a") if d["device_id"] == kiosk.device_id)
    assert device["site"] == "Bibliothèque Nord" and device["status"] == "active"
    kiosk.login()  # its credentials work at once
    listed = service.admin("lib-a").call("GET", "/enrollment-tokens")
    assert [(t["token_id"], t["uses"]) for t in listed] == [(token["token_id"], 1)]
    assert "token" not in listed[0]
    audit = service.admin("lib-a").audit(obj=f"device:{kiosk.device_id}")
    assert [a["actor"] for a in audit] == [f"enrollment-token:{token['token_id']}"]


def test_used_up_expired_foreign_and_revoked_tokens_fall_back_to_the_claim_code(
    service: RunningTenant, clock: MovableClock
) -> None:
    once = new_token(service, uses=1)
    assert enroll_with(Kiosk(service.url("lib-a"), clock), once["token"]).status_code == 200
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expiring = new_token(service, expires=soon)
    foreign = new_token(service, "lib-b")
    revoked = new_token(service)
    service.admin("lib-a").call("DELETE", f"/enrollment-tokens/{revoked['token_id']}")
    clock.advance(2 * 3600)
    for token, reason in [
        (once["token"], "enrollment token used up"),
        (expiring["token"], "enrollment token expired"),
        (foreign["token"], "enrollment token of another library network"),
        (revoked["token"], "enrollment token revoked"),
        ("lib-a.not-a-real-secret", "unknown enrollment token"),
    ]:
        answer = enroll_with(Kiosk(service.url("lib-a"), clock), token)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["status"] == "pending" and body["claim_code"]
        assert body["enrollment_token_refused"] == reason


def test_site_settings_hold_per_site_over_the_network_and_refuse_an_unknown_zone(
    service: RunningTenant,
) -> None:
    admin = service.admin("lib-a")
    admin.call("PUT", "/settings/sites", json={"timezone": "Europe/Paris"})
    admin.call("PUT", "/settings/sites", json={"site": "Cayenne", "timezone": "America/Cayenne",
                                              "when_closed": "refuse"})  # fmt: skip
    views = {v["site"]: v for v in admin.call("GET", "/settings/sites")}
    assert views[None]["effective"] == {"timezone": "Europe/Paris", "when_closed": "allow"}
    assert views["Cayenne"]["effective"] == {"timezone": "America/Cayenne",
                                             "when_closed": "refuse"}  # fmt: skip
    bad = requests.put(
        f"{service.service_url}/t/lib-a/v1/admin/settings/sites",
        json={"timezone": "Europe/Atlantis"},
        headers={"Authorization": f"Bearer {service.admin_token('lib-a')}"},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 422 and "timezone" in bad.text


def test_a_retired_playlist_and_track_leave_the_kiosks_documents(
    service: RunningTenant, clock: MovableClock, flac_tracks: list[dict[str, object]]
) -> None:
    first, second = (str(t["id"]) for t in flac_tracks[:2])
    service.create_playlist("lib-a", "morning", "Morning", [first, second], sites=["Nord"])
    service.create_playlist("lib-a", "evening", "Evening", [second], sites=["Nord"])
    kiosk = Kiosk(service.url("lib-a"), clock)
    service.claim("lib-a", kiosk.claim_code(), "Nord")
    kiosk.login()
    before = kiosk.playlists().json()
    admin = service.admin("lib-a")
    admin.call("POST", f"/tracks/{first}/retire")
    admin.call("POST", "/playlists/evening/retire")
    after = kiosk.playlists().json()
    assert [p["id"] for p in after["playlists"]] == ["morning"]
    morning = after["playlists"][0]
    assert [t["id"] for t in morning["tracks"]] == [second]
    assert morning["revision"] != before["playlists"][0]["revision"]
    sha = next(t["sha256"] for t in before["playlists"][0]["tracks"] if t["id"] == first)
    assert kiosk.get(f"/v1/media/{sha}").status_code == 404
    kept = next(t["sha256"] for t in before["playlists"][0]["tracks"] if t["id"] == second)
    # The kiosks delete these unless a live playlist still needs them (morning needs `kept`).
    assert sorted(after["retired"]) == sorted([sha, kept])
    actions = [a["action"] for a in admin.audit()]
    assert "track.retire" in actions and "playlist.retire" in actions


def test_tenant_init_sets_the_networks_time_zone_and_names_an_unknown_one(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "tenant"
    init = ["tenant", "init", "--data", str(data), "--database-url", database_url,
            "--slug", "lib-z", "--name", "Z"]  # fmt: skip
    assert jukebox(*init, "--timezone", "Europe/Paris") == 0
    store = TenantStore(database_url)
    try:
        assert store.site_settings("lib-z")[""].timezone == "Europe/Paris"
    finally:
        store.close()
    assert jukebox(*init, "--timezone", "Europe/Atlantis") == 1
    assert "timezone: 'Europe/Atlantis' is not an IANA time zone" in capsys.readouterr().err


def jukebox(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    code: int = args.handler(args)
    return code
