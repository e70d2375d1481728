"""The kiosk's MQTT link with its tenant (docs/protocol.md): play reports from the journal,
retained status with a last will, heartbeats, and the transport for remote administration.

`MqttSupervisor` (started by device/link.py's TenantLink) runs an `MqttLink` while the kiosk
holds a broker account.
"""

from device.mqtt.link import MqttLink
from device.mqtt.supervisor import MqttSetup, MqttSupervisor

__all__ = ["MqttLink", "MqttSetup", "MqttSupervisor"]
