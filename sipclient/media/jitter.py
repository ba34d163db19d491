"""A receive jitter buffer: RTP packets in, one frame per codec interval out (RFC 3550 6.4.1,
RFC 3551 4.1 for the marker bit). Pure: arrival times and ``now`` are parameters (seconds).

Playout follows the RTP timestamps: the first packet fixes an anchor, and the frame with
timestamp ``ts`` plays at ``anchor_time + delay + (ts - anchor_ts) / clock_rate``. Packets
are kept by (unwrapped) timestamp, so reordered packets fall into place; a packet whose
frame has already been played is *late*: dropped and counted. :meth:`JitterBuffer.pop`
returns every frame due by ``now``, in order, with ``payload=None`` for a missing one (the
decoder conceals it).

Fixed delay, or adaptive (``adaptive=True``): the buffer keeps an RFC 3550 style jitter
estimate J (seconds) and, at the start of each talkspurt (marker bit, where a change is
heard as a slightly longer or shorter silence), sets the delay to ``clamp(factor * J +
frame, min_delay, max_delay)``; a late packet in the middle of speech grows the delay by one
frame at once.

A timestamp *discontinuity* (the sender switched its source without a new SSRC, as Asterisk
does when early media gives way to the answered call) is told apart from loss by the
arrival time: a packet whose timestamp is more than ``resync`` seconds away from where the
clock of arrivals says it should be restarts playout from that packet (``resyncs`` counts
it). Without this a backward jump makes every later packet "late" and the call goes silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipclient.media.rtp import RtpPacket, ts_delta

__all__ = ["Frame", "JitterBuffer"]


@dataclass(frozen=True)
class Frame:
    """One frame interval of playout; ``payload is None`` means missing (conceal it)."""

    timestamp: int
    playout_time: float
    payload: bytes | None
    sequence_number: int | None = None
    payload_type: int | None = None
    marker: bool = False


class JitterBuffer:
    """Reorder, delay and pace one RTP stream (one SSRC)."""

    def __init__(self, clock_rate: int = 8000, frame_samples: int = 160, *,
                 delay: float = 0.06, adaptive: bool = False, min_delay: float = 0.02,
                 max_delay: float = 0.3, factor: float = 4.0, resync: float = 1.0) -> None:
        if frame_samples <= 0 or clock_rate <= 0:
            raise ValueError("frame_samples and clock_rate must be positive")
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.delay = delay
        self.adaptive = adaptive
        self.min_delay, self.max_delay, self.factor = min_delay, max_delay, factor
        self.resync = max(resync, 2 * max_delay)
        self.resyncs = 0         # timestamp discontinuities that restarted playout
        self.late = 0            # arrived after their frame was played: dropped
        self.duplicates = 0
        self.received = 0
        self.played = 0          # frames with a payload handed out
        self.concealed = 0       # frames handed out without one
        self.jitter = 0.0        # seconds (RFC 3550 6.4.1 estimator)
        self._packets: dict[int, RtpPacket] = {}
        self._anchor: tuple[float, int] | None = None     # (arrival, unwrapped ts)
        self._last: tuple[int, int] | None = None         # (raw ts, unwrapped ts)
        self._next: int | None = None                     # unwrapped ts of the next frame
        self._prev_transit: float | None = None

    @property
    def frame_duration(self) -> float:
        return self.frame_samples / self.clock_rate

    def playout_time(self, unwrapped_ts: int) -> float:
        assert self._anchor is not None
        t0, ts0 = self._anchor
        return t0 + self.delay + (unwrapped_ts - ts0) / self.clock_rate

    def _unwrap(self, ts: int) -> int:
        if self._last is None:
            return ts
        raw, unwrapped = self._last
        return unwrapped + ts_delta(ts, raw)

    def push(self, packet: RtpPacket, arrival: float) -> bool:
        """Take a packet that arrived at ``arrival``; False if it was dropped (late or a
        duplicate)."""
        self.received += 1
        rel = self._unwrap(packet.timestamp)
        if self._anchor is not None and self._discontinuous(rel, arrival):
            self.resyncs += 1
            self._packets.clear()
            self._anchor, self._next, self._prev_transit = None, None, None
        if self._last is None or rel > self._last[1]:
            self._last = (packet.timestamp, rel)
        self._estimate_jitter(rel, arrival)
        if self._anchor is None:
            self._anchor = (arrival, rel)
            self._next = rel
        assert self._next is not None
        if rel < self._next:
            self.late += 1
            if self.adaptive:
                self.delay = min(self.max_delay, self.delay + self.frame_duration)
            return False
        if rel in self._packets:
            self.duplicates += 1
            return False
        if self.adaptive and packet.marker and not self._packets:
            self.delay = self._target_delay()
        self._packets[rel] = packet
        return True

    def _discontinuous(self, rel: int, arrival: float) -> bool:
        assert self._anchor is not None
        t0, ts0 = self._anchor
        expected = ts0 + (arrival - t0) * self.clock_rate
        return abs(rel - expected) > self.resync * self.clock_rate

    def _estimate_jitter(self, rel: int, arrival: float) -> None:
        transit = arrival - rel / self.clock_rate
        if self._prev_transit is not None:
            self.jitter += (abs(transit - self._prev_transit) - self.jitter) / 16.0
        self._prev_transit = transit

    def _target_delay(self) -> float:
        target = self.factor * self.jitter + self.frame_duration
        return max(self.min_delay, min(self.max_delay, target))

    def next_time(self) -> float | None:
        """When the next frame is due (None before the first packet): the I/O layer's timer."""
        return None if self._next is None else self.playout_time(self._next)

    def pop(self, now: float) -> list[Frame]:
        """Every frame due by ``now``, in timestamp order; missing ones have no payload.
        Once the first packet has arrived playout never stops: an empty buffer gives
        ``None`` frames, one per interval, as a sound card would need."""
        out: list[Frame] = []
        if self._next is None:
            return out
        while self.playout_time(self._next) <= now:
            due = self.playout_time(self._next)
            pkt = self._packets.pop(self._next, None)
            ts = self._next & 0xFFFFFFFF
            if pkt is None:
                self.concealed += 1
                out.append(Frame(ts, due, None))
            else:
                self.played += 1
                out.append(Frame(pkt.timestamp, due, pkt.payload, pkt.sequence_number,
                                 pkt.payload_type, pkt.marker))
            self._next += self.frame_samples
        return out

    def __len__(self) -> int:
        return len(self._packets)
