"""A revoked kiosk loses its broker account at once, and keeps the plays nobody acknowledged."""

from __future__ import annotations

import time

import pytest

from tests.e2e.cli import admin
from tests.e2e.conftest import ON_EVERY_DATABASE
from tests.e2e.rig import SLUG, Rig, eventually


@ON_EVERY_DATABASE
def test_a_revoked_kiosk_is_cut_off_the_broker_and_keeps_its_unacknowledged_plays(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = rig.kiosk("hall", autoplay=True)
    device_id = rig.claim(kiosk)
    account = kiosk.credentials().mqtt
    assert account is not None
    rig.stop_ingester()  # what the kiosk plays from now on is not acknowledged

    def finished_unacknowledged() -> set[str]:
        return {p.event_id for p in kiosk.plays() if p.end_reason is not None}

    # A play that ended before the ingester stopped may already be acknowledged and
    # gone from the journal: wait for two that no one acknowledged.
    eventually(lambda: len(finished_unacknowledged()) >= 2, 30, "two unacknowledged plays")
    waiting = finished_unacknowledged()

    code, _, err = admin(rig, capsys, "revoke", device_id)

    assert code == 0, err
    lost = f"MQTT connection to {account.host}:{account.port} lost"
    refused = f"refused account '{account.username}' (Not authorized)"
    # Its reconnection backoff may have grown while it was being claimed: allow for it.
    eventually(lambda: refused in kiosk.log_text(), 40, "the kiosk's reconnection refused")
    assert lost in kiosk.log_text()  # the broker disconnected it at the revocation
    with pytest.raises(ConnectionRefusedError):  # its account is gone: refused from now on
        rig.broker.probe(account.username, account.password)
    kiosk.wait_until(lambda s: s["tenant_state"] == "revoked", 30, "the kiosk to learn it")
    rig.start_ingester()

    def offline() -> bool:
        [state] = rig.tenant.admin(SLUG).status([device_id])
        return state["online"] is False and state["offline_reason"] == "revoked"

    eventually(offline, 15, "the tenant to show the kiosk offline")
    time.sleep(2)  # the ingester caught up with what was queued for it: no ack reaches the kiosk
    kept = {p.event_id for p in kiosk.plays()}
    assert waiting <= kept
    assert kiosk.quit() == 0
    assert waiting <= {p.event_id for p in kiosk.plays()}  # and still after a clean stop
