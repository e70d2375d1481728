"""Split an integer amount in proportion to integer weights, exactly (largest remainder).

Each unit first gets the floor of `amount * weight / total`. The few minor units left over
(fewer than the number of units) go one each to the units with the largest remainder
`amount * weight mod total`; among equal remainders, to the smallest key (keys sort as
tuples of strings, so the tie-break is by rights holder id, then track id, then line kind).
The parts are non-negative and add up to `amount` exactly; the same input always gives the
same parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K", bound=tuple[str, ...])


def largest_remainder(amount: int, weights: Mapping[K, int]) -> dict[K, int]:
    """`amount` split over `weights` (all >= 0, total > 0); the result has the same keys."""
    if amount < 0:
        raise ValueError(f"amount {amount} is negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("weights add up to 0: nothing to split in proportion to")
    parts: dict[K, int] = {}
    remainders: list[tuple[int, K]] = []
    given = 0
    for key, weight in weights.items():
        if weight < 0:
            raise ValueError(f"weight of {key} is negative")
        part, remainder = divmod(amount * weight, total)
        parts[key] = part
        given += part
        if remainder:
            remainders.append((-remainder, key))
    left = amount - given
    if left:
        remainders.sort()
        for _, key in remainders[:left]:
            parts[key] += 1
    return parts
