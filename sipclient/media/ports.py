"""RTP port choice (RFC 3550 11: RTP on an even port, RTCP on the next odd one).

Pure policy: :class:`RtpPortAllocator` chooses, the I/O layer binds. When a bind fails
(the port is taken by another program), the I/O layer calls :meth:`~RtpPortAllocator.failed`
and asks again; :meth:`~RtpPortAllocator.release` gives a port back at the end of a call.
The default range, 10000-20000, is Asterisk's ``rtp.conf`` default and the lab's.
"""

from __future__ import annotations

import random

from sipclient.proto.errors import LocalProtocolError

__all__ = ["DEFAULT_RTP_RANGE", "RtpPortAllocator"]

DEFAULT_RTP_RANGE = (10000, 20000)


class RtpPortAllocator:
    """Even ports from ``low``..``high`` (inclusive; the RTCP port + 1 stays in range),
    chosen at random (an injectable RNG) among those not in use and not failed."""

    def __init__(self, low: int = DEFAULT_RTP_RANGE[0], high: int = DEFAULT_RTP_RANGE[1], *,
                 rng: random.Random | None = None) -> None:
        first = low + (low % 2)
        if not 0 < low <= high <= 65535 or first + 1 > high:
            raise LocalProtocolError(f"no even RTP port pair fits in {low}-{high}")
        self.low, self.high = low, high
        self.rng = rng or random.Random()
        self._ports = range(first, high, 2)           # p and p + 1 <= high
        self.in_use: set[int] = set()
        self.unavailable: set[int] = set()             # binds that failed

    @property
    def capacity(self) -> int:
        return len(self._ports)

    def allocate(self) -> int:
        """A free even port (its RTCP port is + 1); LocalProtocolError when none is left."""
        taken = len(self.in_use) + len(self.unavailable)
        if taken < self.capacity // 2:          # mostly free: random probes are cheap
            for _ in range(32):
                port = self._ports[self.rng.randrange(self.capacity)]
                if port not in self.in_use and port not in self.unavailable:
                    self.in_use.add(port)
                    return port
        free = [p for p in self._ports if p not in self.in_use and p not in self.unavailable]
        if not free:
            raise LocalProtocolError(f"no free RTP port in {self.low}-{self.high}")
        port = self.rng.choice(free)
        self.in_use.add(port)
        return port

    def failed(self, port: int) -> None:
        """Binding ``port`` (or ``port + 1``) failed: never offer it again."""
        self.in_use.discard(port)
        self.unavailable.add(port)

    def release(self, port: int) -> None:
        """The call using ``port`` ended."""
        self.in_use.discard(port)

    def forget_failures(self) -> None:
        """Ports that failed may be free again (another program exited)."""
        self.unavailable.clear()
