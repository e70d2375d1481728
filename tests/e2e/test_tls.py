"""Plays travel over TLS to a broker whose certificate comes from a CA the test made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.rig import Rig, eventually
from tests.support.broker import SecuredBroker


@pytest.fixture
def tls_rig(
    tmp_path: Path, tls_broker: SecuredBroker, short_tracks: list[Path], database_url: str
) -> Iterator[Rig]:
    rig = Rig(tmp_path, tls_broker, short_tracks, database_url=database_url)
    yield rig
    rig.close()


def test_a_kiosk_given_the_ca_delivers_its_plays_over_tls(tls_rig: Rig) -> None:
    rig = tls_rig
    ca_file = rig.broker.settings.ca_file
    assert ca_file is not None
    kiosk = rig.kiosk("hall", autoplay=True, ca_file=ca_file)

    device_id = rig.claim(kiosk)

    account = kiosk.credentials().mqtt
    assert account is not None and account.tls and account.host == "localhost"
    assert f"MQTT connected to localhost:{account.port}" in kiosk.log_text()
    kiosk.wait_until(lambda s: s["plays_started"] >= 3, 20, "three one-second plays")

    def two_stored() -> list[int] | None:
        seqs = rig.stored_seqs(device_id)
        return seqs if len(seqs) >= 2 else None

    stored = eventually(two_stored, 15, "plays stored at the tenant")
    assert stored == list(range(1, len(stored) + 1))
    assert kiosk.quit() == 0
