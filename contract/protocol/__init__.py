"""The MQTT protocol between kiosks and their tenant: topics and payload schemas (v1).

Shared by the device and the tenant so that neither can drift from docs/protocol.md. Payloads
are JSON objects checked against the JSON schemas in ``schemas/``; `validate` turns the first
problem into a message that names the key path, for error results and logs.
"""

from contract.protocol.payloads import (
    PayloadError,
    Schema,
    decode,
    encode,
    load_schema,
    validate,
)
from contract.protocol.topics import (
    ACK,
    COMMAND_REQUEST,
    COMMAND_RESULT,
    DESIRED,
    HEARTBEAT,
    INGEST_GROUP,
    PLAYS,
    PREFIX,
    REPORTED,
    STATUS,
    DeviceTopics,
    TopicAddress,
    parse_topic,
    shared,
    wildcard,
)

__all__ = [
    "ACK",
    "COMMAND_REQUEST",
    "COMMAND_RESULT",
    "DESIRED",
    "HEARTBEAT",
    "INGEST_GROUP",
    "PLAYS",
    "PREFIX",
    "REPORTED",
    "STATUS",
    "DeviceTopics",
    "PayloadError",
    "Schema",
    "TopicAddress",
    "decode",
    "encode",
    "load_schema",
    "parse_topic",
    "shared",
    "validate",
    "wildcard",
]
