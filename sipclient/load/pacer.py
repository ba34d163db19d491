"""When the next instance starts: ``--rate R`` reached linearly over ``--ramp S`` (pure).

The number of instances due ``t`` seconds into the run is the integral of the rate:
``R t^2 / 2S`` while ramping, ``R S / 2 + R (t - S)`` after. :meth:`Pacer.due` gives it,
:meth:`Pacer.time_of` inverts it (when instance ``n`` is due), so the engine sleeps exactly
until the next start instead of polling. A rate of None means "as fast as the concurrency
cap allows".
"""

from __future__ import annotations

import math

__all__ = ["Pacer"]


class Pacer:
    def __init__(self, rate: float | None, ramp: float = 0.0) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("--rate must be above 0")
        if ramp < 0:
            raise ValueError("--ramp cannot be negative")
        self.rate = rate
        self.ramp = ramp if rate is not None else 0.0

    def due(self, t: float) -> float:
        """How many instances should have started ``t`` seconds into the run."""
        if self.rate is None:
            return math.inf
        if t <= 0:
            return 0.0
        if self.ramp and t < self.ramp:
            return self.rate * t * t / (2 * self.ramp)
        return self.rate * (self.ramp / 2 + (t - self.ramp))

    def time_of(self, n: int) -> float:
        """The time at which instance ``n`` (counting from 1) is due."""
        if self.rate is None or n <= 0:
            return 0.0
        ramp_total = self.rate * self.ramp / 2
        if self.ramp and n <= ramp_total:
            return math.sqrt(2 * self.ramp * n / self.rate)
        return self.ramp + (n - ramp_total) / self.rate

    def rate_at(self, t: float) -> float | None:
        """The asked rate at ``t`` (for the live display and the CSV)."""
        if self.rate is None:
            return None
        if self.ramp and t < self.ramp:
            return self.rate * max(t, 0.0) / self.ramp
        return self.rate
