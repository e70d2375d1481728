"""Exponential backoff, the one every retry loop of the kiosk uses (tenant HTTP, MQTT, sync,
the button panel's GPIO chip, the display's panel).

Network retries use full jitter: thousands of kiosks lose the same tenant at the same moment
(an outage, a library's network coming back at opening time); full jitter (a uniform delay up
to the exponential ceiling, AWS Architecture Blog, "Exponential Backoff And Jitter") spreads
their retries instead of sending them back in waves. A floor keeps a retry loop from ever
spinning. A retry of local hardware (a GPIO chip, an I2C panel) has no crowd to spread and uses
`jitter=False`: exactly `base_s`, then doubled up to `cap_s`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays of `uniform(floor, min(cap, base * factor**n))` for the n-th retry in a row
    (with `jitter=False`, the ceiling itself).

    `rand` (returning [0, 1)) is injectable so tests see exact delays.
    """

    def __init__(
        self,
        base_s: float = 1.0,
        cap_s: float = 300.0,
        *,
        factor: float = 2.0,
        floor_s: float | None = None,
        jitter: bool = True,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")
        if factor < 1:
            raise ValueError("backoff factor must be at least 1")
        self.base_s = base_s
        self.cap_s = cap_s
        self.factor = factor
        self.floor_s = base_s / 10 if floor_s is None else floor_s
        if not 0 < self.floor_s <= base_s:
            raise ValueError("backoff needs 0 < floor_s <= base_s")
        self.jitter = jitter
        self._rand = rand
        self.failures = 0

    def ceiling(self, failures: int) -> float:
        """The largest delay after `failures` failures in a row."""
        exponent = min(max(failures - 1, 0), 64)  # 2**64 is past any cap; avoids overflow
        return float(min(self.cap_s, self.base_s * self.factor**exponent))

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        self.failures += 1
        ceiling = self.ceiling(self.failures)
        if not self.jitter:
            return ceiling
        return max(self.floor_s, self._rand() * ceiling)

    def reset(self) -> None:
        """A success: the next failure starts again from `base_s`."""
        self.failures = 0
