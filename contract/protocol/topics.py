"""Topic names: ``jk/v1/{tenant}/{device}/{leaf}``, versioned and prefixed by tenant and device.

The broker's access rules are written over exactly these names (a device may publish only under
its own prefix, and read only its desired state, commands and acks), so every publisher and
subscriber builds them here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "jk/v1"

# Leaves under a device's prefix. Device -> tenant:
PLAYS = "plays"  # play batches, QoS 1
STATUS = "status"  # retained online/offline, also the last will
HEARTBEAT = "heartbeat"  # QoS 0, periodic
REPORTED = "state/reported"  # retained
COMMAND_RESULT = "cmd/result"
# Tenant -> device:
ACK = "plays/ack"  # from the ingester, once plays are stored
DESIRED = "state/desired"  # retained, from the tenant service
COMMAND_REQUEST = "cmd/request"

DEVICE_LEAVES = (PLAYS, STATUS, HEARTBEAT, REPORTED, COMMAND_RESULT)
TENANT_LEAVES = (ACK, DESIRED, COMMAND_REQUEST)

# Shared-subscription group of the ingesters: each play batch goes to one ingester of the group.
INGEST_GROUP = "jk-ingest"

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class DeviceTopics:
    """Every topic of one device."""

    tenant: str
    device_id: str

    def __post_init__(self) -> None:
        for what, value in (("tenant", self.tenant), ("device id", self.device_id)):
            if not _SEGMENT.fullmatch(value):
                raise ValueError(f"{what} {value!r} cannot be a topic segment")

    @property
    def prefix(self) -> str:
        return f"{PREFIX}/{self.tenant}/{self.device_id}"

    def topic(self, leaf: str) -> str:
        return f"{self.prefix}/{leaf}"

    @property
    def plays(self) -> str:
        return self.topic(PLAYS)

    @property
    def ack(self) -> str:
        return self.topic(ACK)

    @property
    def status(self) -> str:
        return self.topic(STATUS)

    @property
    def heartbeat(self) -> str:
        return self.topic(HEARTBEAT)

    @property
    def desired(self) -> str:
        return self.topic(DESIRED)

    @property
    def reported(self) -> str:
        return self.topic(REPORTED)

    @property
    def command_request(self) -> str:
        return self.topic(COMMAND_REQUEST)

    @property
    def command_result(self) -> str:
        return self.topic(COMMAND_RESULT)


@dataclass(frozen=True)
class TopicAddress:
    """Who a received topic belongs to and which leaf it is."""

    tenant: str
    device_id: str
    leaf: str


def parse_topic(topic: str) -> TopicAddress | None:
    """The address of a protocol topic, or None for anything else (never raises)."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != PREFIX:
        return None
    tenant, device_id, leaf = parts[2], parts[3], "/".join(parts[4:])
    if not (_SEGMENT.fullmatch(tenant) and _SEGMENT.fullmatch(device_id)):
        return None
    if leaf not in DEVICE_LEAVES + TENANT_LEAVES:
        return None
    return TopicAddress(tenant, device_id, leaf)


def wildcard(leaf: str, tenant: str = "+") -> str:
    """A filter for one leaf of every device (of one tenant, or of all with '+')."""
    return f"{PREFIX}/{tenant}/+/{leaf}"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription: the broker hands each message to one member of `group`."""
    return f"$share/{group}/{topic_filter}"
