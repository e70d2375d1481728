"""A real tenant service with short intervals, and kiosks enrolling with it on their own threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from device.events import EnrollmentChanged, EnrollmentState, Event
from device.identity.enrollment import Enrollment
from device.identity.keys import DeviceKey
from device.platform.backoff import Backoff
from device.tenant_api.client import TenantClient, TokenGrant
from tenant.settings import TenantSettings
from tests.support.tenant import RunningTenant, running_tenant

SLUG = "lib-a"
FIRMWARE = "0.1.0"
WAIT_S = 10.0  # a deadline for waits, never a sleep: waits end as soon as the event comes


class ServerClock:
    """The tenant's wall clock, which a test may move forward (tokens expire server-side)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Monotonic:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingClient(TenantClient):
    """A real client that counts its token requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token_calls = 0
        self._count_lock = threading.Lock()

    def token(self, assertion: str) -> TokenGrant:
        with self._count_lock:
            self.token_calls += 1
        return super().token(assertion)


StartTenant = Callable[..., RunningTenant]


@pytest.fixture
def server_clock() -> ServerClock:
    return ServerClock()


@pytest.fixture
def start_tenant(tmp_path: Path, server_clock: ServerClock) -> Iterator[StartTenant]:
    """Start the tenant service with short intervals; keyword arguments override settings."""
    started: list[RunningTenant] = []

    def start(slugs: tuple[str, ...] = (SLUG,), **settings: Any) -> RunningTenant:
        base = TenantSettings(poll_interval_s=0.1, claim_code_ttl_s=60, clock=server_clock)
        tenant = running_tenant(tmp_path / "tenant", slugs, settings=replace(base, **settings))
        started.append(tenant)
        return tenant

    yield start
    for tenant in started:
        tenant.stop()


@pytest.fixture
def tenant(start_tenant: StartTenant) -> RunningTenant:
    return start_tenant()


class Kiosk:
    """One kiosk's identity: its state directory, an Enrollment thread, the events it posted."""

    def __init__(
        self,
        state_dir: Path,
        url: str,
        *,
        wall_clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        **options: Any,
    ) -> None:
        self.state_dir = state_dir
        self.key = DeviceKey.load_or_create(state_dir)
        self.client = CountingClient(url, timeout=5.0, wall_clock=wall_clock)
        self.events: list[EnrollmentChanged] = []
        self._changed = threading.Condition()
        options = {"check_interval_s": 0.1, "revoked_poll_s": 0.2, **options}
        self.enrollment = Enrollment(
            state_dir,
            self.client,
            self.key,
            self._post,
            FIRMWARE,
            backoff=backoff or Backoff(base_s=0.05, cap_s=0.2),
            **options,
        )
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def _post(self, event: Event) -> None:
        assert isinstance(event, EnrollmentChanged)
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def start(self) -> Kiosk:
        self.thread = self.enrollment.start(self.stopping)
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(WAIT_S)
            assert not self.thread.is_alive(), "the enrollment thread did not stop"
        self.client.close()

    def wait_event(
        self,
        matches: Callable[[EnrollmentChanged], bool],
        after: int = 0,
        timeout: float = WAIT_S,
    ) -> EnrollmentChanged:
        """The first event from index `after` on that matches, waiting for it if need be."""

        def found() -> EnrollmentChanged | None:
            return next((e for e in self.events[after:] if matches(e)), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no matching event within {timeout} s in {self.events}")
            event = found()
        assert event is not None
        return event

    def wait_state(
        self, state: EnrollmentState, after: int = 0, timeout: float = WAIT_S
    ) -> EnrollmentChanged:
        return self.wait_event(lambda e: e.state == state, after, timeout)

    def states(self) -> list[str]:
        with self._changed:
            return [e.state for e in self.events]

    def claim(
        self, tenant: RunningTenant, site: str = "centre", name: str = "Window kiosk"
    ) -> EnrollmentChanged:
        """Wait for the claim code, have the admin claim it, and wait until active."""
        pending = self.wait_event(lambda e: e.state == "pending" and e.claim_code is not None)
        assert pending.claim_code is not None
        mark = len(self.events)
        tenant.claim(SLUG, pending.claim_code, site=site, name=name)
        return self.wait_state("active", after=mark)


MakeKiosk = Callable[..., Kiosk]


@pytest.fixture
def kiosks(tmp_path: Path) -> Iterator[MakeKiosk]:
    """Start kiosks (by default all in one state directory, like restarts of one kiosk)."""
    made: list[Kiosk] = []

    def make(url: str, state_dir: Path | None = None, **options: Any) -> Kiosk:
        kiosk = Kiosk(state_dir or tmp_path / "state", url, **options)
        made.append(kiosk)
        return kiosk.start()

    yield make
    for kiosk in made:
        kiosk.stop()


def claimed_key(tenant: RunningTenant, state_dir: Path, site: str = "centre") -> DeviceKey:
    """A device key that an admin has claimed (enrolled and claimed without any thread)."""
    key = DeviceKey.load_or_create(state_dir)
    client = TenantClient(tenant.url(SLUG), timeout=5.0)
    try:
        answer = client.enroll(key.public_bytes, FIRMWARE)
    finally:
        client.close()
    assert answer.claim_code is not None
    tenant.claim(SLUG, answer.claim_code, site=site, name="Kiosk")
    return key
