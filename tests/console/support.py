"""A signed-in browser session over plain HTTP (requests), for the console's HTTP tests."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.support.tenant import RunningTenant

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


class ConsoleSession:
    """One person's cookies against one tenant's console; `csrf` is read from the pages."""

    def __init__(self, service: RunningTenant, slug: str = "lib-a") -> None:
        self.base = f"{service.service_url}/t/{slug}/console/"
        self.http = requests.Session()
        self.http.headers["Accept"] = "text/html"
        self.csrf = ""

    def sign_in(self, username: str, password: str) -> requests.Response:
        answer = self.http.post(
            self.base + "signin", data={"username": username, "password": password},
            allow_redirects=False, timeout=30,
        )  # fmt: skip
        if answer.status_code == 303:
            self.get("")  # the first page holds the CSRF token
        return answer

    def get(self, page: str, **kwargs: Any) -> requests.Response:
        answer = self.http.get(self.base + page, timeout=30, **kwargs)
        found = CSRF.search(answer.text)
        if found:
            self.csrf = found[1]
        return answer

    def post(
        self, page: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> requests.Response:
        body = {"csrf": self.csrf, **(data or {})}
        return self.http.post(self.base + page, data=body, timeout=30, **kwargs)

    def upload(self, name: str, content: bytes) -> requests.Response:
        return self.http.post(
            self.base + "tracks/upload", data=content, timeout=60,
            headers={"X-CSRF-Token": self.csrf, "X-File-Name": name, "Accept": "application/json"},
        )  # fmt: skip
