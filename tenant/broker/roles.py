"""The broker's access rules, as mosquitto dynamic-security roles (docs/protocol.md, "Accounts").

Checked against mosquitto 2.0.11 (tests/broker/):
- ACL topics are matched literally: there is no %u/%c substitution, so every device has a role
  of its own listing exactly its topics.
- A subscription is checked against the whole filter, so a shared subscription needs an ACL on
  `$share/<group>/<filter>`; what it then receives is checked against the message's topic
  (publishClientReceive).
- Anything no role allows falls to the default access, which is deny for all four kinds.
"""

from __future__ import annotations

from typing import Any

from contract.protocol.topics import (
    ACK,
    COMMAND_REQUEST,
    COMMAND_RESULT,
    DESIRED,
    DEVICE_LEAVES,
    HEARTBEAT,
    INGEST_GROUP,
    PLAYS,
    REPORTED,
    STATUS,
    TENANT_LEAVES,
    DeviceTopics,
    shared,
    wildcard,
)

__all__ = [
    "CONTROL_TOPIC",
    "DEFAULT_ACCESS",
    "INGESTER_ROLE",
    "SERVICE_ROLE",
    "Acl",
    "device_acls",
    "device_role",
    "ingester_acls",
    "service_acls",
]

Acl = dict[str, Any]

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
INGESTER_ROLE = "jk-ingester"
SERVICE_ROLE = "jk-service"
# setDefaultACLAccess: what nobody's role mentions is refused.
DEFAULT_ACCESS: tuple[Acl, ...] = tuple(
    {"acltype": kind, "allow": False}
    for kind in ("publishClientSend", "publishClientReceive", "subscribe", "unsubscribe")
)

# What a device reads: acks of its plays, its desired state, its commands.
DEVICE_READS = TENANT_LEAVES
# What the ingester stores (plays through the shared group, the rest by every ingester).
INGESTER_READS = (STATUS, HEARTBEAT, REPORTED, COMMAND_RESULT)


def device_role(tenant: str, device_id: str) -> str:
    return f"jk-device.{tenant}.{device_id}"


def device_acls(tenant: str, device_id: str) -> list[Acl]:
    """Publish its own reports; subscribe to, receive and unsubscribe from exactly its three
    inbound topics (a wildcard filter, even over its own prefix, is refused)."""
    topics = DeviceTopics(tenant, device_id)
    acls = [_allow("publishClientSend", topics.topic(leaf)) for leaf in DEVICE_LEAVES]
    for leaf in DEVICE_READS:
        topic = topics.topic(leaf)
        acls += [
            _allow("subscribeLiteral", topic),
            _allow("publishClientReceive", topic),
            _allow("unsubscribeLiteral", topic),
        ]
    return acls


def ingester_acls() -> list[Acl]:
    """Read every device's reports of every tenant on this broker; acknowledge plays."""
    acls = [_allow("publishClientSend", wildcard(ACK))]
    filters = [shared(INGEST_GROUP, wildcard(PLAYS))] + [wildcard(leaf) for leaf in INGESTER_READS]
    for topic_filter in filters:
        acls += [
            _allow("subscribePattern", topic_filter),
            _allow("unsubscribePattern", topic_filter),
        ]
    acls += [_allow("publishClientReceive", wildcard(leaf)) for leaf in (PLAYS, *INGESTER_READS)]
    return acls


def service_acls() -> list[Acl]:
    """Push desired states and commands, read everything under jk/v1, and manage accounts.

    It also writes statuses: a device the broker disconnects because its account was deleted
    (a revocation) leaves no last will, so the service clears its retained `online: true`.
    """
    everything = "jk/v1/+/+/#"
    control = "$CONTROL/dynamic-security/#"
    acls = [
        _allow("publishClientSend", wildcard(leaf)) for leaf in (DESIRED, COMMAND_REQUEST, STATUS)
    ]
    acls.append(_allow("publishClientSend", control))
    for topic_filter in (everything, control):
        acls += [
            _allow("subscribePattern", topic_filter),
            _allow("publishClientReceive", topic_filter),
            _allow("unsubscribePattern", topic_filter),
        ]
    return acls


def _allow(kind: str, topic: str) -> Acl:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}
