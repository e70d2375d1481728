"""Periods previewed and closed through the tenant's store: the engine (compute.py) fed with a
period's subscriptions, rules, holders, shares and its plays summed up by the database
(per site, track and kind, with their hash: `compute_from_summary`, the same statement as
`compute_statement` over every play, tested in
tests/tenant/test_payouts_summary.py).

The rest of tenant/payouts is pure; this module is where it meets the store and the tenant's
key. Statements are signed with an Ed25519 key derived, like the pack key (tenant/packs.py),
from the service's signing secret (data_dir/signing.key) and the tenant id, under its own
label, so a statement signature can never be taken for a pack's and one file serves both.

A period is closed at a cutoff on the tenant's received clock, `CLOSE_GRACE_MS` before the
moment of closing: a play the ingester received just before then but had not committed yet
when the plays were read would otherwise belong to no statement. Plays received after the
cutoff are the next period's adjustments.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tenant.assertions import encode_public_key
from tenant.credentials import load_secret_file
from tenant.payouts.compute import PayoutInputs, compute_from_summary
from tenant.payouts.model import PayoutInputError, PayoutRules, Period
from tenant.payouts.periods import check_next_period
from tenant.payouts.statement import Statement, sign_statement
from tenant.store import TenantStore
from tenant.store.payouts import ClosedPeriod

SIGNING_FILE = "signing.key"  # the pack key's secret (tenant/packs.py)
KEY_LABEL = "payout-statement"
CLOSE_GRACE_MS = 60_000
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def parse_period(name: str) -> Period:
    """`YYYY-MM` -> that calendar month in UTC (the only period length for now)."""
    match = _MONTH.fullmatch(name.strip())
    if match is None:
        raise PayoutInputError(f"period {name!r}: not a month written YYYY-MM, e.g. 2026-11")
    return Period.month(int(match[1]), int(match[2]))


def statement_key(data_dir: Path, tenant: str) -> Ed25519PrivateKey:
    seed = hmac.new(
        load_secret_file(data_dir / SIGNING_FILE), f"{KEY_LABEL}\0{tenant}".encode(), hashlib.sha256
    )
    return Ed25519PrivateKey.from_private_bytes(seed.digest())


def public_statement_key(data_dir: Path, tenant: str) -> str:
    """base64url of the raw 32-byte public key that verifies this tenant's statements."""
    key = statement_key(data_dir, tenant).public_key()
    return encode_public_key(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def period_rules(store: TenantStore, slug: str, period: str) -> PayoutRules:
    """The rules set for the period, else the defaults with the tenant's counted-stream
    threshold (`jukebox admin rules`) when it set one."""
    rules = store.payout_rules(slug, period)
    if rules is not None:
        return rules
    threshold = store.counted_stream_ms(slug)
    return PayoutRules() if threshold is None else PayoutRules(counted_stream_ms=threshold)


def period_inputs(store: TenantStore, slug: str, period: Period) -> PayoutInputs:
    return PayoutInputs(
        period=period,
        rules=period_rules(store, slug, period.name),
        subscriptions=tuple(store.payout_subscriptions(slug, period.name)),
        holders=tuple(store.payout_holders(slug)),
        tracks=tuple(store.payout_tracks(slug)),
    )


def _last_before(closed: Iterable[ClosedPeriod], period: Period) -> ClosedPeriod | None:
    earlier = [c for c in closed if c.period.end_ms <= period.start_ms]
    return max(earlier, key=lambda c: c.period.end_ms) if earlier else None


def preview(store: TenantStore, slug: str, name: str) -> Statement:
    """What closing the period now would give, with every play received so far (unsigned).
    A closed period has no preview: its statement is `show`n."""
    period = parse_period(name)
    closed = store.closed_payout_periods(slug)
    for done in closed:
        if done.period.name == period.name:
            raise PayoutInputError(f"period {name}: is closed: show it instead")
    previous = _last_before(closed, period)
    previous_cutoff = None if previous is None else previous.cutoff_ms
    inputs = period_inputs(store, slug, period)
    summary = store.payout_play_summary(slug, period, inputs.rules, None, previous_cutoff)
    return compute_from_summary(inputs, summary, cutoff_ms=None, previous_cutoff_ms=previous_cutoff)


def close(
    store: TenantStore, key: Ed25519PrivateKey, slug: str, name: str, actor: str, now_ms: int
) -> tuple[ClosedPeriod, Statement]:
    """Compute, sign and keep the period's statement; it never changes afterwards."""
    period = parse_period(name)
    cutoff = now_ms - CLOSE_GRACE_MS
    if cutoff < period.end_ms:
        raise PayoutInputError(
            f"period {name}: not over yet: it can be closed from "
            f"{CLOSE_GRACE_MS // 1000} s after it ends"
        )
    closed = store.closed_payout_periods(slug)
    check_next_period([c.period for c in closed], period)
    previous = closed[-1] if closed else None
    previous_cutoff = None if previous is None else previous.cutoff_ms
    inputs = period_inputs(store, slug, period)
    summary = store.payout_play_summary(slug, period, inputs.rules, cutoff, previous_cutoff)
    statement = compute_from_summary(
        inputs, summary, cutoff_ms=cutoff, previous_cutoff_ms=previous_cutoff
    )
    signed = sign_statement(statement, key)
    kept = ClosedPeriod(
        period=period, cutoff_ms=cutoff, plays_sha256=statement.plays_sha256, body=signed.body,
        signature=signed.signature, closed_by=actor, closed_ms=now_ms,
    )  # fmt: skip
    store.insert_closed_payout(slug, kept, None if previous is None else previous.period.name)
    return kept, statement
