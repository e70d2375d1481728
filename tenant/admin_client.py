"""An HTTP client for the tenant's admin API, used by `jukebox admin` and by the tests.

Credentials live in a JSON file written by `jukebox tenant init` (0600):
`{"url": "http://127.0.0.1:8470", "tenant": "lib-a", "token": "jkadm_…"}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from contract.tags import read_tags

log = logging.getLogger(__name__)

Json = dict[str, Any]
UNKNOWN_ARTIST = "Unknown artist"


class AdminError(Exception):
    """The service refused a request, or could not be reached; str() is a full sentence."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class ServiceUnreachable(AdminError):
    pass


@dataclass(frozen=True)
class Credentials:
    url: str  # the service, e.g. http://127.0.0.1:8470
    tenant: str
    token: str

    @property
    def tenant_url(self) -> str:
        return f"{self.url.rstrip('/')}/t/{self.tenant}"


def write_credentials(path: Path, credentials: Credentials) -> Path:
    """Write the admin credentials file with 0600 permissions (replacing any previous one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(
            {"url": credentials.url, "tenant": credentials.tenant, "token": credentials.token},
            f,
            indent=2,
        )
        f.write("\n")
    os.replace(temp, path)
    return path


def load_credentials(path: Path) -> Credentials:
    try:
        data = json.loads(Path(path).read_text())
        return Credentials(
            url=str(data["url"]), tenant=str(data["tenant"]), token=str(data["token"])
        )
    except OSError as exc:
        raise AdminError(f"cannot read the credentials {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise AdminError(f"{path} is not an admin credentials file (url, tenant, token)") from exc


@dataclass(frozen=True)
class Imported:
    path: Path
    track: Json
    uploaded: bool  # the bytes were sent (False: the tenant already had them)
    created: bool  # a new track (False: this file already had one)


class AdminClient:
    """One tenant's admin API over HTTP; every method raises AdminError with the reason."""

    def __init__(self, credentials: Credentials, timeout: float = 30.0) -> None:
        self.credentials = credentials
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {credentials.token}"
        # A kept-alive connection the server closed while idle fails the next request with a
        # reset; an idempotent request (GET, PUT, DELETE…) is then sent again, once, on a new
        # one. POSTs are never repeated: the service would do them twice.
        retry = Retry(total=1, connect=1, read=1, status=0, other=0, backoff_factor=0)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    @classmethod
    def from_file(cls, path: Path) -> AdminClient:
        return cls(load_credentials(path))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ media, tracks

    def has_media(self, sha256: str) -> bool:
        response = self._send("HEAD", f"/media/{sha256}")
        if response.status_code == 404:
            return False
        self._check(response)
        return True

    def upload_media(self, path: Path) -> tuple[str, bool]:
        """Upload a file unless the tenant has it; returns (sha256, uploaded)."""
        with open(path, "rb") as f:
            sha256 = hashlib.file_digest(f, "sha256").hexdigest()
            if self.has_media(sha256):
                return sha256, False
            f.seek(0)
            headers = {"Content-Type": "application/octet-stream"}
            self._json("PUT", f"/media/{sha256}", data=f, headers=headers, timeout=600)
        return sha256, True

    def create_track(self, fields: Json) -> tuple[Json, bool]:
        """Register a track; returns (track, created)."""
        response = self._send("POST", "/tracks", json=fields)
        return self._check(response), response.status_code == 201

    def import_file(self, path: Path) -> Imported:
        """Upload a file and register it as a track, with the tags the file carries."""
        tags = read_tags(path)
        if tags.problem and tags.duration_ms is None:
            raise AdminError(f"{path.name}: {tags.problem}")
        sha256, uploaded = self.upload_media(path)
        track, created = self.create_track(
            {
                "sha256": sha256,
                "title": (tags.title or path.stem)[:300],
                "artist": (tags.artist or UNKNOWN_ARTIST)[:300],
                "album": tags.album[:300] if tags.album else None,
                "isrc": tags.isrc,
                "duration_ms": tags.duration_ms or None,
                "replaygain_track_gain_db": tags.replaygain_track_gain_db,
            }
        )
        return Imported(path, track, uploaded, created)

    def tracks(self) -> list[Json]:
        return self._list("GET", "/tracks")

    # ------------------------------------------------------------------ playlists

    def put_playlist(
        self,
        playlist_id: str,
        title: str,
        track_ids: Sequence[str],
        *,
        note: str = "",
        valid_from: datetime | str | None = None,
        valid_until: datetime | str | None = None,
        hours: Sequence[Json] = (),
    ) -> Json:
        body = {
            "id": playlist_id,
            "title": title,
            "note": note,
            "tracks": list(track_ids),
            "valid_from": _iso(valid_from),
            "valid_until": _iso(valid_until),
            "hours": list(hours),
        }
        return self._json("POST", "/playlists", json=body)

    def assign(
        self,
        playlist_id: str,
        sites: Sequence[str] = (),
        devices: Sequence[str] = (),
        featured: bool = False,
    ) -> Json:
        body = {"sites": list(sites), "devices": list(devices), "featured": featured}
        return self._json("POST", f"/playlists/{playlist_id}/assign", json=body)

    def playlists(self) -> list[Json]:
        return self._list("GET", "/playlists")

    def playlist(self, playlist_id: str) -> Json:
        return self._json("GET", f"/playlists/{playlist_id}")

    # ------------------------------------------------------------------ content packs

    def pack(self, playlist_ids: Sequence[str]) -> Json:
        """The signed manifest of a content pack and the media it needs (tenant/packs.py)."""
        return self._json("POST", "/packs", json={"playlists": list(playlist_ids)})

    def download_media(self, sha256: str, size: int, dest: Path) -> None:
        """Fetch a media file to `dest` (via a temporary name), checking its size and hash."""
        temp = dest.with_name(f".{dest.name}.partial")
        digest = hashlib.sha256()
        received = 0
        response = self._send("GET", f"/media/{sha256}", stream=True, timeout=600)
        with response:
            if response.status_code >= 400:
                self._check(response)
            with open(temp, "wb") as f:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    received += len(chunk)
                    if received > size:
                        break
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
        if received != size or digest.hexdigest() != sha256:
            temp.unlink(missing_ok=True)
            raise AdminError(f"media {sha256}: the tenant sent other bytes than it announced")
        os.replace(temp, dest)

    # ------------------------------------------------------------------ devices

    def claim(self, code: str, site: str, name: str | None = None) -> Json:
        return self._json("POST", "/claims", json={"code": code, "site": site, "name": name})

    def devices(self) -> list[Json]:
        return self._list("GET", "/devices")

    def revoke(self, device_id: str) -> Json:
        return self._json("POST", f"/devices/{device_id}/revoke")

    # ------------------------------------------------------------------ remote administration

    def push(self, body: Json) -> list[Json]:
        """Publish desired states (body as `POST /admin/push`); the devices pushed to."""
        devices = self._json("POST", "/push", json=body).get("devices")
        if not isinstance(devices, list):
            raise AdminError(f"unexpected answer to POST /push: {devices!r}")
        return devices

    def status(self, device_ids: Sequence[str] = ()) -> list[Json]:
        """Every active kiosk (or those named) as the ingester last heard it."""
        return self._list("GET", "/status", params={"device": list(device_ids)})

    def send_command(self, device_id: str, command: str, **args: int) -> Json:
        return self._json(
            "POST", f"/devices/{device_id}/commands", json={"command": command, **args}
        )

    def command(self, device_id: str, request_id: str) -> Json:
        return self._json("GET", f"/devices/{device_id}/commands/{request_id}")

    def rules(self) -> Json:
        return self._json("GET", "/rules")

    def set_rules(self, counted_stream_s: float | None) -> Json:
        return self._json("PUT", "/rules", json={"counted_stream_s": counted_stream_s})

    def plays(self, by: str, start: str | None = None, end: str | None = None) -> Json:
        params = {"by": by, "from": start, "to": end}
        return self._json("GET", "/plays", params={k: v for k, v in params.items() if v})

    # ------------------------------------------------------------------ payouts (payouts_cli.py)

    def payouts(self, method: str, path: str, **kwargs: Any) -> Any:
        """`/admin/payouts{path}`: the answer's JSON (an object or a list)."""
        return self._check(self._send(method, f"/payouts{path}", **kwargs))

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`/admin{path}` (field readiness: tenant/field_cli.py): the answer's JSON."""
        return self._check(self._send(method, path, **kwargs))

    # ------------------------------------------------------------------ accounts, audit

    def me(self) -> Json:
        return self._json("GET", "/me")

    def tokens(self) -> list[Json]:
        return self._list("GET", "/tokens")

    def create_token(self, name: str, expires_in_days: float | None = None) -> Json:
        body = {"name": name, "expires_in_days": expires_in_days}
        return self._json("POST", "/tokens", json=body)

    def revoke_token(self, token_id: str) -> Json:
        return self._json("DELETE", f"/tokens/{token_id}")

    def audit(
        self, since: str | None = None, user: str | None = None, obj: str | None = None
    ) -> list[Json]:
        params = {"since": since, "user": user, "object": obj}
        return self._list("GET", "/audit", params={k: v for k, v in params.items() if v})

    # ------------------------------------------------------------------ plumbing

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.credentials.tenant_url}/v1/admin{path}"
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            raise ServiceUnreachable(
                f"cannot reach the tenant service at {self.credentials.url}: is it running?"
            ) from exc
        except requests.Timeout as exc:
            raise ServiceUnreachable(
                f"the tenant service at {self.credentials.url} did not answer in time"
            ) from exc
        except requests.RequestException as exc:
            raise AdminError(f"request to {url} failed: {exc}") from exc

    def _check(self, response: requests.Response) -> Any:
        if response.status_code < 400:
            return response.json() if response.content else None
        try:
            body = response.json()
            error = str(body.get("error", "error"))
            description = str(body.get("error_description", response.reason))
        except (ValueError, AttributeError):
            error, description = "error", response.reason or "no description"
        raise AdminError(
            f"HTTP {response.status_code} {error}: {description}", response.status_code, error
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Json:
        result = self._check(self._send(method, path, **kwargs))
        if not isinstance(result, dict):
            raise AdminError(f"unexpected answer to {method} {path}: {result!r}")
        return result

    def _list(self, method: str, path: str, **kwargs: Any) -> list[Json]:
        result = self._check(self._send(method, path, **kwargs))
        if not isinstance(result, list):
            raise AdminError(f"unexpected answer to {method} {path}: {result!r}")
        return result


def login(
    url: str, tenant: str, username: str, password: str, token_name: str,
    expires_in_days: float | None, timeout: float = 30.0,
) -> Json:  # fmt: skip
    """`POST /t/{tenant}/v1/login`: a new token for this account (AdminError if refused)."""
    body = {
        "username": username,
        "password": password,
        "token_name": token_name,
        "expires_in_days": expires_in_days,
    }
    client = AdminClient(Credentials(url, tenant, ""), timeout)
    try:
        endpoint = f"{client.credentials.tenant_url}/v1/login"
        try:
            response = requests.post(endpoint, json=body, timeout=timeout)
        except requests.RequestException as exc:
            raise ServiceUnreachable(f"cannot reach the tenant service at {url}: {exc}") from exc
        result = client._check(response)
    finally:
        client.close()
    if not isinstance(result, dict) or "token" not in result:
        raise AdminError(f"unexpected answer to POST {endpoint}")
    return result


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()
