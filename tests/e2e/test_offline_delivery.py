"""Plays recorded while the broker is down reach the tenant, all of them, once, when it returns.

The 1,000 plays are written into the kiosk's journal with PlayJournal's own open_play and
close_play, the calls the kiosk core makes for every play, with the kiosk's identity, while the
kiosk is stopped (the journal admits one writer). Playing them for real would take 1,000 tracks
(a quarter of an hour with one-second tracks) and would test nothing more: the publisher only
ever reads the journal file. The kiosk then boots with the broker still down, plays nothing
(no autoplay), and delivers the backlog once the broker is back.

The ingester is stopped and started with the broker, as when both run on a server that
reboots. (An ingester left running reconnects by itself, up to 30 s later, and batches the
kiosk sends before it subscribes again reach nobody and are sent again after the kiosk's 30 s
ack timeout: docs/protocol.md. The fault soak exercises that path.)
"""

from __future__ import annotations

import time

from device import FIRMWARE_VERSION
from device.domain import DurationMs, EndReason, PlaylistId, StartedBy, TrackId
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity
from tests.e2e.conftest import ON_EVERY_DATABASE
from tests.e2e.rig import PLAYLIST, SLUG, E2EKiosk, Rig, eventually

PLAYS = 1000


def record_offline_plays(kiosk: E2EKiosk, rig: Rig, count: int) -> None:
    credentials = kiosk.credentials()
    identity = JournalIdentity(
        tenant=credentials.tenant_id,
        site=credentials.site,
        device_id=credentials.device_id,
        firmware_version=FIRMWARE_VERSION,
        boot_id="e2e-offline-boot",
    )
    revision = str(rig.tenant.admin(SLUG).playlist(PLAYLIST)["revision"])
    start_ms = int(time.time() * 1000)
    with PlayJournal(kiosk.journal_path, identity) as journal:
        for i in range(count):
            track = rig.track_ids[i % len(rig.track_ids)]
            event_id = journal.open_play(
                playlist_id=PlaylistId(PLAYLIST),
                playlist_revision=revision,
                track_id=TrackId(track),
                isrc=None,
                track_duration_ms=1000,
                started_by=StartedBy.AUTOPLAY,
                started_wall_ms=start_ms + 1000 * i,
                clock_synced=True,
                started_uptime_ms=1000 * i,
            )
            journal.close_play(
                event_id,
                listened_ms=DurationMs(1000),
                reason=EndReason.FINISHED,
                ended_wall_ms=start_ms + 1000 * i + 1000,
            )


@ON_EVERY_DATABASE
def test_a_thousand_plays_recorded_while_the_broker_is_down_are_all_stored_once(
    rig: Rig,
) -> None:
    kiosk = rig.kiosk("hall")
    device_id = rig.claim(kiosk)
    assert kiosk.quit() == 0
    assert kiosk.journal_stats().total == 0  # it played nothing: no autoplay
    rig.stop_ingester()
    rig.broker.process.stop()

    record_offline_plays(kiosk, rig, PLAYS)
    kiosk.boot()  # running without its broker for a while
    time.sleep(3)
    assert kiosk.journal_stats().finished == PLAYS
    assert rig.stored_seqs(device_id) == []

    rig.broker.process.start()
    started = time.monotonic()
    rig.start_ingester()
    eventually(lambda: kiosk.journal_stats().total == 0, 60, "the outbox to empty")
    took = time.monotonic() - started

    print(f"{PLAYS} offline plays stored, acknowledged, deleted in {took:.1f} s")  # noqa: T201
    assert rig.stored_seqs(device_id) == list(range(1, PLAYS + 1))
    assert rig.store.count_plays(SLUG) == PLAYS
    assert kiosk.journal_stats().last_seq == PLAYS
    assert kiosk.quit() == 0
