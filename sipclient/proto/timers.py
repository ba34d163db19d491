"""Transaction timers A-M as data (RFC 3261 17 and Table 4 of A; RFC 6026 for L and M).

:data:`TIMERS` lists every timer once: what it guards, its first value over an unreliable and
over a reliable transport, and how it is re-armed when it fires (:class:`Backoff`). The
transaction state tables in :mod:`sipclient.proto.transaction` only say *which* timer a
transition starts; durations live here, so docs can print both tables side by side.

``None`` as a duration means "not started at all" (retransmission timers over a reliable
transport, 17.1.1.2 / 17.1.2.2 / 17.2.1). ``0`` means "fires at once" (the wait states D, I,
J, K collapse over reliable transports).

One timer is not lettered by RFC 3261: ``"Trying"`` is the 200 ms rule of 17.2.1 (an INVITE
server transaction sends 100 Trying itself unless the TU answers within 200 ms).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class TimerConfig:
    """The base values of RFC 3261 17.1.1.1 / Table 4, all in seconds.

    ``t1`` is the RTT estimate (500 ms), ``t2`` the cap for non-INVITE request and INVITE
    response retransmits (4 s), ``t4`` the longest a message stays in the network (5 s).
    ``trying`` is the 17.2.1 delay before an automatic 100 Trying (``None`` disables it).
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0
    trying: float | None = 0.2

    def duration(self, name: str, reliable: bool) -> float | None:
        """First value of timer ``name`` (``"A"``..``"M"``, ``"Trying"``), or None if not run."""
        rule = TIMERS[name]
        base = rule.reliable if reliable else rule.unreliable
        # one comparison chain, no table built per call (each transaction starts timers)
        if base is None:
            return None
        if base == "T1":
            return self.t1
        if base == "64*T1":
            return 64 * self.t1
        if base == "T4":
            return self.t4
        if base == "D":
            return self.timer_d
        if base == "0":
            return 0.0
        if base == "200ms":
            return self.trying
        raise KeyError(base)

    def next_interval(self, name: str, current: float) -> float:
        """Interval after timer ``name`` fired with interval ``current`` (its :class:`Backoff`)."""
        backoff = TIMERS[name].backoff
        if backoff is Backoff.DOUBLE:
            return 2 * current
        if backoff is Backoff.DOUBLE_CAP_T2:
            return min(2 * current, self.t2)
        raise ValueError(f"timer {name} is not re-armed")


class Backoff(enum.Enum):
    """How a retransmission timer is re-armed after it fires."""

    ONCE = "fires once"
    DOUBLE = "doubles, no cap (17.1.1.2)"
    DOUBLE_CAP_T2 = "doubles, capped at T2 (17.1.2.2, 17.2.1)"


@dataclass(frozen=True)
class TimerRule:
    """One row of RFC 3261 Table 4 (plus RFC 6026 L and M)."""

    name: str
    meaning: str
    section: str
    unreliable: str | None
    reliable: str | None
    backoff: Backoff = Backoff.ONCE


TIMERS: dict[str, TimerRule] = {
    rule.name: rule
    for rule in (
        TimerRule("A", "INVITE request retransmit", "17.1.1.2", "T1", None, Backoff.DOUBLE),
        TimerRule("B", "INVITE transaction timeout", "17.1.1.2", "64*T1", "64*T1"),
        TimerRule("D", "wait for response retransmits", "17.1.1.2", "D", "0"),
        TimerRule("E", "non-INVITE request retransmit", "17.1.2.2", "T1", None,
                  Backoff.DOUBLE_CAP_T2),
        TimerRule("F", "non-INVITE transaction timeout", "17.1.2.2", "64*T1", "64*T1"),
        TimerRule("G", "INVITE response retransmit", "17.2.1", "T1", None,
                  Backoff.DOUBLE_CAP_T2),
        TimerRule("H", "wait for ACK receipt", "17.2.1", "64*T1", "64*T1"),
        TimerRule("I", "wait for ACK retransmits", "17.2.1", "T4", "0"),
        TimerRule("J", "wait for non-INVITE request retransmits", "17.2.2", "64*T1", "0"),
        TimerRule("K", "wait for response retransmits", "17.1.2.2", "T4", "0"),
        TimerRule("L", "wait for accepted INVITE request retransmits", "RFC 6026 8.7",
                  "64*T1", "64*T1"),
        TimerRule("M", "wait for retransmission of 2xx to INVITE", "RFC 6026 8.4",
                  "64*T1", "64*T1"),
        TimerRule("Trying", "send 100 Trying if the TU is silent", "17.2.1", "200ms", "200ms"),
    )
}
