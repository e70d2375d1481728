"""Long polling of the device flow, against the real tenant over HTTP: a pending kiosk's token
poll is held open and answered the moment its code is claimed, ends at the bound otherwise, is
answered at once past the waiter limit, and the kiosk still waits its interval after each
answer (so an idle kiosk makes no more requests)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from device.tenant_api.client import TokenGrant
from tests.identity.conftest import SLUG, WAIT_S, Kiosk, ServerClock, StartTenant
from tests.tenant.kiosk import Kiosk as RawKiosk


class Holds(logging.Handler):
    """The tenant's "holding the token poll of <device>" log lines, as they come."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.messages.append(record.getMessage())
            self._changed.notify_all()

    def held(self, device_id: str) -> int:
        with self._changed:
            return self._held_locked(device_id)

    def wait_held(self, device_id: str, count: int = 1) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._held_locked(device_id) >= count, WAIT_S)

    def _held_locked(self, device_id: str) -> int:
        return sum("holding" in m and device_id in m for m in self.messages)


@pytest.fixture
def holds() -> Iterator[Holds]:
    logger = logging.getLogger("tenant.claim_wait")
    handler, level = Holds(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


class Poll(threading.Thread):
    """One token poll on a thread of its own, so the test can claim while it is held."""

    def __init__(self, kiosk: RawKiosk) -> None:
        super().__init__(daemon=True)
        self.kiosk = kiosk
        self.response: requests.Response | None = None

    def run(self) -> None:
        self.response = self.kiosk.token()

    def answer(self) -> requests.Response:
        self.join(WAIT_S)
        assert self.response is not None, "the poll was not answered"
        return self.response


def test_a_claim_answers_the_held_poll_with_the_token(
    start_tenant: StartTenant, server_clock: ServerClock, holds: Holds
) -> None:
    # held far longer than the test waits: only the claim can end this poll in time
    tenant = start_tenant(poll_interval_s=120.0, claim_poll_hold_s=100.0)
    kiosk = RawKiosk(tenant.url(SLUG), server_clock)
    code = kiosk.claim_code()
    poll = Poll(kiosk)
    poll.start()
    holds.wait_held(kiosk.device_id)
    assert poll.is_alive()

    tenant.claim(SLUG, code, site="centre")

    response = poll.answer()  # the same poll, not a second one
    assert response.status_code == 200, response.text
    assert response.json()["device"]["site"] == "centre"
    assert holds.held(kiosk.device_id) == 1


def test_a_pending_poll_ends_at_the_bound_with_authorization_pending(
    start_tenant: StartTenant, server_clock: ServerClock, holds: Holds
) -> None:
    tenant = start_tenant(poll_interval_s=60.0, claim_poll_hold_s=0.2)
    kiosk = RawKiosk(tenant.url(SLUG), server_clock)
    kiosk.claim_code()

    response = kiosk.token()

    assert response.status_code == 400
    assert response.json()["error"] == "authorization_pending"
    assert holds.held(kiosk.device_id) == 1
    # the interval runs from that answer: asking again at once is too soon
    assert kiosk.token().json()["error"] == "slow_down"


def test_past_the_waiter_limit_a_poll_is_answered_at_once(
    start_tenant: StartTenant, server_clock: ServerClock, holds: Holds
) -> None:
    tenant = start_tenant(poll_interval_s=120.0, claim_poll_hold_s=100.0, claim_poll_waiters=1)
    first, second = (RawKiosk(tenant.url(SLUG), server_clock) for _ in range(2))
    first_code = first.claim_code()
    second.claim_code()
    held = Poll(first)
    held.start()
    holds.wait_held(first.device_id)

    response = second.token()

    assert response.json()["error"] == "authorization_pending"
    assert held.is_alive()  # the first poll is still held while the second was answered
    assert holds.held(second.device_id) == 0
    tenant.claim(SLUG, first_code, site="centre")
    assert held.answer().status_code == 200


def test_the_kiosk_waits_its_interval_after_each_held_answer(
    start_tenant: StartTenant, holds: Holds, tmp_path: Path
) -> None:
    tenant = start_tenant(poll_interval_s=0.3, claim_poll_hold_s=0.2)
    events: list[str] = []
    lock = threading.Condition()
    stopping = threading.Event()

    def record(event: str) -> None:
        with lock:
            events.append(event)
            lock.notify_all()

    def sleep(seconds: float) -> None:
        record(f"sleep {seconds:g}")
        stopping.wait(seconds)

    kiosk = Kiosk(tmp_path / "state", tenant.url(SLUG), sleep=sleep)
    real_token = kiosk.client.token

    def token(assertion: str) -> TokenGrant:
        record("poll")
        try:
            return real_token(assertion)
        finally:
            record("answer")

    kiosk.client.token = token  # type: ignore[method-assign]
    kiosk.start()
    try:
        with lock:
            assert lock.wait_for(lambda: events.count("answer") >= 4, WAIT_S)
            window = list(events)
    finally:
        stopping.set()
        kiosk.stop()
    polls = window.count("poll")
    # every answer is followed by the whole interval before the next poll: one request per
    # (hold + interval) for an idle kiosk, fewer than one per interval without holding
    cycle = ["poll", "answer", "sleep 0.3"]
    assert window[: 3 * (polls - 1)] == cycle * (polls - 1)
    holds.wait_held(kiosk.key.device_id, polls - 1)
