"""Building mosquitto dynamic-security commands: what to send so that an account and its
role end up exactly as wanted, changing nothing that is already right (every change to a
client disconnects it)."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = [
    "BrokerControlError",
    "check",
    "client_commands",
    "client_fixes",
    "password_marker",
    "role_commands",
]

Json = dict[str, Any]


class BrokerControlError(RuntimeError):
    """The broker refused a command; the message names the command and the broker's error."""


def password_marker(password: str) -> str:
    """Kept in the account's description so that an unchanged password is not set again (which
    would disconnect the device); a password is 256 random bits, so its hash reveals nothing."""
    return "jukebox password sha256:" + hashlib.sha256(password.encode()).hexdigest()[:32]


def check(command: Json, answer: Json) -> None:
    """Raise for an error answer, naming the command and its target (dynsec echoes neither)."""
    error = answer.get("error")
    if error:
        target = command.get("username") or command.get("rolename") or ""
        raise BrokerControlError(f"dynamic-security {command['command']} {target}: {error}")


def role_commands(get_role: Json, wanted: list[Json], got: Json) -> list[Json]:
    """Create the role, or bring its ACLs to exactly `wanted`."""
    role = get_role["rolename"]
    if got.get("error") == "Role not found":
        return [{"command": "createRole", "rolename": role, "acls": wanted}]
    check(get_role, got)

    def key(acl: Json) -> tuple[str, str, bool]:
        return (str(acl["acltype"]), str(acl["topic"]), bool(acl["allow"]))

    have = {key(a) for a in got["data"]["role"].get("acls", [])}
    want = {key(a) for a in wanted}
    commands = [
        {"command": "removeRoleACL", "rolename": role, "acltype": t, "topic": topic}
        for t, topic, _ in sorted(have - want)
    ]
    commands += [
        {"command": "addRoleACL", "rolename": role, **a} for a in wanted if key(a) in (want - have)
    ]
    return commands


def client_commands(
    get_client: Json, got: Json, role: str, password: str, marker: str, textname: str
) -> list[Json]:
    """Create the account (client id pinned to the username), or fix what differs."""
    username = get_client["username"]
    if got.get("error") == "Client not found":
        return [
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "clientid": username,
                "textname": textname,
                "textdescription": marker,
                "roles": [{"rolename": role}],
            }
        ]
    check(get_client, got)
    return client_fixes(got["data"]["client"], role, password, marker)


def client_fixes(client: Json, role: str, password: str, marker: str) -> list[Json]:
    username = client["username"]
    changes: Json = {}
    if client.get("clientid") != username:
        changes["clientid"] = username
    if client.get("textdescription") != marker:
        changes["password"] = password
        changes["textdescription"] = marker
    if [r.get("rolename") for r in client.get("roles", [])] != [role] or client.get("groups"):
        changes["roles"] = [{"rolename": role}]
        changes["groups"] = []
    commands: list[Json] = []
    if changes:
        commands.append({"command": "modifyClient", "username": username, **changes})
    if client.get("disabled"):
        commands.append({"command": "enableClient", "username": username})
    return commands
