"""Staff accounts made through the real service over HTTP, for the authorization tests."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.tenant import RunningTenant

PASSWORD = "correct horse battery"


def call(
    service: RunningTenant, method: str, path: str, token: str | None = None, slug: str = "lib-a",
    **kwargs: Any,
) -> requests.Response:  # fmt: skip
    """`path` under the tenant's base URL, e.g. "/v1/admin/me"."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(
        method, f"{service.url(slug)}{path}", headers=headers, timeout=30, **kwargs
    )


def add_user(
    service: RunningTenant, username: str, role: str, sites: tuple[str, ...] = (),
    slug: str = "lib-a",
) -> None:  # fmt: skip
    body = {"username": username, "role": role, "sites": list(sites), "password": PASSWORD}
    answer = call(service, "POST", "/v1/admin/users", service.admin_token(slug), slug, json=body)
    assert answer.status_code == 201, answer.text


def login(
    service: RunningTenant, username: str, password: str = PASSWORD, slug: str = "lib-a",
    **extra: Any,
) -> requests.Response:  # fmt: skip
    body = {"username": username, "password": password, **extra}
    return call(service, "POST", "/v1/login", slug=slug, json=body)


def token_of(service: RunningTenant, username: str, slug: str = "lib-a") -> str:
    answer = login(service, username, slug=slug)
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token
