"""The control socket: any bytes in, a clear answer out, and the kiosk never falls over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from device.config import ButtonConfig, RotaryConfig
from device.core.kiosk import KioskStatus
from device.domain import Action
from device.sim.control import ControlClient, ControlServer
from device.sim.panel import SimulatedPanel

BUTTONS = (ButtonConfig("play", 17, press=Action.PLAY_PAUSE),)


def make_server(path: Path) -> tuple[ControlServer, MockFactory, list[str]]:
    factory = MockFactory()
    quits: list[str] = []
    panel = SimulatedPanel(factory, BUTTONS, RotaryConfig(5, 6))
    server = ControlServer(path, panel, KioskStatus, lambda _p: False, lambda: quits.append("q"))
    return server, factory, quits


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
requests = st.fixed_dictionaries(
    {"cmd": st.sampled_from(["tap", "press", "release", "rotate", "status", "screenshot",
                             "quit", "dance", ""]) | json_values},
    optional={"button": json_values | st.just("play"), "steps": json_values,
              "seconds": json_values, "path": json_values},
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(line=st.binary(max_size=300) | requests.map(lambda r: json.dumps(r).encode()))
def test_any_request_gets_an_answer_and_never_an_exception(
    tmp_path_factory: pytest.TempPathFactory, line: bytes
) -> None:
    server, _, _ = make_server(tmp_path_factory.mktemp("s") / "c.sock")
    answer = server.answer(line)
    assert isinstance(answer["ok"], bool)
    if not answer["ok"]:
        assert isinstance(answer["error"], str) and answer["error"]


def test_errors_name_what_is_wrong(tmp_path: Path) -> None:
    server, _, _ = make_server(tmp_path / "c.sock")
    assert server.answer(b"{not json")["ok"] is False
    assert server.answer(b"[1]") == {"ok": False, "error": "expected a JSON object"}
    assert "unknown command 'dance'" in server.answer(b'{"cmd": "dance"}')["error"]
    assert "no button named 'stop'" in server.answer(b'{"cmd": "tap", "button": "stop"}')["error"]
    hold = server.answer(b'{"cmd": "hold", "button": "play", "seconds": 99}')["error"]
    assert "between 0 and 30" in hold  # holds are refused before any waiting
    too_far = server.answer(b'{"cmd": "rotate", "steps": 500}')["error"]
    assert "from -50 to 50" in too_far


def test_a_real_client_presses_a_mock_pin_through_the_socket(tmp_path: Path) -> None:
    server, factory, quits = make_server(tmp_path / "c.sock")
    server.start()
    try:
        with ControlClient(tmp_path / "c.sock") as client:
            assert client.send(cmd="press", button="play") == {"ok": True}
            assert factory.pin(17).state is False  # pulled up: pressed is low
            assert client.send(cmd="release", button="play") == {"ok": True}
            assert factory.pin(17).state is True
            assert client.send(cmd="status")["status"]["mode"] == "idle"
            assert client.send(cmd="quit") == {"ok": True}
        assert quits == ["q"]
    finally:
        server.close()
    assert not (tmp_path / "c.sock").exists()
