"""Staff accounts over HTTP: login refusals and rate limits, disabled accounts, tokens,
curators' sites, the audit log, and the previous release's shared token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tenant.credentials import hash_secret, new_admin_token
from tenant.roles import Role
from tenant.setup import setup_tenant
from tenant.store import Tenant, TenantStore
from tests.support.tenant import RunningTenant, running_tenant
from tests.tenant.conftest import MovableClock, claimed
from tests.tenant.staff_support import PASSWORD, add_user, call, login, token_of

Tracks = list[dict[str, Any]]


def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(
    service: RunningTenant,
) -> None:
    add_user(service, "carla", Role.CURATOR)

    wrong = login(service, "carla", "not her password")
    unknown = login(service, "nobody", PASSWORD)

    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "invalid_grant",
            "error_description": "wrong username or password",
        }
    )
    assert login(service, "carla").status_code == 201


def test_failed_logins_are_limited_per_account_then_per_address(
    service: RunningTenant, clock: MovableClock
) -> None:
    add_user(service, "carla", Role.CURATOR)
    add_user(service, "theo", Role.TECHNICIAN)
    for _ in range(5):
        assert login(service, "carla", "guess").status_code == 401

    limited = login(service, "carla")  # the right password, too late
    other = login(service, "theo")

    assert limited.status_code == 429 and limited.json()["error"] == "too_many_attempts"
    assert int(limited.headers["Retry-After"]) > 0
    assert other.status_code == 201  # another account from the same address
    for n in range(15):  # 20 failures from this address in all
        assert login(service, f"guess-{n}", "guess").status_code == 401
    assert login(service, "theo").status_code == 429
    clock.advance(901)
    assert login(service, "carla").status_code == 201


def test_a_disabled_accounts_tokens_stop_at_once_and_it_cannot_log_in(
    service: RunningTenant,
) -> None:
    add_user(service, "theo", Role.TECHNICIAN)
    token = token_of(service, "theo")
    assert call(service, "GET", "/v1/admin/me", token).json()["username"] == "theo"

    admin = service.admin_token("lib-a")
    call(service, "PATCH", "/v1/admin/users/theo", admin, json={"disabled": True})

    assert call(service, "GET", "/v1/admin/me", token).status_code == 401
    assert login(service, "theo").status_code == 401
    call(service, "PATCH", "/v1/admin/users/theo", admin, json={"disabled": False})
    assert call(service, "GET", "/v1/admin/me", token).status_code == 200


def test_staff_list_and_revoke_only_their_own_tokens(service: RunningTenant) -> None:
    add_user(service, "carla", Role.CURATOR)
    add_user(service, "rita", Role.REPORTS)
    carla, rita = token_of(service, "carla"), token_of(service, "rita")
    made = call(service, "POST", "/v1/admin/tokens", carla, json={"name": "backup script"})
    assert made.status_code == 201
    script = made.json()

    listed = call(service, "GET", "/v1/admin/tokens", carla).json()
    by_rita = call(service, "DELETE", f"/v1/admin/tokens/{script['token_id']}", rita)
    everyone = call(service, "GET", "/v1/admin/tokens", service.admin_token("lib-a")).json()

    assert {t["username"] for t in listed} == {"carla"}
    assert "backup script" in {t["name"] for t in listed}
    assert by_rita.status_code == 404
    assert {"carla", "rita", "admin"} <= {t["username"] for t in everyone}
    assert call(service, "GET", "/v1/admin/me", script["token"]).status_code == 200
    assert call(service, "DELETE", f"/v1/admin/tokens/{script['token_id']}", carla).ok
    assert call(service, "GET", "/v1/admin/me", script["token"]).status_code == 401


def test_a_curator_assigns_and_pushes_only_to_their_sites(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    add_user(service, "carla", Role.CURATOR, ("centre",))
    carla = token_of(service, "carla")
    annexe_kiosk = claimed(service, clock, "annexe")
    body = {"id": "p1", "title": "P1", "tracks": [flac_tracks[0]["id"]]}
    assert call(service, "POST", "/v1/admin/playlists", carla, json=body).status_code == 201

    own = call(service, "POST", "/v1/admin/playlists/p1/assign", carla, json={"sites": ["centre"]})
    other = call(
        service, "POST", "/v1/admin/playlists/p1/assign", carla,
        json={"sites": ["centre", "annexe"]},
    )  # fmt: skip
    kiosk = call(
        service, "POST", "/v1/admin/playlists/p1/assign", carla,
        json={"sites": ["centre"], "devices": [annexe_kiosk.device_id]},
    )  # fmt: skip
    push = call(service, "POST", "/v1/admin/push", carla, json={"sites": ["annexe"]})

    assert own.status_code == 200 and own.json()["sites"] == ["centre"]
    assert other.status_code == 403 and "annexe" in other.json()["error_description"]
    assert kiosk.status_code == 403
    assert push.status_code == 403
    assert service.admin("lib-a").playlist("p1")["sites"] == ["centre"]


def test_changes_leave_audit_rows_naming_who_did_what(
    service: RunningTenant, clock: MovableClock, flac_tracks: Tracks
) -> None:
    add_user(service, "carla", Role.CURATOR, ("centre",))
    add_user(service, "theo", Role.TECHNICIAN)
    carla, theo = token_of(service, "carla"), token_of(service, "theo")
    admin = service.admin_token("lib-a")
    body = {"id": "p1", "title": "P1", "tracks": [flac_tracks[0]["id"]]}
    call(service, "POST", "/v1/admin/playlists", carla, json=body)
    call(service, "POST", "/v1/admin/playlists", carla, json={**body, "title": "Renamed"})
    call(service, "POST", "/v1/admin/playlists/p1/assign", carla, json={"sites": ["centre"]})
    kiosk = claimed(service, clock, "centre")  # by the admin token of the test support
    call(service, "PATCH", f"/v1/admin/devices/{kiosk.device_id}", theo, json={"name": "Hall"})
    call(service, "POST", f"/v1/admin/devices/{kiosk.device_id}/revoke", theo)
    call(service, "PUT", "/v1/admin/rules", admin, json={"counted_stream_s": 45})

    rows = call(service, "GET", "/v1/admin/audit", admin).json()
    playlist = call(service, "GET", "/v1/admin/audit?object=playlist:p1", admin).json()
    by_theo = call(service, "GET", "/v1/admin/audit?user=theo&object=device", admin).json()

    actions = [(r["actor"], r["action"], r["object_id"]) for r in rows]
    assert ("carla", "playlist.create", "p1") in actions
    assert ("admin", "device.claim", kiosk.device_id) in actions
    assert ("admin", "rules.update", "lib-a") in actions
    assert ("admin", "user.add", "carla") in actions
    assert [r["action"] for r in playlist] == [
        "playlist.create",
        "playlist.edit",
        "playlist.assign",
    ]
    assert playlist[1]["before"]["title"] == "P1" and playlist[1]["after"]["title"] == "Renamed"
    assert [r["action"] for r in by_theo] == ["device.update", "device.revoke"]
    assert by_theo[0]["before"]["name"] is None and by_theo[0]["after"] == {"name": "Hall"}
    assert call(service, "GET", "/v1/admin/audit", carla).status_code == 403


def _old_release_data(data: Path, database_url: str) -> str:
    """A data directory as the previous release left it: a tenant and its shared token."""
    data.mkdir(exist_ok=True)
    old_token = new_admin_token()
    store = TenantStore(database_url)
    store.put_tenant(Tenant("lib-a", "Old", "127.0.0.1", 8883, True, 0), hash_secret(old_token))
    store.close()
    return old_token


def test_the_service_turns_the_shared_token_into_a_network_admins_at_start(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "tenant"
    old_token = _old_release_data(data, database_url)
    (data / "admin-lib-a.json").write_text(
        f'{{"url": "http://127.0.0.1:1", "tenant": "lib-a", "token": "{old_token}"}}'
    )

    with running_tenant(data, ("lib-a",), database_url=database_url) as service:
        me = call(service, "GET", "/v1/admin/me", old_token).json()
        audit = call(service, "GET", "/v1/admin/audit?object=token", old_token).json()

    assert me["username"] == "admin" and me["role"] == "network-admin"
    assert [row["action"] for row in audit] == ["token.migrate"]


def test_init_gives_the_migrated_admin_a_password(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "tenant"
    old_token = _old_release_data(data, database_url)

    created = setup_tenant(
        data, "lib-a", "Old", admin_password="first admin password", database_url=database_url
    )

    assert created.username == "admin" and created.password is None  # the one given
    with running_tenant(data, ("lib-a",), database_url=database_url) as service:
        me = call(service, "GET", "/v1/admin/me", old_token).json()
        tokens = call(service, "GET", "/v1/admin/tokens", old_token).json()
        assert login(service, "admin", "first admin password").status_code == 201
    assert me["username"] == "admin" and me["role"] == "network-admin"
    assert "shared token (migrated)" in {t["name"] for t in tokens}
