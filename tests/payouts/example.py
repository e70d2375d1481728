"""The worked example of docs/payouts.md as inputs, shared by the tests of tests/payouts."""

from __future__ import annotations

import itertools

from tenant.payouts import (
    CountedPlay,
    PayoutInputs,
    PayoutRules,
    Period,
    RightsHolder,
    Share,
    Subscription,
    Track,
)

NOVEMBER = Period.month(2026, 11)
DECEMBER = Period.month(2026, 12)
HOLDERS = (
    RightsHolder("ana", "Ana Lumière", "ana@example.org", payment_details="FR76 1234 SECRET"),
    RightsHolder("brume", "Duo Brume", "brume@example.org"),
    RightsHolder("soleil", "Label Soleil", "contact@soleil.example"),
)
TRACKS = (
    Track("t1", "FRX202600001", "Ana Lumière", "Marée", (Share("ana", 10_000),)),
    Track(
        "t2", "FRX202600002", "Duo Brume", "Nuit", (Share("brume", 6_000), Share("soleil", 4_000))
    ),
    Track("t3", "FRX202600003", "Soleil Band", "=Tube", (Share("soleil", 10_000),)),
    Track("t4", "", "Inconnu", "Sans nom"),
)
SUBSCRIPTIONS = (
    Subscription("alcazar", frozenset({"alcazar"}), "2026-11", 10_000, "EUR"),
    Subscription("nord", frozenset({"nord-1", "nord-2"}), "2026-11", 5_000, "EUR"),
)
_ids = itertools.count(1)


def play(
    site: str,
    track: str,
    *,
    listened_ms: int = 60_000,
    started_by: str = "visitor",
    end_reason: str = "finished",
    played_ms: int | None = None,
    received_ms: int | None = None,
    event_id: str | None = None,
) -> CountedPlay:
    played = NOVEMBER.start_ms + 3_600_000 if played_ms is None else played_ms
    return CountedPlay(
        event_id=event_id or f"ev-{next(_ids):06d}",
        site=site,
        track_id=track,
        started_by=started_by,
        end_reason=end_reason,
        listened_ms=listened_ms,
        played_ms=played,
        received_ms=played + 60_000 if received_ms is None else received_ms,
    )


def example_inputs(rules: PayoutRules | None = None) -> PayoutInputs:
    return PayoutInputs(NOVEMBER, rules or PayoutRules(), SUBSCRIPTIONS, HOLDERS, TRACKS)


def example_plays() -> list[CountedPlay]:
    plays = [play("alcazar", "t1") for _ in range(3)]
    plays += [play("alcazar", "t2"), play("alcazar", "t4")]
    plays += [
        play("alcazar", "t3", listened_ms=20_000),
        play("alcazar", "t3", started_by="autoplay"),
        play("alcazar", "t3", end_reason="error"),
    ]
    plays += [play("nord-1" if i % 2 else "nord-2", "t3") for i in range(9)]
    plays.append(play("nord-1", "t1"))
    return plays
