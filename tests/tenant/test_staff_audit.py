"""The audit trail and the account commands the other staff tests leave out: `tenant user
reset-password`, `admin logout`, `admin audit --since`, the rows of commands and disabled
accounts, every mutating route of the route table, the audit actions the docs name; and the
hardening of accounts: the last network administrator, password-less accounts at login, the
login limiter's memory.

Against the real tenant over HTTP on SQLite and PostgreSQL, the CLI through its parser and
handlers in this process, and a real mosquitto where commands and pushes need one. Over 600
lines: the route table's calls (one per mutating route) make up a third of it."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from demo.tracks import TrackSpec, synthesise_track
from jukebox.cli import build_parser
from tenant import accounts
from tenant.accounts import LoginLimiter
from tenant.context import open_context
from tenant.roles import ROUTES, Role
from tenant.timefmt import rfc3339
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock
from tests.tenant.kiosk import Kiosk
from tests.tenant.staff_support import PASSWORD, add_user, call, login, token_of
from tests.tenant.test_admin_fleet import SLUG, Fleet, fleet  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
NEW_PASSWORD = "a brand new passphrase"
Json = dict[str, Any]


def jukebox(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`jukebox …` in this process, as `jukebox.cli.main` runs it (less its logging setup):
    (exit code, out, err)."""
    capsys.readouterr()
    args = build_parser().parse_args(list(argv))
    code: int = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tenant_user(
    service: RunningTenant, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    """`jukebox tenant user …` on the service's own data directory and database."""
    database = ["--database-url", service.database_url] if service.database_url else []
    return jukebox(
        capsys, "tenant", "user", "--data", str(service.data_dir), "--tenant", SLUG, *database,
        *argv,
    )  # fmt: skip


def audit(service: RunningTenant, query: str = "") -> list[Json]:
    answer = call(service, "GET", f"/v1/admin/audit{query}", service.admin_token(SLUG))
    assert answer.status_code == 200, answer.text
    rows: list[Json] = answer.json()
    return rows


@pytest.fixture
def no_stored_logins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty config directory, and no credentials file from the environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JUKEBOX_ADMIN_CREDENTIALS", raising=False)
    monkeypatch.delenv("JUKEBOX_TENANT_URL", raising=False)
    return tmp_path / "config" / "jukebox" / "admin-logins.json"


# ---------------------------------------------------------------------------------- commands


def test_reset_password_on_the_server_stops_the_old_password_and_every_token(
    service: RunningTenant, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(service, "carla", Role.CURATOR, ("centre",))
    laptop = token_of(service, "carla")
    script = call(service, "POST", "/v1/admin/tokens", laptop, json={"name": "nightly"}).json()
    monkeypatch.setenv("JUKEBOX_TENANT_USER_PASSWORD", NEW_PASSWORD)

    code, out, err = tenant_user(service, capsys, "reset-password", "carla")

    assert code == 0, err
    assert "carla: new password set" in out and "tokens are revoked" in out
    assert NEW_PASSWORD not in out  # given, so not shown
    assert login(service, "carla").status_code == 401
    assert call(service, "GET", "/v1/admin/me", laptop).status_code == 401
    assert call(service, "GET", "/v1/admin/me", script["token"]).status_code == 401
    fresh = login(service, "carla", NEW_PASSWORD)
    assert fresh.status_code == 201
    assert call(service, "GET", "/v1/admin/me", fresh.json()["token"]).status_code == 200
    [row] = [r for r in audit(service, "?object=user:carla") if r["action"].startswith("user.")][1:]
    assert row["action"] == "user.reset-password" and row["actor"].startswith("server:")
    assert row["after"]["tokens_revoked"] == 2
    assert "password" not in json.dumps(row["after"]).replace("has_password", "")


def test_logout_revokes_the_stored_token_at_the_tenant_and_forgets_it(
    service: RunningTenant, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    no_stored_logins: Path,
) -> None:  # fmt: skip
    add_user(service, "carla", Role.CURATOR, ("centre",))
    monkeypatch.setenv("JUKEBOX_ADMIN_PASSWORD", PASSWORD)
    tenant_url = service.url(SLUG)
    code, _, err = jukebox(capsys, "admin", "login", tenant_url, "--user", "carla")
    assert code == 0, err
    stored = json.loads(no_stored_logins.read_text())[tenant_url]
    assert call(service, "GET", "/v1/admin/me", stored["token"]).status_code == 200

    code, out, err = jukebox(capsys, "admin", "logout", tenant_url)

    assert code == 0 and err == ""
    assert f"logged out of {tenant_url}" in out
    assert tenant_url not in json.loads(no_stored_logins.read_text())
    assert call(service, "GET", "/v1/admin/me", stored["token"]).status_code == 401
    row = audit(service, f"?object=token:{stored['token_id']}")[-1]
    assert (row["action"], row["actor"]) == ("token.revoke", "carla")
    code, _, err = jukebox(capsys, "admin", "whoami")
    assert code == 2 and "log in first" in err


def test_audit_since_shows_only_the_changes_from_that_moment_on(
    service: RunningTenant, clock: MovableClock, capsys: pytest.CaptureFixture[str],
    no_stored_logins: Path,
) -> None:  # fmt: skip
    admin_token = service.admin_token(SLUG)
    assert call(service, "PUT", "/v1/admin/rules", admin_token, json={"counted_stream_s": 45}).ok
    clock.advance(2 * 86400)
    add_user(service, "theo", Role.TECHNICIAN)
    since = rfc3339(int((clock() - 86400) * 1000))
    assert since is not None
    credentials = str(service.credentials_path(SLUG))

    def actions(*argv: str) -> list[tuple[str, str]]:
        code, out, err = jukebox(capsys, "admin", "--credentials", credentials, "audit", *argv)
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        return [(row["action"], row["object_id"]) for row in rows]

    recent = actions("--since", since, "--json")
    day = actions("--since", since[:10], "--json")  # a date: from its midnight UTC
    everything = actions("--json")

    assert recent == [("user.add", "theo")]
    assert ("rules.update", SLUG) in everything and ("user.add", "theo") in everything
    assert set(recent) <= set(day) and len(everything) > len(day)
    code, _, err = jukebox(capsys, "admin", "--credentials", credentials, "audit", "--since", "x")
    assert code == 1 and "since: expected a date or time, not 'x'" in err


def test_a_technicians_command_to_a_kiosk_leaves_an_audit_row(fleet: Fleet) -> None:  # noqa: F811
    service = fleet.service
    kiosk = fleet.kiosk("centre")
    add_user(service, "theo", Role.TECHNICIAN)
    theo = token_of(service, "theo")

    sent = call(service, "POST", f"/v1/admin/devices/{kiosk.device_id}/commands", theo,
                json={"command": "identify", "seconds": 5})  # fmt: skip

    assert sent.status_code == 202, sent.text
    row = audit(service, f"?object=device:{kiosk.device_id}")[-1]
    assert (row["action"], row["actor"]) == ("device.command", "theo")
    assert row["after"] == {
        "command": "identify",
        "args": {"seconds": 5},
        "request_id": sent.json()["request_id"],
    }


def test_disabling_an_account_leaves_a_user_update_row(service: RunningTenant) -> None:
    add_user(service, "theo", Role.TECHNICIAN)

    answer = call(service, "PATCH", "/v1/admin/users/theo", service.admin_token(SLUG),
                  json={"disabled": True})  # fmt: skip

    assert answer.status_code == 200 and answer.json()["disabled"] is True
    row = audit(service, "?object=user:theo")[-1]
    assert (row["action"], row["actor"]) == ("user.update", "admin")
    assert (row["before"]["disabled"], row["after"]["disabled"]) == (False, True)


# ---------------------------------------------------------------------------------- hardening


def test_the_last_enabled_network_admin_can_be_neither_disabled_nor_demoted(
    service: RunningTenant, capsys: pytest.CaptureFixture[str]
) -> None:
    admin_token = service.admin_token(SLUG)

    def patch(username: str, body: Json) -> requests.Response:
        return call(service, "PATCH", f"/v1/admin/users/{username}", admin_token, json=body)

    disabled = patch("admin", {"disabled": True})
    demoted = patch("admin", {"role": "curator", "sites": ["centre"]})
    code, _, err = tenant_user(service, capsys, "disable", "admin")

    for refused in (disabled, demoted):
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "last_admin"
        assert "last enabled network administrator of tenant 'lib-a'" in refused.text
    assert "cannot make 'admin' a curator" in demoted.json()["error_description"]
    assert code == 1
    assert "jukebox tenant user disable: cannot disable 'admin': it is the last enabled" in err
    assert call(service, "GET", "/v1/admin/me", admin_token).status_code == 200
    assert not [r for r in audit(service, "?object=user:admin") if r["action"] == "user.update"]

    add_user(service, "nadia", Role.NETWORK_ADMIN)
    assert patch("nadia", {"disabled": True}).status_code == 200
    assert patch("admin", {"disabled": True}).status_code == 409  # nadia is disabled
    assert patch("nadia", {"disabled": False}).status_code == 200
    assert patch("admin", {"role": "reports"}).status_code == 200  # nadia is one
    code, _, err = tenant_user(service, capsys, "disable", "nadia")
    assert code == 1 and "last enabled network administrator" in err


def test_an_account_without_a_password_is_refused_as_a_wrong_password_and_as_slowly(
    service: RunningTenant,
) -> None:
    """The migrated shared token's account has no password: its refusal still verifies an
    Argon2 hash, or its quicker answer would tell who has such an account."""
    ctx = open_context(service.data_dir, service.database_url)
    try:
        accounts.add_user(ctx, SLUG, "server:test", "migrated", Role.REPORTS, [], None)
    finally:
        ctx.store.close()
    add_user(service, "carla", Role.CURATOR)

    def refusal(username: str, password: str) -> tuple[float, requests.Response]:
        start = time.perf_counter()
        answer = login(service, username, password)
        return time.perf_counter() - start, answer

    tries = [
        (refusal("migrated", PASSWORD), refusal("carla", "not her password")) for _ in range(3)
    ]

    for (_, no_password), (_, wrong) in tries:
        assert no_password.status_code == wrong.status_code == 401
        refused = {"error": "invalid_grant", "error_description": accounts.REFUSED}
        assert no_password.json() == wrong.json() == refused
    fastest_no_password = min(seconds for (seconds, _), _ in tries)
    fastest_wrong = min(seconds for _, (seconds, _) in tries)
    # Without the dummy verification the ratio was about 0.03 (5 ms against 190 ms); a fifth
    # leaves room for a loaded machine without letting that through.
    assert fastest_no_password > 0.2 * fastest_wrong, (fastest_no_password, fastest_wrong)


def test_the_login_limiter_keeps_only_keys_with_failures_inside_the_window() -> None:
    limiter = LoginLimiter(window_ms=1000, per_account=2, per_address=3)

    assert limiter.blocked_for_ms({"user:a": 2, "addr:x": 3}, 0) == 0
    assert len(limiter) == 0  # asking keeps nothing (every login asks)
    limiter.failed(["user:a", "addr:x"], 0)
    limiter.failed(["user:a", "addr:x"], 10)
    assert limiter.blocked_for_ms({"user:a": 2, "addr:x": 3}, 20) == 980
    assert limiter.blocked_for_ms({"user:a": 2}, 1000) == 0  # the first failure left
    assert limiter.blocked_for_ms({"user:a": 2}, 1010) == 0
    assert len(limiter) == 1  # user:a had none left; addr:x was not asked about
    limiter.failed(["user:b"], 1500)  # a sweep: addr:x's failures are over
    assert len(limiter) == 1

    most = 0
    for n in range(5000):  # one failure from each of 5,000 addresses, 10 ms apart
        limiter.failed([f"addr:{n}"], 2000 + n * 10)
        most = max(most, len(limiter))
    assert most <= 2 * 1000 // 10 + 1  # at most two windows' worth, never all 5,000


# ---------------------------------------------------------------------------------- every route

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


class Scene:
    """A network administrator calling every mutating route once, on a tenant with a broker,
    kiosks at `centre`, tracks and rights holders. `route` sends the call under test and
    notes the newest audit row just before it; the rest prepares what the call needs."""

    def __init__(self, kiosks: Fleet, tracks: list[Json], folder: Path) -> None:
        self.fleet = kiosks
        self.service = kiosks.service
        self.token = self.service.admin_token(SLUG)
        self.tracks = [str(t["id"]) for t in tracks]
        self.folder = folder
        self.sent: tuple[str, str] = ("", "")
        self.before = 0
        self.centre_kiosk = kiosks.kiosk("centre").device_id
        self.api("POST", "/payouts/holders", json={"id": "brume", "name": "Duo Brume"})

    def newest_audit_id(self) -> int:
        rows = audit(self.service, "?limit=1")
        return int(rows[-1]["id"]) if rows else 0

    def route(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """The call under test, as the network administrator; `path` under /t/lib-a, e.g.
        /v1/admin/tracks or /console/kiosks/claim."""
        self.before = self.newest_audit_id()
        self.sent = (method, path)
        return requests.request(
            method, f"{self.service.url(SLUG)}{path}", timeout=30, allow_redirects=False,
            headers={"Authorization": f"Bearer {self.token}", **(headers or {})}, **kwargs,
        )  # fmt: skip

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.route(method, f"/v1/admin{path}", **kwargs)

    def console(self, path: str, form: dict[str, Any] | None = None) -> requests.Response:
        return self.route("POST", f"/console{path}", data=form or {})

    def api(self, method: str, path: str, **kwargs: Any) -> Json:
        """A preparing call under /v1/admin, which must succeed."""
        answer = call(self.service, method, f"/v1/admin{path}", self.token, **kwargs)
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text}"
        found: Json = answer.json()
        return found

    def code(self) -> str:
        """The claim code of a new kiosk that enrolled just now."""
        return Kiosk(self.service.url(SLUG), self.fleet.clock).claim_code()

    def kiosk(self) -> str:
        return self.fleet.kiosk("centre").device_id

    def playlist(self, playlist_id: str) -> str:
        self.api("POST", "/playlists", json={"id": playlist_id, "title": playlist_id,
                                             "tracks": self.tracks[:1]})  # fmt: skip
        return playlist_id

    def media(self) -> tuple[str, bytes]:
        content = os.urandom(2048)
        return hashlib.sha256(content).hexdigest(), content

    def new_track(self) -> str:
        sha256, content = self.media()
        self.api("PUT", f"/media/{sha256}", data=content)
        return str(self.api("POST", "/tracks", json={"sha256": sha256, "title": "Spare",
                                                     "artist": "Nobody"})["id"])  # fmt: skip

    def flac(self) -> bytes:
        spec = TrackSpec("Audited", "Console", 1.0, "FRZ032600177", frequency_hz=770)
        return synthesise_track(self.folder / "audited.flac", spec).read_bytes()

    def signout(self) -> requests.Response:
        """A console session's signout (a bearer token has no session to end)."""
        add_user(self.service, "nadia", Role.NETWORK_ADMIN)
        session = ConsoleSession(self.service, SLUG)
        assert session.sign_in("nadia", PASSWORD).status_code == 303
        self.before = self.newest_audit_id()
        self.sent = ("POST", "/console/signout")
        return session.post("signout", allow_redirects=False)


def _token_to_revoke(s: Scene) -> requests.Response:
    made = s.api("POST", "/tokens", json={"name": "to revoke"})
    return s.admin("DELETE", f"/tokens/{made['token_id']}")


def _enrollment_token_to_revoke(s: Scene) -> requests.Response:
    made = s.api("POST", "/enrollment-tokens", json={"site": "centre"})
    return s.admin("DELETE", f"/enrollment-tokens/{made['token_id']}")


def _media(s: Scene) -> requests.Response:
    sha256, content = s.media()
    return s.admin("PUT", f"/media/{sha256}", data=content)


def _track(s: Scene) -> requests.Response:
    sha256, content = s.media()
    s.api("PUT", f"/media/{sha256}", data=content)
    return s.admin("POST", "/tracks", json={"sha256": sha256, "title": "T", "artist": "A"})


def _console_upload(s: Scene) -> requests.Response:
    flac = s.flac()
    headers = {"X-File-Name": "audited.flac", "Accept": "application/json"}
    return s.route("POST", "/console/tracks/upload", data=flac, headers=headers)


# Every mutating route of tenant/roles.py: how a network administrator calls it successfully.
AUDITED: dict[str, Callable[[Scene], requests.Response]] = {
    "PUT /admin/media/{sha256}": _media,
    "POST /admin/tracks": _track,
    "PATCH /admin/tracks/{track_id}": lambda s: s.admin(
        "PATCH", f"/tracks/{s.tracks[0]}", json={"title": "Renamed"}
    ),
    "POST /admin/playlists": lambda s: s.admin(
        "POST", "/playlists", json={"id": "made", "title": "Made", "tracks": s.tracks[:1]}
    ),
    "POST /admin/playlists/{playlist_id}/assign": lambda s: s.admin(
        "POST", f"/playlists/{s.playlist('to-assign')}/assign", json={"sites": ["centre"]}
    ),
    "POST /admin/claims": lambda s: s.admin(
        "POST", "/claims", json={"code": s.code(), "site": "centre"}
    ),
    "PATCH /admin/devices/{device_id}": lambda s: s.admin(
        "PATCH", f"/devices/{s.kiosk()}", json={"name": "Hall"}
    ),
    "POST /admin/devices/{device_id}/revoke": lambda s: s.admin(
        "POST", f"/devices/{s.kiosk()}/revoke"
    ),
    "POST /admin/push": lambda s: s.admin("POST", "/push", json={"sites": ["centre"]}),
    "POST /admin/devices/{device_id}/commands": lambda s: s.admin(
        "POST", f"/devices/{s.centre_kiosk}/commands", json={"command": "resync"}
    ),
    "PUT /admin/rules": lambda s: s.admin("PUT", "/rules", json={"counted_stream_s": 40}),
    "PUT /admin/settings/sites": lambda s: s.admin(
        "PUT", "/settings/sites", json={"site": "centre", "timezone": "Europe/Paris"}
    ),
    "POST /admin/enrollment-tokens": lambda s: s.admin(
        "POST", "/enrollment-tokens", json={"site": "centre"}
    ),
    "DELETE /admin/enrollment-tokens/{token_id}": _enrollment_token_to_revoke,
    "POST /admin/tracks/{track_id}/retire": lambda s: s.admin(
        "POST", f"/tracks/{s.new_track()}/retire"
    ),
    "POST /admin/playlists/{playlist_id}/retire": lambda s: s.admin(
        "POST", f"/playlists/{s.playlist('to-retire')}/retire"
    ),
    "PUT /admin/alerts/settings": lambda s: s.admin(
        "PUT", "/alerts/settings", json={"offline_after_s": 600}
    ),
    "POST /admin/payouts/holders": lambda s: s.admin(
        "POST", "/payouts/holders", json={"id": "soleil", "name": "Soleil"}
    ),
    "PATCH /admin/payouts/holders/{holder_id}": lambda s: s.admin(
        "PATCH", "/payouts/holders/brume", json={"name": "Brume"}
    ),
    "PUT /admin/payouts/shares/{track_id}": lambda s: s.admin(
        "PUT",
        f"/payouts/shares/{s.tracks[1]}",
        json={"shares": [{"holder": "brume", "basis_points": 10_000}]},
    ),
    "PUT /admin/payouts/subscriptions/{period}/{library}": lambda s: s.admin(
        "PUT",
        "/payouts/subscriptions/2024-10/alcazar",
        json={"amount_minor": 10_000, "currency": "EUR", "sites": ["centre"]},
    ),
    "PUT /admin/payouts/rules/{period}": lambda s: s.admin(
        "PUT", "/payouts/rules/2024-10", json={"counted_stream_ms": 30_000}
    ),
    "POST /admin/payouts/periods/{period}/close": lambda s: s.admin(
        "POST", "/payouts/periods/2024-10/close"
    ),
    "POST /admin/tokens": lambda s: s.admin("POST", "/tokens", json={"name": "script"}),
    "DELETE /admin/tokens/{token_id}": _token_to_revoke,
    "POST /admin/users": lambda s: s.admin(
        "POST", "/users", json={"username": "rita", "role": "reports", "password": PASSWORD}
    ),
    "PATCH /admin/users/{username}": lambda s: s.admin(
        "PATCH", "/users/rita", json={"disabled": True}
    ),
    "PUT /admin/firmware/settings": lambda s: s.admin(
        "PUT", "/firmware/settings", json={"max_rollback_percent": 20}
    ),
    "POST /console/signout": lambda s: s.signout(),
    "POST /console/profile": lambda s: s.console("/profile", {"language": "fr"}),
    "POST /console/kiosks/claim": lambda s: s.console(
        "/kiosks/claim", {"code": s.code(), "site": "centre"}
    ),
    "POST /console/kiosks/{device_id}": lambda s: s.console(
        f"/kiosks/{s.kiosk()}", {"name": "Lobby"}
    ),
    "POST /console/kiosks/{device_id}/revoke": lambda s: s.console(f"/kiosks/{s.kiosk()}/revoke"),
    "POST /console/kiosks/{device_id}/commands": lambda s: s.console(
        f"/kiosks/{s.centre_kiosk}/commands", {"command": "identify"}
    ),
    "POST /console/tracks/upload": _console_upload,
    "POST /console/tracks/{track_id}/retire": lambda s: s.console(
        f"/tracks/{s.new_track()}/retire"
    ),
    "POST /console/tracks/{track_id}": lambda s: s.console(
        f"/tracks/{s.tracks[2]}", {"title": "Edited", "artist": "Someone", "album": "", "isrc": ""}
    ),
    "POST /console/tracks/{track_id}/shares": lambda s: s.console(
        f"/tracks/{s.tracks[2]}/shares", {"holder": ["brume"], "percent": ["100"]}
    ),
    "POST /console/playlists": lambda s: s.console(
        "/playlists", {"id": "console-made", "title": "Console", "note": "", "add": s.tracks[:1]}
    ),
    "POST /console/sites/{site}/push": lambda s: s.console(
        "/sites/centre/push", {"language": "fr"}
    ),
    "POST /console/sites/{site}/settings": lambda s: s.console(
        "/sites/centre/settings", {"timezone": "Europe/Brussels", "when_closed": ""}
    ),
}

# Mutating routes deliberately not called above, each with the reason.
LEFT_OUT: dict[str, str] = {
    "POST /admin/packs": "signs a content pack of stored playlists and answers it; it stores "
    "and changes nothing",
    "POST /admin/alerts/check": "compares kiosks' conditions with the last check and sends the "
    "difference to the webhook (the service's own bookkeeping, as its periodic check); no "
    "staff change",
    "POST /admin/firmware/releases": "needs a RAUC bundle signed for the network's keyring "
    "(built by tests/image_build); tests/tenant/test_firmware.py checks its firmware.upload row",
    "POST /admin/firmware/rollouts": "needs a release (above); tests/tenant/test_firmware.py "
    "checks its firmware.rollout and firmware.resume rows",
}


def test_every_mutating_route_is_either_called_below_or_left_out_with_a_reason() -> None:
    mutating = {key for key in ROUTES if key.split()[0] in MUTATING}

    unlisted = mutating - set(AUDITED) - set(LEFT_OUT)
    stale = (set(AUDITED) | set(LEFT_OUT)) - mutating

    assert not unlisted, (
        f"{sorted(unlisted)}: write an audit row when it changes something and add a call to "
        "AUDITED in tests/tenant/test_staff_audit.py, or list it in LEFT_OUT with the reason"
    )
    assert not stale, f"{sorted(stale)}: not a mutating route of tenant/roles.py"
    assert not set(AUDITED) & set(LEFT_OUT)


def _matches(key: str, method: str, path: str) -> bool:
    """Whether the call `method path` (under /t/lib-a) is the route `key`."""
    key_method, key_path = key.split(" ", 1)
    prefix = "" if key_path.startswith("/console") else "/v1"
    pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(prefix + key_path))
    return method == key_method and re.fullmatch(pattern, path) is not None


@pytest.fixture
def scene(
    fleet: Fleet,  # noqa: F811
    flac_tracks: list[Json],
    tmp_path: Path,
) -> Iterator[Scene]:
    yield Scene(fleet, flac_tracks, tmp_path)


def test_every_mutating_route_writes_an_audit_row_when_a_network_admin_calls_it(
    scene: Scene,
) -> None:
    wrong = []
    for key, send in AUDITED.items():
        answer = send(scene)
        if not _matches(key, *scene.sent):
            wrong.append(f"{key}: the test called {' '.join(scene.sent)}")
            continue
        if not 200 <= answer.status_code < 400:
            wrong.append(f"{key}: {answer.status_code} {answer.text[:300]}")
            continue
        rows = [r for r in audit(scene.service, "?limit=50") if r["id"] > scene.before]
        if not rows:
            wrong.append(f"{key}: {answer.status_code}, but no audit row")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------------- the docs


def _audit_writes() -> Iterator[tuple[str, ast.Call, ast.expr | None, ast.AST]]:
    """(file, call, its action argument, the function around it) of every audit row the
    tenant's code writes: `record_change(...)` (called, or handed to a runner such as
    run_in_threadpool), and `AuditEntry(...)` built for `append_audit` elsewhere."""
    for path in sorted((ROOT / "tenant").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative.startswith("tenant/store/"):
            continue  # AuditEntry there is the records read back
        tree = ast.parse(path.read_text(), relative)
        for scope in ast.walk(tree):
            if not isinstance(
                scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.Module
            ):
                continue
            for node in _own_nodes(scope):
                if not isinstance(node, ast.Call):
                    continue
                name = _name(node.func)
                if name == "AuditEntry":
                    if relative == "tenant/audit.py":
                        continue  # record_change's own row: its callers are read
                    yield relative, node, _argument(node, 3, "action"), scope
                    continue
                args = node.args
                if name != "record_change":
                    handed = [i for i, a in enumerate(args) if _name(a) == "record_change"]
                    if not handed:
                        continue
                    args = args[handed[0] + 1 :]
                action = args[3] if len(args) > 3 else _keyword(node, "action")
                yield relative, node, action, scope


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function (or module) outside the functions nested in it."""
    for child in ast.iter_child_nodes(scope):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield child
        yield from _own_nodes(child)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    return call.args[index] if len(call.args) > index else _keyword(call, keyword)


def _keyword(call: ast.Call, keyword: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _strings(node: ast.expr | None, scope: ast.AST, where: str) -> set[str]:
    """The action strings an argument can hold: a constant, either branch of `a if c else
    b`, or a local name assigned such values in the same function."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, scope, where) | _strings(node.orelse, scope, where)
    if isinstance(node, ast.Name):
        values = [
            n.value
            for n in _own_nodes(scope)
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
        ]
        if values:
            return set().union(*(_strings(v, scope, where) for v in values))
    raise AssertionError(
        f"{where}: cannot read the audit action of this call ({ast.dump(node) if node else None})"
        ": write it as a string (or `a if c else b`) so the docs test can check it"
    )


def written_audit_actions() -> set[str]:
    actions: set[str] = set()
    for relative, call_node, action, scope in _audit_writes():
        actions |= _strings(action, scope, f"{relative}:{call_node.lineno}")
    return actions


def test_every_audit_action_the_code_writes_is_named_in_the_docs() -> None:
    docs = (ROOT / "docs" / "tenant.md").read_text()
    section = docs[docs.index("### The audit log") :]
    section = section[: section.index("\n## ")]
    named = set(re.findall(r"`([a-z_]+\.[a-z-]+)`", section))

    written = written_audit_actions()

    # the scan finds each kind of writer: a plain call, a conditional action, a variable,
    # a call handed to run_in_threadpool, an AuditEntry built by hand
    assert {"user.add", "playlist.edit", "user.reset-password", "media.upload"} <= written
    assert "firmware.pause" in written
    missing = sorted(written - named)
    assert not missing, f"audit actions missing from docs/tenant.md's audit log: {missing}"
    assert not named - written, f"named in the docs but never written: {sorted(named - written)}"
