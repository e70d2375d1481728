"""Where `jukebox admin login` keeps a user's tokens: one per tenant URL, in the user's config
directory (`$XDG_CONFIG_HOME/jukebox/admin-logins.json`, default `~/.config/…`, mode 0600)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tenant.admin_client import AdminError, Credentials

LOGINS_FILE = "admin-logins.json"


class NotLoggedIn(AdminError):
    """No credentials file and no stored login: a usage error (exit status 2)."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jukebox"


def logins_path() -> Path:
    return config_dir() / LOGINS_FILE


def split_tenant_url(tenant_url: str) -> tuple[str, str]:
    """`https://host/t/slug` -> (`https://host`, `slug`); ValueError names what is wrong."""
    base, sep, slug = tenant_url.rstrip("/").rpartition("/t/")
    if not sep or not base.startswith(("http://", "https://")) or not slug or "/" in slug:
        raise ValueError(f"{tenant_url!r}: expected a tenant URL like https://host/t/SLUG")
    return base, slug


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AdminError(f"{path}: cannot read the stored logins: {exc}") from exc
    if not isinstance(data, dict):
        raise AdminError(f"{path}: not a logins file")
    return data


def save_login(tenant_url: str, entry: dict[str, Any], path: Path | None = None) -> Path:
    """Store (replace) the login for this tenant URL; the file is 0600, written atomically."""
    path = path or logins_path()
    data = _read(path)
    data[tenant_url.rstrip("/")] = entry
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_all(data, path)
    return path


def forget_login(tenant_url: str, path: Path | None = None) -> dict[str, Any] | None:
    path = path or logins_path()
    data = _read(path)
    entry = data.pop(tenant_url.rstrip("/"), None)
    if entry is not None:
        save_all(data, path)
    return entry if isinstance(entry, dict) else None


def save_all(data: dict[str, Any], path: Path) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(temp, path)


def stored_credentials(tenant_url: str | None, path: Path | None = None) -> Credentials:
    """The login for `tenant_url`, or the only one stored when None (AdminError otherwise)."""
    path = path or logins_path()
    data = _read(path)
    if tenant_url is None:
        if not data:
            raise NotLoggedIn(
                "give --credentials FILE (or $JUKEBOX_ADMIN_CREDENTIALS), or log in first: "
                "jukebox admin login URL --user NAME"
            )
        if len(data) != 1:
            known = ", ".join(sorted(data)) or "none"
            raise AdminError(
                f"name the tenant with --tenant-url URL (stored logins in {path}: {known}), "
                "or give --credentials FILE"
            )
        tenant_url = next(iter(data))
    entry = data.get(tenant_url.rstrip("/"))
    if not isinstance(entry, dict) or "token" not in entry:
        raise AdminError(f"not logged in to {tenant_url}: run `jukebox admin login {tenant_url}`")
    url, slug = split_tenant_url(tenant_url)
    return Credentials(url, slug, str(entry["token"]))
