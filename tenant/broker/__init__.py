"""The tenant's MQTT broker: running mosquitto for tests and the demo, and driving its accounts."""
