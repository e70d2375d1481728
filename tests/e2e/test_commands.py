"""Commands from `jukebox admin command` to a real kiosk process, and a malformed one sent by
a raw client holding the tenant service's broker account."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from contract.protocol import DeviceTopics
from tenant.credentials import hash_secret
from tests.e2e.cli import admin
from tests.e2e.rig import SLUG, Rig, eventually


def result_of(rig: Rig, device_id: str, request_id: str) -> dict[str, Any]:
    """The command's record at the tenant once the kiosk's result arrived."""

    def answered() -> dict[str, Any] | None:
        found = rig.tenant.admin(SLUG).command(device_id, request_id)
        return found if found["done"] else None

    return eventually(answered, 15, f"the result of {request_id}")


def test_identify_and_diagnostics_reach_the_kiosk_and_answer(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = rig.kiosk("hall")
    device_id = rig.claim(kiosk)
    assert kiosk.status()["screen"] != "IdentifyScreen"

    code, _, err = admin(rig, capsys, "command", device_id, "identify", "--seconds", "5")

    assert code == 0, err
    kiosk.wait_until(lambda s: s["screen"] == "IdentifyScreen", 5, "the identify screen")

    sent = rig.tenant.admin(SLUG).send_command(device_id, "diagnostics", lines=200)
    answer = result_of(rig, device_id, sent["request_id"])
    assert answer["ok"] is True, answer
    result = answer["result"]
    lines = result["log"]
    assert any("MQTT connected to" in line for line in lines), lines
    assert any("identify requested" in line for line in lines), lines
    assert result["state"]["kiosk"], result
    text = json.dumps(answer)
    mqtt = kiosk.credentials().mqtt
    assert mqtt is not None and mqtt.password not in text
    assert "jkat_" not in text and "PRIVATE KEY" not in text
    issued = {hash_secret(word) for word in re.findall(r"[\w-]{20,}", text)}
    with rig.store.engine.connect() as conn:
        tokens = {row[0] for row in conn.exec_driver_sql("SELECT token_hash FROM access_tokens")}
    assert tokens and issued.isdisjoint(tokens)  # no access token the kiosk was given


def test_a_malformed_command_gets_an_error_result_and_the_kiosk_goes_on(rig: Rig) -> None:
    kiosk = rig.kiosk("hall")
    device_id = rig.claim(kiosk)
    topics = DeviceTopics(SLUG, device_id)
    service = rig.broker.settings.service
    with rig.broker.probe(service.username, service.password, client_id="e2e-raw-admin") as raw:
        assert not raw.subscribe(topics.command_result).is_failure
        hostile = [
            b'{"v": 1, "request_id": "r-unknown", "command": "self-destruct"}',
            b'{"v": 1, "request_id": "r-args", "command": "identify", "args": {"seconds": 0}}',
            b"\xff\xfe not json at all",
        ]
        for payload in hostile:
            assert not raw.publish(topics.command_request, payload).is_failure
        results = [json.loads(raw.receive(10).payload) for _ in hostile]

    by_id = {r["request_id"]: r for r in results}
    assert set(by_id) == {"r-unknown", "r-args", None}, results
    assert all(r["ok"] is False for r in results)
    assert "self-destruct" in by_id["r-unknown"]["error"]
    assert "seconds" in by_id["r-args"]["error"]
    assert by_id[None]["error"]
    assert kiosk.status()["tenant_state"] == "active"  # still serving
    assert kiosk.process is not None and kiosk.process.poll() is None
