"""Long polling of the device flow, against the real tenant over HTTP: a pending kiosk's token
poll is held open and answered the moment its code is claimed (in this service process or in
another one over the same database), ends at the bound otherwise, is answered at once past the
waiter limit; the kiosk counts its interval from poll start to poll start, so after a hold
longer than the interval it polls again at once (one request per hold when idle)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from device.tenant_api.client import TokenGrant
from tenant.admin_client import AdminClient, Credentials
from tenant.broker.process import free_port
from tenant.process import start_serve, stop_serve
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
    """One token poll on a thread of its own, so the test can claim while it is held; with
    `wait_s`, it says how long it waits (`Prefer: wait`, as the kiosk's client does)."""

    def __init__(self, kiosk: RawKiosk, wait_s: int | None = None) -> None:
        super().__init__(daemon=True)
        self.kiosk = kiosk
        self.wait_s = wait_s
        self.response: requests.Response | None = None

    def run(self) -> None:
        self.response = self.kiosk.token(wait_s=self.wait_s)

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
    assert "preference-applied" not in response.headers  # it did not say how long it waits
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


def test_a_poll_during_a_held_one_is_told_to_slow_down(
    start_tenant: StartTenant, server_clock: ServerClock, holds: Holds
) -> None:
    tenant = start_tenant(poll_interval_s=120.0, claim_poll_hold_s=100.0)
    kiosk = RawKiosk(tenant.url(SLUG), server_clock)
    code = kiosk.claim_code()
    poll = Poll(kiosk, wait_s=100)
    poll.start()
    holds.wait_held(kiosk.device_id)

    # an over-eager poller (a second request during the held one) is told to slow down
    assert kiosk.token().json()["error"] == "slow_down"
    assert poll.is_alive()

    tenant.claim(SLUG, code, site="centre")
    assert poll.answer().status_code == 200


def test_a_claim_in_another_service_process_answers_the_held_poll(
    start_tenant: StartTenant, server_clock: ServerClock, holds: Holds, tmp_path: Path
) -> None:
    tenant = start_tenant(poll_interval_s=120.0, claim_poll_hold_s=100.0)
    port = free_port()
    other = start_serve(tenant.data_dir, port, tmp_path / "other-serve.log")
    try:
        kiosk = RawKiosk(tenant.url(SLUG), server_clock)
        code = kiosk.claim_code()
        poll = Poll(kiosk, wait_s=100)
        poll.start()
        holds.wait_held(kiosk.device_id)

        credentials = Credentials(f"http://127.0.0.1:{port}", SLUG, tenant.admin_token(SLUG))
        with AdminClient(credentials) as admin:  # not the held poll's process: no notify
            admin.claim(code, "centre")

        response = poll.answer()  # the held poll re-read the device and saw the claim
        assert response.status_code == 200, response.text
        assert response.json()["device"]["site"] == "centre"
        assert holds.held(kiosk.device_id) == 1
    finally:
        stop_serve(other)


def test_after_a_hold_longer_than_the_interval_the_kiosk_polls_again_at_once(
    start_tenant: StartTenant, holds: Holds, tmp_path: Path
) -> None:
    """So a claim right after a held poll ends is answered by the next poll, sent at once:
    no interval to wait, and still one request per hold for an idle kiosk."""
    tenant = start_tenant(poll_interval_s=0.2, claim_poll_hold_s=0.3)
    events: list[str] = []
    lock = threading.Condition()
    claimed = threading.Event()
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
            if events.count("answer") == 3:
                assert claimed.wait(WAIT_S)  # the claim comes right after this poll ended

    kiosk.client.token = token  # type: ignore[method-assign]
    kiosk.start()
    try:
        pending = kiosk.wait_event(lambda e: e.state == "pending")
        with lock:
            assert lock.wait_for(lambda: events.count("answer") >= 3, WAIT_S)
        assert pending.claim_code is not None
        tenant.claim(SLUG, pending.claim_code, site="centre")
        claimed.set()
        kiosk.wait_event(lambda e: e.state == "active")
    finally:
        stopping.set()
        kiosk.stop()
    # no sleep between polls: each held poll was followed by the next at once, and the claim
    # was answered by the first poll after it
    assert events[:8] == ["poll", "answer"] * 4
    assert holds.held(kiosk.key.device_id) == 3  # every pending poll was held: none too soon
    assert kiosk.client.token_calls == 4


def test_stopping_the_kiosk_does_not_wait_for_its_held_poll(
    start_tenant: StartTenant, holds: Holds, tmp_path: Path
) -> None:
    tenant = start_tenant(poll_interval_s=120.0, claim_poll_hold_s=100.0)
    kiosk = Kiosk(tmp_path / "state", tenant.url(SLUG)).start()
    pending = kiosk.wait_event(lambda e: e.state == "pending")
    holds.wait_held(kiosk.key.device_id)

    kiosk.stop()  # asserts the enrollment thread ended (within WAIT_S, far below the hold)

    assert pending.claim_code is not None
    tenant.claim(SLUG, pending.claim_code, site="centre")  # ends the abandoned held poll
