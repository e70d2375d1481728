"""A paho MQTT 5 client for one of the tenant's broker accounts (service or ingester)."""

from __future__ import annotations

import ssl

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tenant.broker.settings import BrokerAccount, BrokerSettings

__all__ = ["mqtt_client"]


def mqtt_client(settings: BrokerSettings, account: BrokerAccount, client_id: str) -> Client:
    """Configured (credentials, TLS with settings.ca_file or the system CAs) but not connected:
    connect with `client.connect(settings.host, settings.port)` or connect_async."""
    client = Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(account.username, account.password)
    if settings.tls:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        client.tls_set_context(context)
    return client
