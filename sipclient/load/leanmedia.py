"""The lean engine's ``--media packets``: every call's RTP stream on one clock and one socket
(pure: ``now`` injected, no socket).

One :class:`LeanMedia` per process. A stream is started when its call is answered
(:meth:`LeanMedia.start`, the far end's address from the SDP answer) and stopped when it
hangs up (:meth:`LeanMedia.stop`, which returns the stream's figures). Sending: streams sit
in the 1 ms slots of one 20 ms grid (a new stream takes the least busy slot), so
:meth:`LeanMedia.tick` fires at most one slot per millisecond and sends every stream of it:
a 12-byte header (PCMU, the stream's sequence number, timestamp and SSRC) before one
payload encoded once for the process (a 1000 Hz tone; 160 samples are 20 whole periods, so
every packet carries the same bytes). A slot that fires late still sends (no drift: the
schedule is absolute) and each packet's lateness is its send-time error. Receiving:
:meth:`LeanMedia.receive` reads the header only -- the stream by its SSRC (an echo of ours)
or by the far end's address (a peer that sends its own stream) -- and keeps the RFC 3550
counts: extended highest sequence number (A.1), packets received, interarrival jitter (A.8).
Nothing is decoded.

What :meth:`LeanMedia.stop` returns is the per-stream dict of
:func:`sipclient.load.stats.media_summary`: ``packets_sent``, ``packets_received``,
``lost`` (expected - received, RFC 3550 A.3), ``expected``, ``jitter_ms``,
``send_error_p99_ms`` and ``tone_heard`` (False: packets are not decoded).
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LeanMedia", "sdp_remote", "PTIME", "SLOT"]

#: packet interval (20 ms of PCMU at 8000 Hz: 160 samples)
PTIME = 0.020
#: the grid: a slot every millisecond
SLOT = 0.001
_SLOTS = round(PTIME / SLOT)
_SAMPLES = 160
_HEADER = struct.Struct("!BBHII")


def sdp_remote(message: bytes) -> tuple[str, int] | None:
    """The audio address of the SDP body of ``message`` (a SIP response): the ``c=`` line
    (media level first) and the ``m=audio`` port; None without one or with port 0."""
    i = message.find(b"\r\n\r\n")
    if i < 0:
        return None
    body = message[i + 4:]
    m = body.find(b"m=audio ")
    if m < 0:
        return None
    port = body[m + 8:body.find(b" ", m + 8)]
    if not port.isdigit() or int(port) == 0:
        return None
    c = body.find(b"c=IN ", m)
    if c < 0:
        c = body.find(b"c=IN ")
    if c < 0:
        return None
    line = body[c + 5:].split(b"\n", 1)[0].strip()
    parts = line.split()
    if len(parts) < 2:
        return None
    return parts[1].split(b"/", 1)[0].decode("ascii", "replace"), int(port)


@dataclass(slots=True, eq=False)
class _Stream:
    key: bytes
    remote: tuple[str, int]
    ssrc: int
    seq: int
    ts: int
    slot: int
    sent: int = field(default=0, init=False)
    #: send-time error, in 0.1 ms steps
    errors: Counter[int] = field(default_factory=Counter, init=False)
    received: int = field(default=0, init=False)
    base: int = field(default=-1, init=False)
    max_seq: int = field(default=0, init=False)
    cycles: int = field(default=0, init=False)
    transit: float | None = field(default=None, init=False)
    jitter: float = field(default=0.0, init=False)


class LeanMedia:
    """Every ``--media packets`` stream of one process (see the module docstring).
    ``payload``: the 160 bytes sent in each packet; what to send collects in :attr:`out`
    as ``(packet, address)``."""

    def __init__(self, payload: bytes, *, payload_type: int = 0,
                 rng: random.Random | None = None) -> None:
        self.payload = payload
        self.pt = payload_type & 0x7F
        self.rng = rng or random.Random()
        self.out: list[tuple[bytes, tuple[str, int]]] = []
        self.strays = 0
        self._slots: list[list[_Stream]] = [[] for _ in range(_SLOTS)]
        self._by_key: dict[bytes, _Stream] = {}
        self._by_ssrc: dict[int, _Stream] = {}
        self._by_remote: dict[tuple[str, int], _Stream | None] = {}
        self._epoch: float | None = None
        self._index = 0  # the next slot of the grid to fire, counted from the epoch

    def __len__(self) -> int:
        return len(self._by_key)

    # ------------------------------------------------------------------ streams

    def start(self, key: bytes, remote: tuple[str, int], now: float) -> None:
        """Start the stream of call ``key`` towards ``remote`` (its first packet leaves in
        its slot's next turn)."""
        if key in self._by_key:
            return
        if self._epoch is None:
            self._epoch = now
            self._index = 0
        ssrc = self.rng.getrandbits(32)
        while ssrc in self._by_ssrc:
            ssrc = self.rng.getrandbits(32)
        slot = min(range(_SLOTS), key=lambda k: len(self._slots[k]))
        stream = _Stream(key, remote, ssrc, self.rng.getrandbits(16),
                         self.rng.getrandbits(32), slot)
        self._slots[slot].append(stream)
        self._by_key[key] = stream
        self._by_ssrc[ssrc] = stream
        # a far end that sends its own stream is recognised by its address, when only
        # one of our streams goes there
        self._by_remote[remote] = None if remote in self._by_remote else stream

    def stop(self, key: bytes) -> dict[str, Any] | None:
        """Stop the stream of call ``key``; its figures (None: it had none)."""
        stream = self._by_key.pop(key, None)
        if stream is None:
            return None
        self._slots[stream.slot].remove(stream)
        del self._by_ssrc[stream.ssrc]
        if self._by_remote.get(stream.remote) is stream:
            del self._by_remote[stream.remote]
        if not self._by_key:
            self._epoch = None  # the next stream starts a new grid
        expected = (stream.cycles + stream.max_seq - stream.base + 1) \
            if stream.base >= 0 else 0
        return {
            "packets_sent": stream.sent, "packets_received": stream.received,
            "lost": max(0, expected - stream.received), "expected": expected,
            "jitter_ms": round(stream.jitter / 8.0, 3),
            "send_error_p99_ms": _p99(stream.errors, stream.sent) / 10.0,
            "tone_heard": False,
        }

    # ------------------------------------------------------------------ the clock

    def next_time(self) -> float | None:
        """When the next busy slot is due (None: no stream)."""
        if self._epoch is None or not self._by_key:
            return None
        index = self._index
        slots = self._slots
        while not slots[index % _SLOTS]:
            index += 1
        return self._epoch + index * SLOT

    def tick(self, now: float, early: float = 0.0) -> None:
        """Send every packet due by ``now + early`` (a timer may fire up to a slot late, so
        the driver aims a little early; late slots are sent too), each packet with its
        send-time error (how late it left; early counts as 0)."""
        if self._epoch is None:
            return
        epoch = self._epoch
        last = int((now + early - epoch) / SLOT + 1e-9)
        slots = self._slots
        out = self.out
        pack = _HEADER.pack
        payload = self.payload
        first = 0x80
        pt = self.pt
        index = self._index
        while index <= last:
            streams = slots[index % _SLOTS]
            if streams:
                err = max(0, round((now - (epoch + index * SLOT)) * 10000.0))
                for s in streams:
                    out.append((pack(first, pt | (0x80 if s.sent == 0 else 0), s.seq, s.ts,
                                     s.ssrc) + payload, s.remote))
                    s.seq = (s.seq + 1) & 0xFFFF
                    s.ts = (s.ts + _SAMPLES) & 0xFFFFFFFF
                    s.sent += 1
                    s.errors[err] += 1
            index += 1
        self._index = index

    # ------------------------------------------------------------------ receiving

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """One datagram that arrived on the RTP socket at ``now``."""
        if len(data) < 12 or data[0] >> 6 != 2:
            self.strays += 1
            return
        stream = self._by_ssrc.get(int.from_bytes(data[8:12], "big")) \
            or self._by_remote.get(addr)
        if stream is None:
            self.strays += 1
            return
        seq = (data[2] << 8) | data[3]
        stream.received += 1
        if stream.base < 0:
            stream.base = stream.max_seq = seq
        else:
            delta = ((seq - stream.max_seq + 0x8000) & 0xFFFF) - 0x8000
            if delta > 0:
                if seq < stream.max_seq:
                    stream.cycles += 0x10000
                stream.max_seq = seq
        transit = now * 8000.0 - int.from_bytes(data[4:8], "big")
        if stream.transit is not None:
            d = abs(transit - stream.transit)
            if d < 0x80000000:  # a timestamp wrap is not jitter
                stream.jitter += (d - stream.jitter) / 16.0
        stream.transit = transit


def _p99(counts: Counter[int], total: int) -> int:
    if not total:
        return 0
    need = total - int(total * 0.99)  # the packets at or above the p99
    seen = 0
    for value in sorted(counts, reverse=True):
        seen += counts[value]
        if seen >= need:
            return value
    return 0
