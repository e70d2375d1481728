"""Every route of the running service x every role, no token, an expired, a revoked and
another tenant's token: exactly the answer the route table (tenant/roles.py) gives.

The routes come from the service's own OpenAPI document, so a route added without a line in
the route table fails here (the service also refuses to start with one).
"""

from __future__ import annotations

import re

import pytest
import requests

from tenant.roles import DEVICE, PUBLIC, ROUTES, Role, allowed, route_key
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock
from tests.tenant.staff_support import add_user, call, token_of

SHA = "0" * 64
PATH_VALUES = {"tenant": "lib-a", "sha256": SHA}


def _routes(service: RunningTenant) -> list[tuple[str, str, str]]:
    """(method, concrete path, route table key) of every route the service documents."""
    document = requests.get(f"{service.service_url}/openapi.json", timeout=10).json()
    found = []
    for path, operations in document["paths"].items():
        for method in operations:
            key = route_key(method.upper(), path)
            concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "nothing"), path)
            found.append((method.upper(), concrete, key))
    return found


@pytest.fixture
def identities(service: RunningTenant, clock: MovableClock) -> dict[str, str | None]:
    """A token per role, and the tokens no route may accept."""
    add_user(service, "carla", Role.CURATOR, ("centre",))
    add_user(service, "theo", Role.TECHNICIAN)
    add_user(service, "rita", Role.REPORTS)
    admin = service.admin_token("lib-a")
    revoked = token_of(service, "theo")
    me = call(service, "GET", "/v1/admin/me", revoked).json()
    assert call(service, "DELETE", f"/v1/admin/tokens/{me['token_id']}", revoked).ok
    short = call(
        service, "POST", "/v1/admin/tokens", admin, json={"name": "short", "expires_in_days": 1}
    ).json()["token"]
    clock.advance(2 * 86400)  # `short` has expired; the logins below are fresh
    add_user(service, "dora", Role.CURATOR)
    disabled = token_of(service, "dora")
    answer = call(service, "PATCH", "/v1/admin/users/dora", admin, json={"disabled": True})
    assert answer.status_code == 200
    return {
        Role.NETWORK_ADMIN: admin,
        Role.CURATOR: token_of(service, "carla"),
        Role.TECHNICIAN: token_of(service, "theo"),
        Role.REPORTS: token_of(service, "rita"),
        "no token": None,
        "expired": short,
        "revoked": revoked,
        "disabled account": disabled,
        "another tenant's": service.admin_token("lib-b"),
    }


def test_every_route_answers_what_the_route_table_says_for_every_caller(
    service: RunningTenant, identities: dict[str, str | None]
) -> None:
    routes = _routes(service)
    assert len(routes) >= len(ROUTES) + len(DEVICE)
    wrong = []
    for method, path, key in routes:
        if key in PUBLIC:
            continue
        assert key in ROUTES or key in DEVICE, f"{key}: no role declared in tenant/roles.py"
        for who, token in identities.items():
            body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
            status_code = call(
                service, method, path.removeprefix("/t/lib-a"), token, json=body
            ).status_code
            if key in DEVICE or not isinstance(who, Role):
                expected = "401"
                ok = status_code == 401
            elif allowed(key, who):
                expected = "neither 401 nor 403, and below 500"
                ok = status_code not in (401, 403) and status_code < 500
            else:
                expected = "403"
                ok = status_code == 403
            if not ok:
                wrong.append(f"{key} as {who}: {status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_a_route_table_entry_names_only_routes_that_exist(service: RunningTenant) -> None:
    keys = {key for _method, _path, key in _routes(service)}
    assert set(ROUTES) | DEVICE | (PUBLIC - {"GET /healthz"}) <= keys


def test_no_route_changes_or_deletes_audit_rows(service: RunningTenant) -> None:
    audit_routes = {key for _method, _path, key in _routes(service) if "/audit" in key}
    assert audit_routes == {"GET /admin/audit", "GET /console/audit"}  # reading only
