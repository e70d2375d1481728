"""Staff roles and the route table: which role may call which route, in this one place.

`ROUTES` maps every staff route ("METHOD /path" under `/t/{tenant}/v1`) to the roles that may
call it besides the network administrator, who may call everything. `PUBLIC` and `DEVICE`
routes need no staff token. `tenant/service.py` refuses to start when a route is in none of
them, and tests/tenant/test_authorization.py calls every route with every role.
A curator's sites are checked by the service functions (`tenant/scope.py`), since they
depend on the request body.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    NETWORK_ADMIN = "network-admin"  # everything, including accounts and rules
    CURATOR = "curator"  # tracks, playlists, and the sites they are given
    TECHNICIAN = "technician"  # claim, rename, move, revoke kiosks, commands, status
    REPORTS = "reports"  # play reports, rules and payout statements, read only


ROLE_HELP = {
    Role.NETWORK_ADMIN: "everything in the tenant, including accounts and rules",
    Role.CURATOR: "tracks and playlists (edit, retire), and the sites they are given "
    "(assignments, push)",
    Role.TECHNICIAN: "claim, rename, move and revoke kiosks, commands, status, enrollment "
    "tokens; reads alerts and firmware",
    Role.REPORTS: "play reports, rules and payout statements, read only",
}

C, T, R = Role.CURATOR, Role.TECHNICIAN, Role.REPORTS
ANY_STAFF = frozenset(Role)

ROUTES: dict[str, frozenset[Role]] = {
    # content
    "HEAD /admin/media/{sha256}": frozenset({C}),
    "PUT /admin/media/{sha256}": frozenset({C}),
    "GET /admin/media/{sha256}": frozenset({C, T}),
    "POST /admin/tracks": frozenset({C}),
    "GET /admin/tracks": frozenset({C, T, R}),
    "PATCH /admin/tracks/{track_id}": frozenset({C}),  # title, artist, album, ISRC
    "POST /admin/playlists": frozenset({C}),
    "GET /admin/playlists": frozenset({C, T}),
    "GET /admin/playlists/{playlist_id}": frozenset({C, T}),
    "POST /admin/playlists/{playlist_id}/assign": frozenset({C}),  # the curator's sites
    "POST /admin/packs": frozenset({C, T}),
    # kiosks
    "POST /admin/claims": frozenset({T}),
    "GET /admin/devices": frozenset({C, T}),
    "PATCH /admin/devices/{device_id}": frozenset({T}),
    "POST /admin/devices/{device_id}/revoke": frozenset({T}),
    "POST /admin/push": frozenset({C}),  # the curator's sites
    "GET /admin/status": frozenset({C, T}),
    "POST /admin/devices/{device_id}/commands": frozenset({T}),
    "GET /admin/devices/{device_id}/commands/{request_id}": frozenset({T}),
    # reports and rules
    "GET /admin/plays": frozenset({C, R}),
    # field readiness (tenant/api/field.py)
    "GET /admin/settings/sites": frozenset({C, T}),
    "PUT /admin/settings/sites": frozenset(),
    "POST /admin/enrollment-tokens": frozenset({T}),
    "GET /admin/enrollment-tokens": frozenset({T}),
    "DELETE /admin/enrollment-tokens/{token_id}": frozenset({T}),
    "POST /admin/tracks/{track_id}/retire": frozenset({C}),
    "POST /admin/playlists/{playlist_id}/retire": frozenset({C}),
    "GET /admin/alerts": frozenset({C, T}),
    "GET /admin/alerts/settings": frozenset({T}),
    "PUT /admin/alerts/settings": frozenset(),
    "POST /admin/alerts/check": frozenset({T}),
    "GET /admin/rules": frozenset({R}),
    "PUT /admin/rules": frozenset(),
    # payouts (tenant/api/payouts.py): the network administrator edits and closes
    "GET /admin/payouts/signing-key": frozenset({R}),
    "GET /admin/payouts/holders": frozenset({R}),  # payment details: network admin only
    "POST /admin/payouts/holders": frozenset(),
    "PATCH /admin/payouts/holders/{holder_id}": frozenset(),
    "GET /admin/payouts/shares": frozenset({R}),
    "PUT /admin/payouts/shares/{track_id}": frozenset(),
    "GET /admin/payouts/subscriptions/{period}": frozenset({R}),
    "PUT /admin/payouts/subscriptions/{period}/{library}": frozenset(),
    "GET /admin/payouts/rules/{period}": frozenset({R}),
    "PUT /admin/payouts/rules/{period}": frozenset(),
    "GET /admin/payouts/periods": frozenset({R}),
    "GET /admin/payouts/periods/{period}": frozenset({R}),
    "GET /admin/payouts/periods/{period}/preview": frozenset({R}),
    "POST /admin/payouts/periods/{period}/close": frozenset(),
    # accounts, tokens, audit
    "GET /admin/me": ANY_STAFF,
    "GET /admin/tokens": ANY_STAFF,  # one's own (all of them for a network administrator)
    "POST /admin/tokens": ANY_STAFF,
    "DELETE /admin/tokens/{token_id}": ANY_STAFF,
    "GET /admin/users": frozenset(),
    "POST /admin/users": frozenset(),
    "PATCH /admin/users/{username}": frozenset(),
    "GET /admin/audit": frozenset(),
    # firmware over the air (tenant/api/firmware.py): the network administrator uploads and
    # rolls out; a technician may read
    "GET /admin/firmware/settings": frozenset({T}),
    "PUT /admin/firmware/settings": frozenset(),
    "GET /admin/firmware/releases": frozenset({T}),
    "POST /admin/firmware/releases": frozenset(),
    "POST /admin/firmware/rollouts": frozenset(),
    "GET /admin/firmware/status": frozenset({T}),
    # the web console (tenant/web), under /t/{tenant}/console: the same roles as the API
    "GET /console/": ANY_STAFF,
    "POST /console/signout": ANY_STAFF,
    "GET /console/profile": ANY_STAFF,  # one's own language, kept on the account
    "POST /console/profile": ANY_STAFF,
    "GET /console/kiosks": frozenset({C, T}),
    "GET /console/kiosks/board": frozenset({C, T}),  # the board's live rows
    "POST /console/kiosks/claim": frozenset({T}),
    "POST /console/kiosks/{device_id}": frozenset({T}),  # rename, move
    "POST /console/kiosks/{device_id}/revoke": frozenset({T}),
    "POST /console/kiosks/{device_id}/commands": frozenset({T}),
    "GET /console/kiosks/{device_id}/commands/{request_id}": frozenset({T}),
    "GET /console/tracks": frozenset({C, T, R}),
    "POST /console/tracks/upload": frozenset({C}),
    "POST /console/tracks/{track_id}/retire": frozenset({C}),
    "POST /console/tracks/{track_id}": frozenset({C}),  # edit; rights holder: admin only
    "GET /console/tracks/{track_id}/shares": frozenset(),  # as PUT /admin/payouts/shares/{id}
    "POST /console/tracks/{track_id}/shares": frozenset(),
    "GET /console/playlists": frozenset({C, T}),
    "GET /console/playlists/{playlist_id}": frozenset({C, T}),
    "GET /console/playlists/{playlist_id}/preview.png": frozenset({C, T}),  # the note on screen
    "POST /console/playlists": frozenset({C}),
    "GET /console/sites": frozenset({C}),
    "GET /console/sites/{site}": frozenset({C}),
    "POST /console/sites/{site}/push": frozenset({C}),  # the curator's sites
    "POST /console/sites/{site}/settings": frozenset(),  # as PUT /admin/settings/sites
    "GET /console/reports": frozenset({C, R}),
    "GET /console/reports.csv": frozenset({C, R}),
    # payout statements under Reports: money, as GET /admin/payouts/periods/* (not curators)
    "GET /console/reports/payouts": frozenset({R}),
    "GET /console/reports/payouts/{period}": frozenset({R}),
    "GET /console/reports/payouts/{period}/holder.csv": frozenset({R}),
    "GET /console/reports/payouts/{period}/holder.pdf": frozenset({R}),
    "GET /console/reports/payouts/{period}/library.csv": frozenset({R}),
    "GET /console/audit": frozenset(),
}

PUBLIC = frozenset(
    {"POST /enroll", "POST /token", "POST /login", "GET /healthz"}
    | {"GET /console/signin", "POST /console/signin"}
)
DEVICE = frozenset(
    {"GET /device/playlists", "GET /media/{sha256}", "HEAD /media/{sha256}"}
    | {"GET /firmware/{sha256}", "HEAD /firmware/{sha256}"}
)

TENANT_PREFIX = "/t/{tenant}/v1"
CONSOLE_PREFIX = "/t/{tenant}/console"


def route_key(method: str, path: str) -> str:
    """ "GET /admin/tracks" for GET /t/{tenant}/v1/admin/tracks, "GET /console/kiosks" for
    GET /t/{tenant}/console/kiosks."""
    if path.startswith(CONSOLE_PREFIX):
        return f"{method} {path.removeprefix('/t/{tenant}')}"
    return f"{method} {path.removeprefix(TENANT_PREFIX)}"


def allowed(key: str, role: Role) -> bool:
    return role is Role.NETWORK_ADMIN or role in ROUTES[key]
