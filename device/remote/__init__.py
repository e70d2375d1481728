"""Remote administration: the tenant's desired state and commands, received over MQTT.

`RemoteAdmin` is what the MQTT link (device/mqtt) hands every `state/desired` and
`cmd/request` payload to; it answers through the link's `RemotePublisher`. See
docs/remote-admin.md.
"""

from device.remote.admin import RemoteAdmin

__all__ = ["RemoteAdmin"]
