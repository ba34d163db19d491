"""When the next instance starts: ``--rate R`` reached linearly over ``--ramp S`` (pure).

The number of instances due ``t`` seconds into the run is the integral of the rate:
``R t^2 / 2S`` while ramping, ``R S / 2 + R (t - S)`` after. :meth:`Pacer.due` gives it,
:meth:`Pacer.time_of` inverts it (when instance ``n`` is due), so the engine sleeps exactly
until the next start instead of polling. A rate of None means "as fast as the concurrency
cap allows".
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Pacer", "start_due"]


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


def start_due(pacer: Pacer, spec: Any, core: Any, now: float) -> float | None:
    """Start ``core``'s instances due at ``now`` (``core._start(now)`` while fewer than
    ``spec.concurrency`` are active and ``spec.calls`` is not reached); the time of the next
    start, or the end of ``--duration``, whichever is first (None: neither)."""
    t0 = core.t0
    due = pacer.due(now - t0)
    limit = spec.calls
    cap = spec.concurrency
    while core.active < cap and core.started < due and (limit is None or core.started < limit):
        core._start(now)
    nxt = None
    if core.active < cap and pacer.rate is not None and (limit is None
                                                         or core.started < limit):
        nxt = t0 + pacer.time_of(core.started + 1)
    if spec.duration is not None:
        at = t0 + spec.duration
        nxt = at if nxt is None else min(nxt, at)
    return nxt
