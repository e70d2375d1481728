"""Staff accounts on the command line.

- `jukebox tenant user add|list|disable|enable|reset-password` on the server: they open the
  database directly (no service needed) and record `server:<os user>` in the audit log.
- `jukebox admin login|logout|whoami|token|audit` over HTTP, for every staff member.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant.console import err, out
from tenant.roles import ROLE_HELP, Role
from tenant.tables import format_table
from tenant.timefmt import rfc3339

if TYPE_CHECKING:
    from tenant.admin_client import AdminClient
    from tenant.context import ServiceContext

ENV_ADMIN_PASSWORD = "JUKEBOX_TENANT_ADMIN_PASSWORD"  # tenant init: the first admin's
ENV_USER_PASSWORD = "JUKEBOX_TENANT_USER_PASSWORD"  # tenant user add / reset-password
ENV_LOGIN_PASSWORD = "JUKEBOX_ADMIN_PASSWORD"  # admin login
ROLES = ", ".join(f"{r.value} ({ROLE_HELP[r]})" for r in Role)


# ---------------------------------------------------------------------------------- server


def add_user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="staff accounts of a tenant (on the server)")
    user.add_argument("--data", type=Path, required=True, help="the service's data directory")
    user.add_argument("--tenant", required=True, help="the tenant's slug")
    user.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in --data)")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = usub.add_parser(
        "add", help="create an account; its password is printed once (or $" + ENV_USER_PASSWORD
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help=ROLES)
    add.add_argument(
        "--site", dest="sites", action="append", default=[], help="a curator's site (repeatable)"
    )
    add.set_defaults(handler=cmd_user_add)
    usub.add_parser("list", help="the tenant's accounts").set_defaults(handler=cmd_user_list)
    for name, handler, what in (
        ("disable", cmd_user_disable, "disable an account: its tokens stop at once"),
        ("enable", cmd_user_enable, "enable a disabled account again"),
        ("reset-password", cmd_user_reset, "set a new password (printed once); revokes its tokens"),
    ):
        command = usub.add_parser(name, help=what)
        command.add_argument("username")
        command.set_defaults(handler=handler)


def server_actor() -> str:
    try:
        return f"server:{getpass.getuser()}"
    except (KeyError, OSError):
        return "server:unknown"


def _open(args: argparse.Namespace) -> ServiceContext:
    from tenant.cli import ENV_DATABASE_URL
    from tenant.context import open_context

    ctx = open_context(args.data, args.database_url or os.environ.get(ENV_DATABASE_URL))
    if ctx.store.get_tenant(args.tenant) is None:
        ctx.store.close()
        raise LookupError(f"there is no tenant {args.tenant!r} in {args.data}")
    return ctx


def _run_server(args: argparse.Namespace, action: Any) -> int:
    from tenant.accounts import AccountError

    try:
        ctx = _open(args)
    except (LookupError, OSError) as exc:
        err(f"jukebox tenant user: {exc}")
        return 1
    try:
        action(ctx)
    except (AccountError, LookupError) as exc:
        err(f"jukebox tenant user {args.user_command}: {exc}")
        return 1
    finally:
        ctx.store.close()
    return 0


def _password(env: str) -> tuple[str, bool]:
    """(the password, whether it was generated and must be shown)."""
    from tenant.accounts import new_password

    given = os.environ.get(env)
    return (given, False) if given else (new_password(), True)


def ask_password(username: str) -> str:
    """The first administrator's password, typed twice without echo on a terminal, or one line
    of standard input for scripts that would rather not put it in the environment."""
    import sys

    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ValueError("--ask-password: no password on standard input")
        return line
    password = getpass.getpass(f"password of {username}: ")
    if getpass.getpass(f"password of {username}, again: ") != password:
        raise ValueError("--ask-password: the two passwords differ; nothing was created")
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    from tenant import accounts

    def action(ctx: ServiceContext) -> None:
        password, generated = _password(ENV_USER_PASSWORD)
        user = accounts.add_user(
            ctx, args.tenant, server_actor(), args.username, args.role, args.sites, password
        )
        sites = f" for {', '.join(json.loads(user.sites))}" if args.sites else ""
        out(f"user {user.username} ({user.role}{sites}) added to {args.tenant}")
        if generated:
            out(f"  password (shown once): {password}")

    return _run_server(args, action)


def cmd_user_list(args: argparse.Namespace) -> int:
    def action(ctx: ServiceContext) -> None:
        rows = [
            (
                u.username,
                u.role,
                ", ".join(json.loads(u.sites)),
                "disabled" if u.disabled else "enabled",
                rfc3339(u.created_ms),
            )
            for u in ctx.store.list_users(args.tenant)
        ]
        out(format_table(("USER", "ROLE", "SITES", "STATE", "CREATED"), rows))

    return _run_server(args, action)


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    from tenant import accounts

    def action(ctx: ServiceContext) -> None:
        accounts.update_user(ctx, args.tenant, server_actor(), args.username, disabled=disabled)
        out(f"user {args.username} {'disabled' if disabled else 'enabled'}")

    return _run_server(args, action)


def cmd_user_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def cmd_user_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def cmd_user_reset(args: argparse.Namespace) -> int:
    from tenant import accounts

    def action(ctx: ServiceContext) -> None:
        password, generated = _password(ENV_USER_PASSWORD)
        before = ctx.store.get_user(args.tenant, args.username)
        accounts.update_user(ctx, args.tenant, server_actor(), args.username, password=password)
        out(f"user {args.username}: new password set")
        if before is not None and accounts.has_password(before):
            out("  its API tokens are revoked: log in again, and give scripts new tokens")
        if generated:
            out(f"  password (shown once): {password}")

    return _run_server(args, action)


# ---------------------------------------------------------------------------------- client


def add_account_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    login = sub.add_parser(
        "login", help="log in to a tenant and keep a token for your account (per tenant URL)"
    )
    login.add_argument("tenant_url", metavar="URL", help="the tenant URL, e.g. https://host/t/slug")
    login.add_argument("--user", required=True)
    login.add_argument("--token-name", help="default: jukebox admin on HOSTNAME")
    login.add_argument(
        "--expires-days", type=float, default=90.0, help="the token's lifetime (default 90)"
    )
    login.set_defaults(action=cmd_login, needs_client=False)

    logout = sub.add_parser("logout", help="revoke and forget the stored token of a tenant URL")
    logout.add_argument("tenant_url", metavar="URL")
    logout.set_defaults(action=cmd_logout, needs_client=False)

    sub.add_parser("whoami", help="the account of these credentials").set_defaults(
        action=cmd_whoami
    )

    token = sub.add_parser("token", help="your API tokens (a network admin sees everyone's)")
    tsub = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    tsub.add_parser("list", help="tokens and when they were last used").set_defaults(
        action=cmd_token_list
    )
    create = tsub.add_parser("create", help="a new named token for a script (printed once)")
    create.add_argument("name")
    create.add_argument("--expires-days", type=float, help="default: no expiry")
    create.set_defaults(action=cmd_token_create)
    revoke = tsub.add_parser("revoke", help="revoke a token: it stops working at once")
    revoke.add_argument("token_id")
    revoke.set_defaults(action=cmd_token_revoke)

    audit = sub.add_parser("audit", help="who changed what, and when (network admins)")
    audit.add_argument("--since", metavar="DATE", help="e.g. 2026-07-01 or 2026-07-01T12:00Z")
    audit.add_argument("--user", help="only this account's changes")
    audit.add_argument("--object", metavar="TYPE[:ID]", help="e.g. playlist:festival, device")
    audit.add_argument("--json", action="store_true", help="one JSON object per line, in full")
    audit.set_defaults(action=cmd_audit)


def cmd_login(args: argparse.Namespace) -> int:
    import socket

    from tenant.admin_client import AdminError, login
    from tenant.logins import save_login, split_tenant_url

    try:
        url, slug = split_tenant_url(args.tenant_url)
    except ValueError as exc:
        err(f"jukebox admin login: {exc}")
        return 2
    password = os.environ.get(ENV_LOGIN_PASSWORD)
    if not password:
        if not sys.stdin.isatty():
            err(f"jukebox admin login: no terminal to ask the password: set ${ENV_LOGIN_PASSWORD}")
            return 2
        password = getpass.getpass(f"password of {args.user} at {args.tenant_url}: ")
    name = args.token_name or f"jukebox admin on {socket.gethostname()}"
    try:
        answer = login(url, slug, args.user, password, name, args.expires_days)
    except AdminError as exc:
        err(f"jukebox admin login: {exc}")
        return 1
    entry = {"user": args.user, "token": answer["token"], "token_id": answer["token_id"]}
    path = save_login(args.tenant_url, entry)
    out(
        f"logged in to {args.tenant_url} as {args.user} ({answer['role']}); token "
        f"{answer['token_id']} expires {answer['expires_at'] or 'never'}, kept in {path}"
    )
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from tenant.admin_client import AdminClient, AdminError
    from tenant.logins import forget_login, stored_credentials

    try:
        credentials = stored_credentials(args.tenant_url)
        with AdminClient(credentials) as client:
            client.revoke_token(str(client.me()["token_id"]))
    except AdminError as exc:
        err(f"jukebox admin logout: {exc} (forgotten all the same)")
    forget_login(args.tenant_url)
    out(f"logged out of {args.tenant_url}")
    return 0


def cmd_whoami(client: AdminClient, _args: argparse.Namespace) -> int:
    me = client.me()
    sites = f", sites {', '.join(me['sites'])}" if me["sites"] else ""
    out(f"{me['username']} ({me['role']}{sites}) at {client.credentials.tenant_url}")
    return 0


def cmd_token_list(client: AdminClient, _args: argparse.Namespace) -> int:
    rows = [
        (
            t["token_id"],
            t["username"],
            t["name"],
            t["created_at"],
            t["expires_at"] or "never",
            t["last_used_at"],
            "revoked" if t["revoked_at"] else "",
        )
        for t in client.tokens()
    ]
    headers = ("ID", "USER", "NAME", "CREATED", "EXPIRES", "LAST USED", "")
    out(format_table(headers, rows))
    return 0


def cmd_token_create(client: AdminClient, args: argparse.Namespace) -> int:
    made = client.create_token(args.name, args.expires_days)
    out(f"token {made['token_id']} ({made['name']}), expires {made['expires_at'] or 'never'}:")
    out(f"  {made['token']}")
    out("  shown once: keep it where the script reads it")
    return 0


def cmd_token_revoke(client: AdminClient, args: argparse.Namespace) -> int:
    revoked = client.revoke_token(args.token_id)
    out(f"token {revoked['token_id']} ({revoked['name']}) revoked")
    return 0


def cmd_audit(client: AdminClient, args: argparse.Namespace) -> int:
    rows = client.audit(args.since, args.user, args.object)
    if args.json:
        for row in rows:
            out(json.dumps(row, ensure_ascii=False))
        return 0
    table = [
        (r["at"], r["actor"], r["action"], f"{r['object_type']}:{r['object_id']}", _change(r))
        for r in rows
    ]
    out(format_table(("WHEN", "WHO", "ACTION", "OBJECT", "CHANGE"), table))
    return 0


def _change(row: dict[str, Any]) -> str:
    """What changed, briefly: the keys whose values differ between before and after."""
    before, after = row.get("before"), row.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in after if before.get(k) != after.get(k)]
        text = ", ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in keys)
    elif isinstance(after, dict):
        text = ", ".join(f"{k}={v!r}" for k, v in after.items())
    else:
        text = ""
    return text if len(text) <= 80 else text[:77] + "..."
