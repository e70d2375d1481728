"""`jukebox admin push` to three real kiosk processes, one of them offline."""

from __future__ import annotations

import pytest

from tests.e2e.cli import admin, rows
from tests.e2e.rig import SLUG, Rig, eventually


def test_a_push_reaches_two_online_kiosks_at_once_and_the_third_when_it_comes_back(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.tenant.create_playlist(SLUG, "jazz", "Jazz", rig.track_ids[:2])
    kiosks = [rig.kiosk(name) for name in ("hall", "annexe", "basement")]
    for kiosk in kiosks:
        kiosk.boot()  # side by side, then claimed one after the other
    ids = [rig.claim(kiosk) for kiosk in kiosks]
    hall, annexe, basement = kiosks
    assert all(k.status()["volume"] == 40 for k in kiosks)  # [audio] default_volume
    assert basement.quit() == 0
    rig.wait_status(ids[2], lambda s: s.online is False, "offline")

    pushed_ms = rig.settings.now_ms()
    code, out, _ = admin(
        rig, capsys, "push", "--site", "centre", "--playlist", "jazz", "--featured", "jazz",
        "--volume-min", "50", "--volume-max", "60", "--wait", "8",
    )  # fmt: skip

    assert code == 1, out  # one kiosk did not apply
    table = rows(out)
    assert "applied" in table[ids[0]] and "applied" in table[ids[1]], out
    assert "offline" in table[ids[2]], out
    reported = [rig.wait_status(i, lambda s: s.reported_ms is not None, "") for i in ids[:2]]
    took = (max(s.reported_ms or 0 for s in reported) - pushed_ms) / 1000
    print(f"push: both online kiosks reported applied {took:.2f} s after it")  # noqa: T201
    for kiosk in (hall, annexe):  # idle kiosks take the new featured playlist and limits at once
        status = kiosk.status()
        assert (status["playlist_id"], status["volume"]) == ("jazz", 50), status
    assert hall.client is not None
    hall.client.send(cmd="rotate", steps=10)
    hall.wait_until(lambda s: s["volume"] == 60, 5, "the volume to stop at the new maximum")

    basement.boot()
    basement.wait_until(
        lambda s: s["playlist_id"] == "jazz" and s["volume"] == 50, 30, "the retained state"
    )

    def rollout() -> str | None:
        [state] = rig.tenant.admin(SLUG).status([ids[2]])
        return "ok" if state["rollout"] == "applied" and state["online"] else None

    eventually(rollout, 30, "the third kiosk to report applied")
    assert rig.store.desired_states(SLUG)[ids[2]].version == 1
