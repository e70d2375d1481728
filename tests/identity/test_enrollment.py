"""A kiosk's life with its tenant, against the real tenant service over HTTP: claimed with a
code on its screen, revoked and claimed again, through outages and restarts."""

from __future__ import annotations

import json
import logging
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from device.identity.credentials import CREDENTIALS_FILE, load_credentials
from device.platform.backoff import Backoff
from device.tenant_api.errors import DeviceRevoked
from tenant.admin_client import AdminError
from tenant.packs import public_signing_key
from tests.identity.conftest import SLUG, WAIT_S, MakeKiosk, StartTenant
from tests.support.tenant import RunningTenant

CLAIM_CODE = re.compile(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}")  # no 0/O, 1/I/L


def test_a_new_kiosk_shows_a_claim_code_then_becomes_active_once_claimed(
    tenant: RunningTenant, kiosks: MakeKiosk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk = kiosks(tenant.url(SLUG))
    pending = kiosk.wait_state("pending")
    assert kiosk.events[0].state == "enrolling"
    assert pending.claim_code is not None and CLAIM_CODE.fullmatch(pending.claim_code)
    assert pending.tenant_name == "Library network lib-a"
    assert kiosk.enrollment.status == pending

    active = kiosk.claim(tenant, site="centre", name="Window kiosk")

    assert (active.tenant_id, active.site, active.claim_code) == (SLUG, "centre", None)
    assert active.tenant_name == "Library network lib-a"
    assert kiosk.enrollment.wait_until_active(0)
    path = tmp_path / "state" / CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = load_credentials(tmp_path / "state")
    assert stored is not None and stored == kiosk.enrollment.credentials
    assert stored.device_id == kiosk.key.device_id
    assert (stored.site, stored.device_name, stored.tenant_id) == ("centre", "Window kiosk", SLUG)
    assert stored.mqtt is not None
    assert (stored.mqtt.host, stored.mqtt.port, stored.mqtt.tls) == ("127.0.0.1", 8883, True)
    assert stored.mqtt.username == kiosk.key.device_id and stored.mqtt.password
    assert stored.mqtt.password not in caplog.text
    assert stored.mqtt.password not in json.dumps([str(e) for e in kiosk.events])
    # The key that signs this tenant's content packs (device/stick/pack.py), learnt at the claim.
    assert stored.signing_key == public_signing_key(tenant.data_dir, SLUG)

    with kiosk.enrollment.session.get("/v1/device/playlists") as response:
        assert response.status_code == 200
    [device] = tenant.devices(SLUG)
    assert (device["device_id"], device["status"]) == (kiosk.key.device_id, "active")


def test_polling_slows_down_by_five_seconds_when_the_tenant_says_so(
    start_tenant: StartTenant, kiosks: MakeKiosk
) -> None:
    # never really waited: the sleep is fake; polls answered at once, not held
    tenant = start_tenant(poll_interval_s=1.0, claim_poll_hold_s=0)
    delays: list[float] = []
    enough = threading.Event()
    stopping = threading.Event()

    def impatient_sleep(seconds: float) -> None:
        """Records the wait asked for, but polls again almost at once: too fast."""
        delays.append(seconds)
        if len(delays) >= 4:
            enough.set()
        stopping.wait(0.01)

    kiosk = kiosks(tenant.url(SLUG), sleep=impatient_sleep)
    assert enough.wait(WAIT_S)
    # the first poll goes at once after enroll; after authorization_pending the interval, then
    # after each slow_down: +5 s each time (less the poll's own time: counted from its start)
    intervals = [1.0, 6.0, 11.0, 16.0]
    assert delays[:4] == pytest.approx(intervals, abs=0.5)
    assert all(d <= i for d, i in zip(delays[:4], intervals, strict=True))
    assert kiosk.states()[-1] == "pending"  # slowing down is not a change for the screen
    kiosk.claim(tenant)
    stopping.set()


def test_an_expired_claim_code_is_replaced_by_a_new_one(
    start_tenant: StartTenant, kiosks: MakeKiosk
) -> None:
    tenant = start_tenant(claim_code_ttl_s=1.0)
    kiosk = kiosks(tenant.url(SLUG))
    first = kiosk.wait_event(lambda e: e.state == "pending")
    second = kiosk.wait_event(lambda e: e.state == "pending" and e.claim_code != first.claim_code)
    assert second.claim_code is not None and CLAIM_CODE.fullmatch(second.claim_code)
    assert first.claim_code is not None
    with pytest.raises(AdminError):
        tenant.claim(SLUG, first.claim_code, site="centre")  # the old code is dead
    mark = len(kiosk.events)
    tenant.claim(SLUG, second.claim_code, site="centre")
    assert kiosk.wait_state("active", after=mark).site == "centre"


def test_a_revoked_kiosk_says_so_and_is_claimed_again_with_a_new_code_under_the_same_id(
    tenant: RunningTenant, kiosks: MakeKiosk, tmp_path: Path
) -> None:
    kiosk = kiosks(tenant.url(SLUG))
    kiosk.claim(tenant, site="centre")
    session = kiosk.enrollment.session
    mark = len(kiosk.events)

    tenant.revoke(SLUG, kiosk.key.device_id)
    with pytest.raises(DeviceRevoked):
        session.get("/v1/device/playlists")  # the sync's next request

    revoked = kiosk.wait_state("revoked", after=mark)
    assert revoked.tenant_name == "Library network lib-a" and revoked.tenant_id == ""
    with pytest.raises(DeviceRevoked):
        session.get("/v1/device/playlists")  # the sync stays stopped
    again = kiosk.wait_event(lambda e: e.state == "revoked" and e.claim_code is not None, mark)
    assert again.claim_code is not None and CLAIM_CODE.fullmatch(again.claim_code)

    mark = len(kiosk.events)
    tenant.claim(SLUG, again.claim_code, site="annexe", name="Moved kiosk")
    active = kiosk.wait_state("active", after=mark)

    assert active.site == "annexe"
    [device] = tenant.devices(SLUG)
    assert (device["device_id"], device["status"]) == (kiosk.key.device_id, "active")
    stored = load_credentials(tmp_path / "state")
    assert stored is not None and (stored.site, stored.device_name) == ("annexe", "Moved kiosk")
    with session.get("/v1/device/playlists") as response:
        assert response.status_code == 200


def test_a_revocation_is_noticed_even_when_nothing_syncs(
    start_tenant: StartTenant, kiosks: MakeKiosk
) -> None:
    tenant = start_tenant(access_token_ttl_s=1.0)  # renewed at 0.8 s
    kiosk = kiosks(tenant.url(SLUG))
    kiosk.claim(tenant)
    mark = len(kiosk.events)
    tenant.revoke(SLUG, kiosk.key.device_id)
    assert kiosk.wait_state("revoked", after=mark).claim_code is None
    kiosk.wait_event(lambda e: e.state == "revoked" and e.claim_code is not None, mark)


def test_a_kiosk_booting_while_the_tenant_is_down_says_unreachable_once_then_enrolls(
    tenant: RunningTenant, kiosks: MakeKiosk
) -> None:
    url = tenant.url(SLUG)
    tenant.stop()
    retries = threading.Event()
    draws: list[float] = []

    def rand() -> float:
        draws.append(0.5)
        if len(draws) >= 5:
            retries.set()
        return 0.5

    kiosk = kiosks(url, backoff=Backoff(base_s=0.02, cap_s=0.1, rand=rand))
    unreachable = kiosk.wait_state("unreachable")
    assert "connection refused" in unreachable.detail
    assert retries.wait(WAIT_S)
    assert kiosk.states() == ["enrolling", "unreachable"]  # once, not once per retry

    tenant.restart()
    kiosk.claim(tenant)
    assert kiosk.states() == ["enrolling", "unreachable", "pending", "active"]


def test_a_claimed_kiosk_restarting_goes_straight_to_active_with_its_stored_credentials(
    tenant: RunningTenant, kiosks: MakeKiosk, tmp_path: Path
) -> None:
    first = kiosks(tenant.url(SLUG))
    first.claim(tenant, site="centre")
    first.stop()
    stored = (tmp_path / "state" / CREDENTIALS_FILE).read_bytes()

    second = kiosks(tenant.url(SLUG))
    active = second.wait_state("active")
    assert second.states() == ["active"]  # no enrolling, no claim code shown
    assert (active.tenant_id, active.site) == (SLUG, "centre")
    assert second.key.device_id == first.key.device_id
    assert second.client.token_calls == 1
    assert (tmp_path / "state" / CREDENTIALS_FILE).read_bytes() == stored
    assert [d["status"] for d in tenant.devices(SLUG)] == ["active"]


def test_a_claimed_kiosk_booting_offline_keeps_its_tenant_and_site_and_recovers(
    tenant: RunningTenant, kiosks: MakeKiosk
) -> None:
    first = kiosks(tenant.url(SLUG))
    first.claim(tenant, site="centre")
    first.stop()
    tenant.stop()

    second = kiosks(tenant.url(SLUG))
    unreachable = second.wait_state("unreachable")
    assert (unreachable.tenant_id, unreachable.site) == (SLUG, "centre")
    assert unreachable.tenant_name == "Library network lib-a"
    assert unreachable.claim_code is None
    tenant.restart()
    second.wait_state("active")
    assert second.states() == ["unreachable", "active"]


def test_a_kiosk_whose_clock_is_days_behind_still_gets_its_tokens(
    tenant: RunningTenant, kiosks: MakeKiosk
) -> None:
    first = kiosks(tenant.url(SLUG))
    first.claim(tenant)
    first.stop()

    def days_behind() -> float:
        return time.time() - 3 * 86400

    second = kiosks(tenant.url(SLUG), wall_clock=days_behind)
    second.wait_state("active")
    assert second.client.token_calls == 2  # refused once, then stamped with the tenant's time


def test_credentials_of_another_tenant_lead_to_enrolling_with_the_configured_one(
    start_tenant: StartTenant, kiosks: MakeKiosk
) -> None:
    tenant = start_tenant(slugs=("lib-a", "lib-b"))
    first = kiosks(tenant.url("lib-a"))
    first.claim(tenant)
    first.stop()

    moved = kiosks(tenant.url("lib-b"))
    pending = moved.wait_state("pending")
    assert pending.tenant_name == "Library network lib-b" and pending.claim_code
    assert moved.key.device_id == first.key.device_id


def test_a_tenant_that_forgot_the_device_gets_it_enrolled_again(
    tenant: RunningTenant, kiosks: MakeKiosk, tmp_path: Path
) -> None:
    first = kiosks(tenant.url(SLUG))
    first.claim(tenant)
    first.stop()
    tenant.stop()
    reset = RunningTenant(tmp_path / "tenant-after-reset", settings=tenant.settings)  # empty...
    reset.port = tenant.port  # ...at the same address
    with reset.start():
        second = kiosks(reset.url(SLUG))
        pending = second.wait_state("pending")
        assert second.states() == ["enrolling", "pending"]
        assert pending.claim_code is not None
        second.claim(reset, site="annexe")
        assert second.key.device_id == first.key.device_id


def test_stopping_is_prompt_even_between_slow_polls(
    start_tenant: StartTenant, kiosks: MakeKiosk
) -> None:
    tenant = start_tenant(poll_interval_s=30.0, claim_poll_hold_s=0)  # polls answered at once
    kiosk = kiosks(tenant.url(SLUG))
    kiosk.wait_state("pending")
    started = time.monotonic()
    kiosk.stop()
    assert time.monotonic() - started < 1.0
