"""The tenant service's one admin connection to its broker: device accounts and pushes.

    control = BrokerControl(load_broker_settings(data_dir))
    control.ensure_device("lib-a", "jk-…", username="jk-…", password="…")
    control.publish_desired("lib-a", "jk-…", {"v": 1, "version": 3, …})
    control.remove_device("lib-a", "jk-…")   # disconnected, refused, its status cleared
    control.close()

Accounts are managed through mosquitto's dynamic-security plugin: JSON commands published to
`$CONTROL/dynamic-security/v1`, answered on `…/v1/response` with the `correlationData` we sent.
The connection is made in the background and remade after a loss (paho's loop); a call made
while it is down fails at once with BrokerUnavailable instead of blocking a request.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract.protocol.payloads import encode
from contract.protocol.topics import DeviceTopics
from tenant.broker import dynsec
from tenant.broker.client import mqtt_client
from tenant.broker.dynsec import BrokerControlError
from tenant.broker.roles import (
    CONTROL_TOPIC,
    DEFAULT_ACCESS,
    SERVICE_ROLE,
    device_acls,
    device_role,
    service_acls,
)
from tenant.broker.settings import BrokerSettings

__all__ = ["BrokerControl", "BrokerControlError", "BrokerUnavailable"]

log = logging.getLogger(__name__)

RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
Json = dict[str, Any]


class BrokerUnavailable(BrokerControlError):
    """Not connected to the broker (down, unreachable, or our credentials refused)."""


class _Reply:
    """One awaited answer: dynsec responses, or a PUBACK's reason code."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BrokerControlError | None = None

    def set(self, value: Any) -> None:
        self.value = value
        self.done.set()

    def fail(self, error: BrokerControlError) -> None:
        self.error = error
        self.done.set()

    def wait(self, timeout_s: float, what: str) -> Any:
        if not self.done.wait(timeout_s):
            raise BrokerControlError(f"{what}: no answer from the broker in {timeout_s:g} s")
        if self.error is not None:
            raise self.error
        return self.value


class BrokerControl:
    """Thread-safe: request handlers call it from uvicorn's thread pool."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        timeout_s: float = 5.0,
        client_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._accounts = threading.Lock()  # one account change at a time
        self._ready = threading.Event()  # connected and subscribed to the responses
        self._requests: dict[str, _Reply] = {}
        self._publishes: dict[int, _Reply] = {}
        self._abandoned: set[int] = set()  # mids whose PUBACK nobody waits for any more
        self._ensured: dict[tuple[str, str], tuple[str, str]] = {}  # this broker session only
        self._started = time.monotonic()
        self._was_ready = False
        self._closed = False
        client_id = client_id or f"{settings.service.username}-{secrets.token_hex(4)}"
        self._client: Client = mqtt_client(settings, settings.service, client_id)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish
        self._client.message_callback_add(RESPONSE_TOPIC, self._on_response)
        self._client.reconnect_delay_set(1, 5)  # back soon after a broker restart
        self._response_mid: int | None = None
        self._client.connect_async(settings.host, settings.port, keepalive=30)
        self._client.loop_start()

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def __enter__(self) -> BrokerControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._client.disconnect()
        self._client.loop_stop()
        self._fail_all(BrokerUnavailable("the broker connection was closed"))

    # ------------------------------------------------------------------ accounts

    def ensure_device(self, tenant: str, device_id: str, username: str, password: str) -> None:
        """Make sure the device's role and account exist as they should (idempotent; a no-op
        when already done in this broker session). Changes made to an existing account
        disconnect the device, so nothing is changed that is already right."""
        self._refuse_own_account(username)
        marker = dynsec.password_marker(password)
        key = (tenant, device_id)
        if self._ensured.get(key) == (username, marker):
            return
        role = device_role(tenant, device_id)
        wanted = device_acls(tenant, device_id)
        with self._accounts:
            get_role = {"command": "getRole", "rolename": role}
            get_client = {"command": "getClient", "username": username}
            got_role, got_client = self._request([get_role, get_client])
            commands = dynsec.role_commands(get_role, wanted, got_role)
            commands += dynsec.client_commands(
                get_client, got_client, role, password, marker, f"{tenant}/{device_id}"
            )
            for command, answer in zip(
                commands, self._request(commands) if commands else [], strict=True
            ):
                dynsec.check(command, answer)
            self._ensured[key] = (username, marker)
        if commands:
            log.info(
                "broker: account of %s/%s ensured (%s)",
                tenant,
                device_id,
                ", ".join(c["command"] for c in commands),
            )

    def remove_device(self, tenant: str, device_id: str, username: str | None = None) -> None:
        """Delete the device's account (the broker disconnects it at once and refuses it from
        then on) and its role, then clear its retained status (`clear_status`). An account
        that now belongs to another tenant's device of the same id is left alone."""
        username = username or device_id
        self._refuse_own_account(username)
        role = device_role(tenant, device_id)
        with self._accounts:
            self._ensured.pop((tenant, device_id), None)
            get_client = {"command": "getClient", "username": username}
            (got_client,) = self._request([get_client])
            commands: list[Json] = []
            if got_client.get("error") != "Client not found":
                dynsec.check(get_client, got_client)
                roles = [r.get("rolename") for r in got_client["data"]["client"].get("roles", [])]
                if role in roles or not roles:
                    commands.append({"command": "deleteClient", "username": username})
                else:
                    log.warning("broker: account %s is another tenant's now: kept", username)
            commands.append({"command": "deleteRole", "rolename": role})
            for command, answer in zip(commands, self._request(commands), strict=True):
                if answer.get("error") not in ("Role not found", "Client not found"):
                    dynsec.check(command, answer)
        self.clear_status(tenant, device_id)
        log.info("broker: account of %s/%s removed", tenant, device_id)

    def clear_status(self, tenant: str, device_id: str) -> None:
        """Say `online: false` ("revoked") to whoever reads statuses now (the ingesters), then
        delete the retained status. The broker sends no last will for a client it disconnects
        itself, so a revoked kiosk would otherwise stay `online: true` for every new reader."""
        topic = DeviceTopics(tenant, device_id).status
        offline = encode("status", {"v": 1, "online": False, "reason": "revoked"})
        self._publish(topic, offline, retain=True, what=f"status of {device_id}")
        self._publish(topic, b"", retain=True, what=f"status of {device_id}")

    # ------------------------------------------------------------------ pushes

    def publish_desired(self, tenant: str, device_id: str, payload: Json) -> None:
        """The device's whole desired state: retained, QoS 1; returns once the broker has it."""
        topic = DeviceTopics(tenant, device_id).desired
        self._publish(topic, encode("desired-state", payload), retain=True)

    def clear_desired(self, tenant: str, device_id: str) -> None:
        """Remove the retained desired state (an empty retained message deletes it)."""
        self._publish(DeviceTopics(tenant, device_id).desired, b"", retain=True)

    def publish_command(self, tenant: str, device_id: str, payload: Json) -> None:
        """One command request, QoS 1, not retained (a device offline with a persistent
        session gets it when it reconnects)."""
        topic = DeviceTopics(tenant, device_id).command_request
        self._publish(topic, encode("command-request", payload), retain=False)

    # ------------------------------------------------------------------ plumbing

    def _refuse_own_account(self, username: str) -> None:
        if username in (self.settings.service.username, self.settings.ingester.username):
            raise BrokerControlError(f"{username!r} is the service's own account, not a device's")

    def _require_ready(self, what: str) -> None:
        if self._closed:
            raise BrokerUnavailable(f"{what}: the broker connection was closed")
        # Just started: give the first connection a moment rather than failing the first call.
        grace = 0.0 if self._was_ready else self.timeout_s - (time.monotonic() - self._started)
        if not self._ready.wait(max(0.0, grace)):
            raise BrokerUnavailable(
                f"{what}: not connected to the broker at {self.settings.host}:{self.settings.port}"
            )

    def _request(self, commands: list[Json]) -> list[Json]:
        """Send dynamic-security commands in one message and return their answers in order."""
        what = "+".join(c["command"] for c in commands)
        self._require_ready(what)
        correlation = secrets.token_hex(8)
        body = [{**c, "correlationData": f"{correlation}:{i}"} for i, c in enumerate(commands)]
        reply = _Reply()
        with self._lock:
            self._requests[correlation] = reply
        try:
            self._publish(CONTROL_TOPIC, json.dumps({"commands": body}).encode(), what=what)
            answers: list[Json] = reply.wait(self.timeout_s, what)
        finally:
            with self._lock:
                self._requests.pop(correlation, None)
        if len(answers) != len(commands):
            raise BrokerControlError(f"{what}: {len(answers)} answers to {len(commands)} commands")
        return answers

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False, what: str = "") -> None:
        """Publish at QoS 1 and wait for the PUBACK; an error reason code is an error.

        paho calls on_publish holding a lock that publish() also takes, so our lock is never
        held around a paho call; an ack may thus arrive before its mid is registered here."""
        what = what or f"publish to {topic}"
        self._require_ready(what)
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        with self._lock:
            reply = self._publishes.setdefault(info.mid, _Reply())
        try:
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise BrokerUnavailable(f"{what}: not sent ({info.rc.name})")
            code: ReasonCode = reply.wait(self.timeout_s, what)
        finally:
            with self._lock:
                self._publishes.pop(info.mid, None)
                if reply.value is None:  # a late ack for this mid must not be taken for another
                    self._abandoned.add(info.mid)
        if code.is_failure:
            raise BrokerControlError(f"{what}: refused by the broker ({code})")

    def _fail_all(self, error: BrokerControlError) -> None:
        with self._lock:
            waiting = [*self._requests.values(), *self._publishes.values()]
        for reply in waiting:
            reply.fail(error)

    # paho callbacks (its network thread)

    def _on_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error(
                "broker %s:%d refused the service account %r: %s",
                self.settings.host,
                self.settings.port,
                self.settings.service.username,
                reason,
            )
            return
        _, self._response_mid = client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._response_mid:
            return
        if reasons[0].is_failure:
            log.error("broker: the service account may not read %s: %s", RESPONSE_TOPIC, reasons[0])
            return
        self._ensured.clear()  # a new session: the broker may have lost its accounts
        correlation = "default-access"
        commands: list[Json] = [{"command": "setDefaultACLAccess", "acls": list(DEFAULT_ACCESS)}]
        # A service role written by an older broker-setup gets the rights of this version
        # (those it has already are refused, harmlessly, with an error that is not read).
        commands += [
            {"command": "addRoleACL", "rolename": SERVICE_ROLE, **acl} for acl in service_acls()
        ]
        info = client.publish(
            CONTROL_TOPIC,
            json.dumps({"commands": [{**c, "correlationData": correlation} for c in commands]}),
            qos=1,
        )
        with self._lock:
            self._abandoned.add(info.mid)  # nobody waits for its PUBACK
        # Ready once these are answered (`_on_response`): a rule actually added makes the broker
        # drop the role's clients, this one included, and the answer comes after reconnecting.

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        self._fail_all(BrokerUnavailable(f"the broker connection was lost ({reason})"))
        if was_ready and not self._closed:
            log.warning("broker: connection lost (%s), reconnecting", reason)

    def _on_publish(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            if mid in self._abandoned:
                self._abandoned.discard(mid)
                return
            reply = self._publishes.setdefault(mid, _Reply())
        reply.set(reason)

    def _on_response(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            answers = json.loads(message.payload)["responses"]
            correlation = str(answers[0].get("correlationData", "")).split(":")[0]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            log.warning("broker: unreadable dynamic-security answer %r", message.payload[:200])
            return
        if correlation == "default-access":
            if answers[0].get("error"):
                log.error("broker: setDefaultACLAccess refused: %s", answers[0]["error"])
            self._ready.set()
            self._was_ready = True
            log.info("broker: connected to %s:%d", self.settings.host, self.settings.port)
            return
        with self._lock:
            reply = self._requests.get(correlation)
        if reply is not None:
            reply.set(answers)
