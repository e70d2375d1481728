"""Which plays the store says it holds for each device: new, sent again, or an id another
kiosk already used, in one group of reports; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tenant.store import TenantStore
from tests.tenant.mqtt_device import play

SLUG = "lib-a"
KIOSK_A = "jk-aaaaaaaaaaaaaaaaaaaa"
KIOSK_B = "jk-bbbbbbbbbbbbbbbbbbbb"
RECEIVED = 1_780_000_100_000


def of(device: str, seq: int, event_id: str) -> dict[str, Any]:
    return play(SLUG, device, seq, event_id=event_id)


def owners(store: TenantStore) -> dict[str, str]:
    return {r["event_id"]: r["device_id"] for r in store.play_rows(SLUG)}


def test_new_resent_and_foreign_ids_in_one_group(store: TenantStore) -> None:
    first = store.store_plays(SLUG, [of(KIOSK_A, 1, "a1"), of(KIOSK_A, 2, "a2")], RECEIVED)
    again = store.store_plays(
        SLUG, [of(KIOSK_A, 1, "a1"), of(KIOSK_B, 1, "b1"), of(KIOSK_B, 2, "a2")], RECEIVED
    )

    assert (first.stored, first.foreign) == (["a1", "a2"], [])
    assert (again.stored, again.foreign) == (["a1", "b1"], ["a2"])
    assert owners(store) == {"a1": KIOSK_A, "a2": KIOSK_A, "b1": KIOSK_B}


def test_one_new_id_from_two_kiosks_in_one_group_is_stored_once_for_one_of_them(
    store: TenantStore,
) -> None:
    both = store.store_plays(SLUG, [of(KIOSK_A, 1, "x"), of(KIOSK_B, 1, "x")], RECEIVED)

    assert store.count_plays(SLUG) == 1
    owner = owners(store)["x"]
    assert owner in (KIOSK_A, KIOSK_B)
    # Stored for its owner, refused as foreign for the other (one entry per report sent).
    assert set(both.stored) == set(both.foreign) == {"x"}
