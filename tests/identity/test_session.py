"""TenantSession against the real tenant: one token shared by threads, renewed at 80 % of its
lifetime on the monotonic clock and once on a 401, and refusals remembered."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import requests

from device.identity.keys import DeviceKey
from device.ports import TenantHttp
from device.tenant_api.errors import (
    DeviceRevoked,
    NotClaimed,
    TenantRefused,
    TenantUnreachable,
)
from device.tenant_api.session import TenantSession
from tests.identity.conftest import (
    FIRMWARE,
    SLUG,
    CountingClient,
    Monotonic,
    ServerClock,
    StartTenant,
    claimed_key,
)
from tests.support.tenant import RunningTenant

PLAYLISTS = "/v1/device/playlists"


def session_for(
    tenant: RunningTenant, state_dir: Path, clock: Monotonic | None = None
) -> tuple[TenantSession, CountingClient]:
    key = claimed_key(tenant, state_dir)
    client = CountingClient(tenant.url(SLUG), timeout=5.0)
    return TenantSession(client, key, monotonic=clock or Monotonic()), client


def status_of(session: TenantSession) -> int:
    with session.get(PLAYLISTS) as response:
        return response.status_code


def test_a_session_is_the_tenant_http_the_sync_uses(tenant: RunningTenant, tmp_path: Path) -> None:
    session, _ = session_for(tenant, tmp_path)
    http: TenantHttp = session  # checked by mypy: the port's signature
    assert http.base_url == tenant.url(SLUG)
    with http.get(PLAYLISTS, headers={"Accept": "application/json"}) as response:
        assert response.status_code == 200 and "playlists" in response.json()


def test_a_token_is_reused_until_80_percent_of_its_lifetime_then_renewed(
    start_tenant: StartTenant, tmp_path: Path
) -> None:
    tenant = start_tenant(access_token_ttl_s=100.0)
    clock = Monotonic()
    session, client = session_for(tenant, tmp_path, clock)
    assert status_of(session) == 200
    first = session.grant
    assert first is not None and client.token_calls == 1

    clock.now += 79.9
    assert status_of(session) == 200
    assert session.grant is first and client.token_calls == 1

    clock.now += 0.2  # past 80 s of 100: renewed before the tenant would refuse it
    assert status_of(session) == 200
    assert session.grant is not first and client.token_calls == 2
    assert session.grant is not None and session.grant.access_token != first.access_token


def test_a_token_the_tenant_refuses_is_renewed_once_and_the_request_retried(
    start_tenant: StartTenant, tmp_path: Path, server_clock: ServerClock
) -> None:
    tenant = start_tenant(access_token_ttl_s=5.0)
    session, client = session_for(tenant, tmp_path)  # its monotonic clock never moves
    assert status_of(session) == 200
    server_clock.offset = 6.0  # the tenant's clock moves on: the token expired there

    assert status_of(session) == 200
    assert client.token_calls == 2


def test_threads_share_one_renewal(start_tenant: StartTenant, tmp_path: Path) -> None:
    tenant = start_tenant(access_token_ttl_s=100.0)
    clock = Monotonic()
    session, client = session_for(tenant, tmp_path, clock)
    statuses: list[int] = []
    lock = threading.Lock()

    def burst() -> None:
        start = threading.Barrier(8)

        def one() -> None:
            start.wait()
            code = status_of(session)
            with lock:
                statuses.append(code)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    burst()
    assert client.token_calls == 1
    clock.now += 81
    burst()
    assert client.token_calls == 2
    assert statuses == [200] * 16


def test_a_revoked_device_raises_and_stops_asking_until_it_is_granted_again(
    tenant: RunningTenant, tmp_path: Path
) -> None:
    key = claimed_key(tenant, tmp_path)
    client = CountingClient(tenant.url(SLUG), timeout=5.0)
    told: list[DeviceRevoked] = []
    session = TenantSession(client, key, on_revoked=told.append)
    assert status_of(session) == 200

    tenant.revoke(SLUG, key.device_id)
    with pytest.raises(DeviceRevoked) as caught:
        session.get(PLAYLISTS)
    assert caught.value.status == 403 and caught.value.error == "access_denied"
    assert len(told) == 1 and client.token_calls == 2
    with pytest.raises(DeviceRevoked):
        session.get(PLAYLISTS)
    with pytest.raises(DeviceRevoked):
        session.ensure_token()
    assert len(told) == 1 and client.token_calls == 2  # remembered: no request

    answer = client.enroll(key.public_bytes, FIRMWARE)  # what the enrollment thread does
    assert answer.claim_code is not None
    tenant.claim(SLUG, answer.claim_code, site="annexe")
    assert session.renew().site == "annexe"
    assert status_of(session) == 200


def test_an_unclaimed_device_raises_not_claimed_once_and_then_without_asking(
    tenant: RunningTenant, tmp_path: Path
) -> None:
    key = DeviceKey.load_or_create(tmp_path)
    # The tenant holds a pending poll as long as the client says it waits: 1 s, not 20.
    client = CountingClient(tenant.url(SLUG), timeout=5.0, token_wait_s=1)
    answer = client.enroll(key.public_bytes, FIRMWARE)
    session = TenantSession(client, key)
    with pytest.raises(NotClaimed):
        session.get(PLAYLISTS)
    with pytest.raises(NotClaimed):
        session.get(PLAYLISTS)
    assert client.token_calls == 1  # the sync cannot make the claim poller slow down

    assert answer.claim_code is not None
    tenant.claim(SLUG, answer.claim_code, site="centre")
    session.renew()
    assert status_of(session) == 200


def test_a_device_the_tenant_never_saw_is_refused(tenant: RunningTenant, tmp_path: Path) -> None:
    session = TenantSession(CountingClient(tenant.url(SLUG)), DeviceKey.load_or_create(tmp_path))
    with pytest.raises(TenantRefused) as caught:
        session.get(PLAYLISTS)
    assert (caught.value.status, caught.value.error) == (401, "invalid_client")


def test_a_stopped_tenant_is_unreachable_and_a_restarted_one_answers(
    tenant: RunningTenant, tmp_path: Path
) -> None:
    session, _ = session_for(tenant, tmp_path)
    assert status_of(session) == 200
    tenant.stop()
    with pytest.raises(TenantUnreachable, match="connection refused"):
        session.get(PLAYLISTS)
    tenant.restart()
    assert status_of(session) == 200


def test_other_statuses_are_returned_for_the_caller_to_judge(
    tenant: RunningTenant, tmp_path: Path
) -> None:
    session, _ = session_for(tenant, tmp_path)
    with session.get("/v1/media/" + "0" * 64) as response:
        assert response.status_code == 404
    with session.get(PLAYLISTS, stream=True) as streamed:
        assert isinstance(streamed, requests.Response)
        assert b"playlists" in next(streamed.iter_content(4096))


def test_the_access_token_never_reaches_the_logs(
    tenant: RunningTenant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session, _ = session_for(tenant, tmp_path)
    assert status_of(session) == 200
    assert session.grant is not None
    assert session.grant.access_token not in caplog.text
    assert session.grant.access_token not in repr(session.grant)
