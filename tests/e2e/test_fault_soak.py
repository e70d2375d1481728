"""Fault soak: a kiosk playing one-second tracks is SIGKILLed 30 times at random moments while
the broker and the ingester are restarted (and sometimes killed); in the end every play the
journal ever started is stored at the tenant exactly once, and the kiosk's outbox is empty.

The moments are drawn from a seeded generator: the seed is printed, and JUKEBOX_SOAK_SEED
replays a run.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.rig import Rig, eventually
from tests.support.broker import SecuredBroker

KILLS = 30
SEED = int(os.environ.get("JUKEBOX_SOAK_SEED", "20261129"))
# After a boot the kiosk runs this long (seconds) before it is killed: from inside its start-up
# (journal recovery, reconnects) to a few one-second tracks in.
RUN_S = (0.0, 3.0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_started_play_is_stored_once_through_thirty_crashes_and_server_restarts(
    tmp_path: Path, dynsec_broker: SecuredBroker, short_tracks: list[Path], database_url: str
) -> None:
    rand = random.Random(SEED)
    print(f"\nfault soak: seed {SEED} (JUKEBOX_SOAK_SEED={SEED} replays it)")  # noqa: T201
    rig = Rig(
        tmp_path, dynsec_broker, short_tracks, database_url=database_url, ingester_process=True
    )
    broker = dynsec_broker.process
    ingester = rig.ingester_process
    assert ingester is not None
    try:
        kiosk = rig.kiosk("hall", autoplay=True)
        device_id = rig.claim(kiosk)
        started = time.monotonic()
        faults: Counter[str] = Counter()
        for kill in range(1, KILLS + 1):
            time.sleep(rand.uniform(*RUN_S))
            kiosk.kill()
            faults["kiosk SIGKILL"] += 1
            if kill % 8 == 0:  # the broker: SIGKILL once (loses up to 5 s of its state), else stop
                if kill == 16:
                    broker.kill()
                    faults["broker SIGKILL"] += 1
                else:
                    broker.stop()
                    faults["broker stop"] += 1
                time.sleep(rand.uniform(0.0, 1.0))
                broker.start()
            if kill % 8 == 4:  # the ingester crashes and comes back
                ingester.kill()
                faults["ingester SIGKILL"] += 1
                ingester.start()
            kiosk.boot()
        soak_s = time.monotonic() - started

        kiosk.quit()  # the play in progress ends as stopped; then no more plays:
        kiosk.configure(autoplay=False)
        kiosk.boot()
        drain_started = time.monotonic()
        eventually(lambda: kiosk.journal_stats().total == 0, 120, "the outbox to empty")
        drain_s = time.monotonic() - drain_started
        last_seq = kiosk.journal_stats().last_seq
        rows = rig.stored_plays(device_id)
        seqs = sorted(int(row["seq"]) for row in rows)
        reasons = Counter(str(row["end_reason"]) for row in rows)
        print(  # noqa: T201 - the figures of the run, shown with -s and on failure
            f"fault soak: {dict(faults)} in {soak_s:.0f} s; {last_seq} plays started, "
            f"{len(rows)} stored ({dict(reasons)}); outbox empty {drain_s:.1f} s after the last "
            "boot"
        )

        assert last_seq is not None and last_seq >= KILLS  # it did play between the kills
        missing = sorted(set(range(1, last_seq + 1)) - set(seqs))
        twice = sorted(seq for seq, n in Counter(seqs).items() if n > 1)
        assert (missing, twice) == ([], []), f"seed {SEED}: missing, stored twice"
        assert seqs == list(range(1, last_seq + 1))
        assert len({row["event_id"] for row in rows}) == last_seq
        assert reasons["interrupted"] >= 1  # some kills did cut a play short
        assert kiosk.quit() == 0
    finally:
        rig.close()
