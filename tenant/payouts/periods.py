"""Closing periods in order: pure functions a store calls with what it has already closed.

A period is closed at a cutoff (the time the tenant closes it, on the received clock): the
statement takes the plays received up to then, and the next period takes, as adjustments, the
earlier periods' plays received after that. Periods follow each other with no gap and no
overlap, and each cutoff is later than the previous one, so no play is paid twice or lost.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tenant.payouts.compute import PayoutInputs, compute_statement
from tenant.payouts.model import CountedPlay, PayoutInputError, Period
from tenant.payouts.statement import SignedStatement, Statement, sign_statement


def check_next_period(closed: Iterable[Period], period: Period) -> None:
    """Raise PayoutInputError unless `period` follows the last closed period without overlap
    with any closed one and without a gap."""
    previous: Period | None = None
    for done in closed:
        if done.start_ms < period.end_ms and period.start_ms < done.end_ms:
            raise PayoutInputError(f"period {period.name}: overlaps closed period {done.name}")
        if previous is None or done.end_ms > previous.end_ms:
            previous = done
    if previous is not None and period.start_ms != previous.end_ms:
        raise PayoutInputError(
            f"period {period.name}: starts at {period.start_ms} but the last closed period "
            f"{previous.name} ends at {previous.end_ms}: periods follow each other with no gap"
        )


def preview_period(
    inputs: PayoutInputs, plays: Iterable[CountedPlay], previous: Statement | None = None
) -> Statement:
    """What closing now would give, with every play received so far (never signed)."""
    if previous is not None:
        check_next_period([previous.period], inputs.period)
    return compute_statement(inputs, plays, cutoff_ms=None, previous_cutoff_ms=_cutoff(previous))


def close_period(
    inputs: PayoutInputs,
    plays: Iterable[CountedPlay],
    cutoff_ms: int,
    key: Ed25519PrivateKey,
    previous: Statement | None = None,
    *,
    presorted: bool = False,
) -> tuple[Statement, SignedStatement]:
    """The period's statement with the plays received up to `cutoff_ms`, and its signed bytes.

    `previous` is the last closed statement (None for the first period ever closed)."""
    if previous is not None:
        check_next_period([previous.period], inputs.period)
    statement = compute_statement(
        inputs,
        plays,
        cutoff_ms=cutoff_ms,
        previous_cutoff_ms=_cutoff(previous),
        presorted=presorted,
    )
    return statement, sign_statement(statement, key)


def _cutoff(previous: Statement | None) -> int | None:
    if previous is None:
        return None
    if previous.cutoff_ms is None:
        raise PayoutInputError(
            f"period {previous.period.name}: is a preview, not closed: close it first"
        )
    return previous.cutoff_ms
