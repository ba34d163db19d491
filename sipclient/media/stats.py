"""Receive statistics of RTP streams (RFC 3550 6.4.1, appendix A.1, A.3, A.8).

One :class:`StreamStats` per SSRC counts what arrived, where ``arrival`` is a parameter in
seconds (a capture's timestamps or the I/O layer's clock), so the same code serves a live
call and a capture analysis.

Definitions (chosen to match both RFC 3550 A.3 and Wireshark's ``rtp,streams``, which the
capture analysis is checked against):

- ``packets``: every packet received, duplicates included (A.1 ``received``; Wireshark's
  "Packets").
- ``expected``: extended highest sequence number - first sequence number + 1 (A.3).
- ``lost`` = expected - packets. It is negative when duplicates outnumber losses (RFC 3550
  6.4.1 and Wireshark both say so: SIPp's triple end-of-event gives lost = -2).
- ``duplicates``: a sequence number seen before (within the last 32768);
  ``out_of_order``: older than the highest seen but new (a reordered or late packet).
- Sequence wrap: the 16-bit number is extended with a cycle count (A.1); a jump of more than
  ``MAX_DROPOUT`` (3000) ahead restarts the sequence when two packets in a row follow it (A.1),
  otherwise it is treated as one stray packet; a packet up to ``MAX_MISORDER`` (100) behind
  is late or a duplicate. Unlike A.1 there is no probation: the first packet counts, and
  every packet is in ``packets`` (as in Wireshark). A late packet older than the first one
  received still counts as received (A.1 does the same), lowering ``lost``.
- Interarrival jitter, RFC 3550 6.4.1 / A.8: for each packet in arrival order,
  D = (R_i - R_{i-1}) - (S_i - S_{i-1}) in timestamp units (arrival times scaled by the clock
  rate), J += (|D| - J) / 16, in floating point as in A.8; ``jitter_ms`` = J / rate * 1000.
  Packets whose timestamps are not media clock (RFC 4733 events, ``timed=False``) do not
  update J; like Wireshark, the next audio packet then takes R_{i-1} from the last packet
  of any kind and S_{i-1} from the last timed one.
- Timestamp jumps without a new SSRC (Asterisk keeps SSRC and sequence numbers when early
  media becomes the answered call but restarts the timestamp: 24000 -> 3377621432 in
  captures/invite-early-media.pcap; a gateway restarting its clock at 0 after a fax), as
  Wireshark's RTP analysis does (ui/tap-rtp-analysis.c, ``rtppacket_analyse``): timestamps
  are extended by the signed 32-bit step from the previous packet, and a packet is *in time
  sequence* when its extended timestamp is not before the first packet's nor 2**31 or more
  after it. A packet out of time sequence (``wrong_timestamps``; Wireshark's "wrong
  timestamp" problem) updates neither J nor the references: R_{i-1} and S_{i-1} stay at the
  last packet in sequence, so when the timestamp comes back past the first one, D spans the
  whole excursion. Why: taking the step modulo 2**32 (plain A.8) turns a restart into a
  step of up to 2**31 samples, one |D| of about 3 days, and a J of hours for the rest of the
  call; Wireshark's rule keeps the figures of the packets before the jump. The cost: after
  such a restart the jitter stays where it was (the packets after it are not measured),
  exactly as tshark reports. A jump forward by less than 2**31, or back while staying after
  the first timestamp, stays in sequence and gives one large D (RFC 3550 6.4.1 and
  Wireshark alike); a marker there keeps that packet out of the max and mean (next item)
  but not out of J. One deliberate difference from tshark 4.0: it
  compares raw 32-bit timestamps with the first one, so a stream whose timestamp wraps
  through 2**32 is out of sequence from the wrap on; the extended timestamps here keep a
  real wrap in sequence (later Wireshark versions extend timestamps too).
- Wireshark's figures (ui/tap-rtp-analysis.c): ``max_delta`` (largest gap between a packet
  and the last packet in time sequence before it), ``max_jitter`` and ``mean_jitter`` leave
  out the first packet, packets out of time sequence, the packets with the marker bit,
  comfort noise (PT 13, 19) and the packet after comfort noise; the mean is the running
  (mean*n + J)/(n + 1), n counting every packet but the first before this one. On the
  public captures (tshark 4.0) packets, lost, max delta, mean and max jitter all match,
  the FAX capture's timestamp reset to 0 included; tests/pcap/test_jitter_vs_tshark.py
  checks forward and backward jumps, with and without marker, against tshark at test time.
  The sequence-number figures (``packets``, ``lost``...) do not depend on time sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sipclient.media.rtcp import ReportBlock, ntp_middle32
from sipclient.media.rtp import RtpPacket, seq_delta
from sipclient.media.sdp import STATIC_PAYLOAD_TYPES

__all__ = ["MAX_DROPOUT", "ReceiveStatistics", "StreamStats", "StreamSummary", "loss_fraction",
           "receive_report", "receive_totals"]

MAX_DROPOUT = 3000          # RFC 3550 A.1
MAX_MISORDER = 100
_SEEN_WINDOW = 1 << 15
_CN = (13, 19)             # comfort noise (RFC 3389) and its old number


@dataclass(frozen=True)
class StreamSummary:
    """The figures of one stream, as a capture analysis reports them."""

    ssrc: int
    payload_types: tuple[int, ...]
    packets: int
    expected: int
    lost: int
    lost_percent: float
    duplicates: int
    out_of_order: int
    first_arrival: float | None
    last_arrival: float | None
    max_delta_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float
    bytes: int


@dataclass
class StreamStats:
    """Receive statistics of one SSRC (RFC 3550 A.1, A.3, A.8)."""

    ssrc: int
    clock_rate: int = 8000
    packets: int = 0
    bytes: int = 0                 # whole RTP packets (header included)
    payload_bytes: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    first_arrival: float | None = None
    last_arrival: float | None = None
    max_delta: float = 0.0         # seconds
    jitter: float = 0.0            # J, RTP timestamp units
    max_jitter: float = 0.0
    base_seq: int = 0              # first extended sequence number
    max_seq: int = 0               # highest 16-bit sequence number
    cycles: int = 0                # sequence wraps * 65536
    restarts: int = 0
    timed_packets: int = 0         # packets in the jitter (not RFC 4733 events)
    wrong_timestamps: int = 0      # packets out of time sequence (left out of the timing)
    payload_type_counts: dict[int, int] = field(default_factory=dict)
    _expected_before: int = 0
    _bad_seq: int | None = None
    _prev_ts: int | None = None
    _prev_pt: int | None = None
    _ext_ts: int = 0               # extended timestamp of the last packet (any kind)
    _first_ext: int = 0            # ... of the first packet: the time-sequence origin
    _ref_arrival: float = 0.0      # arrival of the last packet in time sequence (R_{i-1})
    _timed_ts: int | None = None   # extended S_{i-1}: last timed packet in time sequence
    _delta: float = 0.0
    _mean_jitter: float = 0.0      # J units, Wireshark's running mean
    _seen: set[int] = field(default_factory=set)
    _expected_prior: int = 0
    _received_prior: int = 0
    _last_sr: int = 0
    _last_sr_arrival: float | None = None

    # -- per packet --------------------------------------------------------------------------
    def update(self, seq: int, timestamp: int, arrival: float, *, marker: bool = False,
               timed: bool = True, size: int = 0, payload_size: int = 0,
               payload_type: int | None = None) -> str:
        """Account for one packet; returns how it was classified: ``"first"``,
        ``"in-order"`` (possibly after a gap), ``"duplicate"``, ``"out-of-order"``,
        ``"restart"`` (A.1 resync) or ``"stray"`` (a big jump not (yet) followed).
        ``timed=False`` (an RFC 4733 event, a payload type of unknown clock rate) keeps the
        packet out of the jitter, whose timestamps do not follow the media clock."""
        self._timing(timestamp, arrival, marker, timed, payload_type)
        self.packets += 1
        self.bytes += size
        self.payload_bytes += payload_size
        if payload_type is not None:
            self.payload_type_counts[payload_type] = (
                self.payload_type_counts.get(payload_type, 0) + 1)
        if self.packets == 1:
            self._init_seq(seq)
            return "first"
        ext = self.extended_max + seq_delta(seq, self.max_seq)
        udelta = (seq - self.max_seq) & 0xFFFF
        if 0 < udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += 1 << 16
            self.max_seq = seq
            self._remember(ext)
            return "in-order"
        if udelta == 0 or udelta > (1 << 16) - MAX_MISORDER:
            if ext in self._seen or ext == self.extended_max:
                self.duplicates += 1
                return "duplicate"
            self._remember(ext)
            self.out_of_order += 1
            return "out-of-order"
        if self._bad_seq is not None and seq == self._bad_seq:
            # two sequential packets after a big jump: the source restarted (A.1); what was
            # expected before stays counted, the new sequence starts at the stray packet
            self._expected_before += self.extended_max - self.base_seq + 1
            self._init_seq((seq - 1) & 0xFFFF)
            self.max_seq = seq
            self._remember(self.extended_max)
            self.restarts += 1
            return "restart"
        self._bad_seq = (seq + 1) & 0xFFFF
        return "stray"

    def count(self, seq: int, timestamp: int, arrival: float, size: int,
              payload_type: int) -> None:
        """:meth:`update` of an audio packet without marker (``size``: the whole packet, a
        12-byte header): the common packet (the next sequence numbers, in time sequence,
        the payload type of the one before, not comfort noise) takes a short path with the
        same result; any other goes through :meth:`update`."""
        max_seq = self.max_seq
        udelta = (seq - max_seq) & 0xFFFF
        timed_ts = self._timed_ts
        ext_ts = self._ext_ts + (((timestamp - self._ext_ts + 0x80000000) & 0xFFFFFFFF)
                                 - 0x80000000)
        if (not self.packets or not 0 < udelta < MAX_DROPOUT or timed_ts is None
                or payload_type != self._prev_pt or payload_type in _CN
                or not 0 <= ext_ts - self._first_ext < 0x80000000):
            self.update(seq, timestamp, arrival, size=size, payload_size=size - 12,
                        payload_type=payload_type)
            return
        # _timing, in time sequence, timed and regular
        self._ext_ts = ext_ts
        self.timed_packets += 1
        delta = self._delta = arrival - self._ref_arrival
        jitter = self.jitter
        jitter += (abs(delta * self.clock_rate - (ext_ts - timed_ts)) - jitter) / 16.0
        self.jitter = jitter
        self._timed_ts = ext_ts
        if delta > self.max_delta:
            self.max_delta = delta
        if jitter > self.max_jitter:
            self.max_jitter = jitter
        n = self.packets - 1
        self._mean_jitter = (self._mean_jitter * n + jitter) / (n + 1)
        self._ref_arrival = self.last_arrival = arrival
        self._prev_ts = timestamp
        # the sequence: in order, possibly after a gap
        self.packets += 1
        self.bytes += size
        self.payload_bytes += size - 12
        self.payload_type_counts[payload_type] += 1
        ext = self.cycles + max_seq + udelta
        if seq < max_seq:
            self.cycles += 1 << 16
        self.max_seq = seq
        self._remember(ext)

    def _init_seq(self, seq: int) -> None:
        self.base_seq = self.cycles + seq
        self.max_seq = seq
        self._bad_seq = None
        self._seen = {self.base_seq}

    def _remember(self, ext: int) -> None:
        self._seen.add(ext)
        if len(self._seen) > 2 * _SEEN_WINDOW:
            floor = self.extended_max - _SEEN_WINDOW
            self._seen = {s for s in self._seen if s >= floor}

    def _timing(self, timestamp: int, arrival: float, marker: bool, timed: bool,
                payload_type: int | None) -> None:
        """RFC 3550 A.8 jitter in arrival order, and Wireshark's max/mean figures."""
        if self.first_arrival is None or self.last_arrival is None:
            self.first_arrival = self.last_arrival = self._ref_arrival = arrival
            self._prev_ts, self._prev_pt = timestamp, payload_type
            self._ext_ts = self._first_ext = timestamp
            self._timed_ts = timestamp if timed else None
            self.timed_packets += int(timed)
            return
        # extend the timestamp by the signed step from the previous packet (as Wireshark's
        # RTP dissector does); a packet is in time sequence when it is not before the first
        # packet's timestamp nor 2**31 or more after it (tap-rtp-analysis.c)
        step = ((timestamp - self._ext_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        self._ext_ts += step
        offset = self._ext_ts - self._first_ext
        in_sequence = 0 <= offset < 0x80000000
        if timed:
            self.timed_packets += 1
        if in_sequence:
            self._delta = arrival - self._ref_arrival
            if timed:
                if self._timed_ts is not None:
                    ts_diff = self._ext_ts - self._timed_ts
                    d = (arrival - self._ref_arrival) * self.clock_rate - ts_diff
                    self.jitter += (abs(d) - self.jitter) / 16.0
                self._timed_ts = self._ext_ts
        else:
            self.wrong_timestamps += 1
        # Wireshark (ui/tap-rtp-analysis.c) leaves out of max delta, max and mean jitter the
        # packets out of time sequence, those that start a talkspurt (marker), comfort noise
        # (PT 13, 19) and the packet after comfort noise; its mean is updated as
        # (mean*n + J)/(n+1) where n counts every packet before this one but the first,
        # regular or not.
        regular = in_sequence and not (marker or payload_type in _CN or self._prev_pt in _CN)
        if regular:
            self.max_delta = max(self.max_delta, self._delta)
            if timed:
                self.max_jitter = max(self.max_jitter, self.jitter)
                n = self.packets - 1
                self._mean_jitter = (self._mean_jitter * n + self.jitter) / (n + 1)
        if in_sequence:
            self._ref_arrival = arrival
        self.last_arrival = arrival
        self._prev_ts, self._prev_pt = timestamp, payload_type

    # -- derived figures ---------------------------------------------------------------------
    @property
    def extended_max(self) -> int:
        """Extended highest sequence number received (A.1: cycles + max_seq)."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        if not self.packets:
            return 0
        return self._expected_before + self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost: expected - received; negative with duplicates (A.3)."""
        return self.expected - self.packets

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000.0 / self.clock_rate

    @property
    def max_jitter_ms(self) -> float:
        return self.max_jitter * 1000.0 / self.clock_rate

    @property
    def mean_jitter_ms(self) -> float:
        return self._mean_jitter * 1000.0 / self.clock_rate

    def summary(self) -> StreamSummary:
        expected = self.expected
        return StreamSummary(
            self.ssrc, tuple(self.payload_type_counts), self.packets, expected, self.lost,
            100.0 * self.lost / expected if expected else 0.0, self.duplicates,
            self.out_of_order, self.first_arrival, self.last_arrival, self.max_delta * 1000.0,
            self.mean_jitter_ms, self.max_jitter_ms, self.bytes)

    # -- RTCP (A.3, 6.4.1) -------------------------------------------------------------------
    def on_sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        """Remember the last SR from this source for LSR/DLSR."""
        self._last_sr = ntp_middle32(ntp_timestamp)
        self._last_sr_arrival = arrival

    def report_block(self, now: float) -> ReportBlock:
        """A report block for an RR/SR sent at ``now``; starts a new interval (A.3)."""
        expected = self.expected
        lost = max(-0x800000, min(0x7FFFFF, expected - self.packets))
        expected_interval = expected - self._expected_prior
        received_interval = self.packets - self._received_prior
        self._expected_prior, self._received_prior = expected, self.packets
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        dlsr = 0
        if self._last_sr_arrival is not None:
            dlsr = int((now - self._last_sr_arrival) * 65536) & 0xFFFFFFFF
        return ReportBlock(self.ssrc, fraction, lost, self.extended_max & 0xFFFFFFFF,
                           int(self.jitter) & 0xFFFFFFFF, self._last_sr, dlsr)


class ReceiveStatistics:
    """Statistics of every SSRC received on one RTP session.

    ``clock_rates`` maps payload type -> RTP clock rate (from the negotiated SDP), 0 for a
    payload whose timestamps do not follow the media clock (telephone-event, RFC 4733 2.2.1).
    Static payload types take their RFC 3551 rate; an unknown dynamic one is left out of the
    jitter, as Wireshark does. A stream takes the rate of its first timed packet.
    """

    def __init__(self, clock_rates: dict[int, int] | None = None) -> None:
        self.clock_rates = dict(clock_rates or {})
        self.streams: dict[int, StreamStats] = {}

    def clock_rate(self, payload_type: int) -> int:
        if payload_type in self.clock_rates:
            return self.clock_rates[payload_type]
        static = STATIC_PAYLOAD_TYPES.get(payload_type)
        return static[1] if static else 0

    def on_packet(self, packet: RtpPacket, arrival: float, size: int | None = None) -> str:
        """Account for a received packet (``size``: its length on the wire, if known)."""
        rate = self.clock_rate(packet.payload_type)
        stats = self.streams.get(packet.ssrc)
        if stats is None:
            stats = self.streams[packet.ssrc] = StreamStats(packet.ssrc, rate or 8000)
        elif rate and stats.packets and not stats.timed_packets:
            stats.clock_rate = rate
        return stats.update(packet.sequence_number, packet.timestamp, arrival,
                            marker=packet.marker, timed=bool(rate),
                            size=len(packet) if size is None else size,
                            payload_size=len(packet.payload), payload_type=packet.payload_type)

    def report_blocks(self, now: float, limit: int = 31) -> list[ReportBlock]:
        """Report blocks for an RR/SR sent at ``now`` (at most 31 per packet, 6.4)."""
        return [s.report_block(now) for s in list(self.streams.values())[:limit]]


def receive_totals(streams: Iterable[StreamStats]) -> dict[str, Any]:
    """Packets, unique packets lost, duplicates and reordered summed over ``streams`` (every
    SSRC and period of one call), and the jitter (ms) and SSRC of the stream heard last."""
    streams = list(streams)
    last = max(streams, key=lambda s: s.last_arrival or 0.0, default=None)
    return {
        "packets": sum(s.packets for s in streams),
        "lost": sum(max(0, s.expected - (s.packets - s.duplicates)) for s in streams),
        "expected": sum(s.expected for s in streams),
        "duplicates": sum(s.duplicates for s in streams),
        "reordered": sum(s.out_of_order for s in streams),
        "jitter_ms": last.jitter_ms if last is not None else 0.0,
        "max_jitter_ms": max((s.max_jitter_ms for s in streams), default=0.0),
        "mean_jitter_ms": last.mean_jitter_ms if last is not None else 0.0,
        "ssrc": last.ssrc if last is not None else None,
    }


def loss_fraction(totals: dict[str, Any]) -> float:
    """The share (0..1) of expected packets lost, from :func:`receive_totals`."""
    return totals["lost"] / totals["expected"] if totals["expected"] else 0.0


def receive_report(totals: dict[str, Any]) -> dict[str, Any]:
    """The receive side of a stream's stats report (the plain RTP media's and the WebRTC
    media's ``stats()``), from :func:`receive_totals`: jitter in ms rounded to the
    microsecond, the remote SSRC as ``0x%08X``."""
    t = totals
    return {
        "packets_received": t["packets"],
        "lost": t["lost"],
        "duplicates": t["duplicates"],
        "reordered": t["reordered"],
        "jitter_ms": round(t["jitter_ms"], 3),
        "mean_jitter_ms": round(t["mean_jitter_ms"], 3),
        "max_jitter_ms": round(t["max_jitter_ms"], 3),
        "remote_ssrc": None if t["ssrc"] is None else f"0x{t['ssrc']:08X}",
    }
