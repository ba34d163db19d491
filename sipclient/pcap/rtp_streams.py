"""RTP streams of a capture: found through SDP or heuristically, measured with
:mod:`sipclient.media.stats` (RFC 3550), DTMF events (RFC 4733) and an E-model MOS.

How a UDP datagram is taken for RTP, following tshark so that the two agree:

- *Through SDP* (always): every ``c=``/``m=`` of an offer or answer seen in a SIP message
  declares an RTP endpoint (address, port) from that frame on (Wireshark's
  ``rtp_add_address``), and its port + 1 (or ``a=rtcp``) as RTCP. A datagram from or to
  such an endpoint is RTP when its first octet says version 2. ``c=0.0.0.0`` (hold)
  declares nothing that traffic could match. The payload types of the SDP name the codecs
  (``a=rtpmap`` for dynamic ones) and give the clock rate of the jitter.
- *Heuristically* (``heuristic=True``, tshark's ``rtp_udp`` heuristic): a datagram of
  version 2 sent to an even port, not to a port a well-known protocol owns (tshark hands
  those to their dissector before trying heuristics), at least 12 bytes, and whose payload
  type is not in the RTCP range (72-76 with the marker bit: SR, RR, SDES, BYE, APP).

A stream is (source, destination, SSRC), as ``tshark -z rtp,streams`` lists them. Per packet
only the header fields are kept, in arrays (no per-packet objects); the statistics are run
once at the end (:meth:`RtpCollector.finish`).
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field

import numpy as np

from sipclient.media.dtmf import event_to_digit
from sipclient.media.mos import codec_impairment, estimate_mos
from sipclient.media.sdp import STATIC_PAYLOAD_TYPES, SessionDescription
from sipclient.media.stats import StreamStats
from sipclient.pcap.rtp_stats import HEADER_DTYPE, stream_figures

__all__ = ["DtmfEvent", "MediaSetup", "RtpCollector", "RtpStream", "codec_name"]

Address = tuple[str, int]

_EVENT = struct.Struct("!BBH")

#: UDP ports whose registered tshark dissector takes the datagram before any heuristic
#: (DNS, DHCP, TFTP, NTP, NetBIOS, SNMP, syslog, RIP, SSDP, mDNS, MGCP, H.225 RAS, SIP,
#: IKE, L2TP, RADIUS, STUN ...).
WELL_KNOWN_UDP_PORTS = frozenset({
    53, 67, 68, 69, 123, 137, 138, 139, 161, 162, 389, 500, 514, 520, 546, 547, 1645, 1646,
    1701, 1718, 1719, 1812, 1813, 1900, 2427, 2727, 2944, 2945, 3478, 4500, 5060, 5061,
    5353, 5355,
})


def codec_name(payload_type: int, rtpmap: dict[int, tuple[str, int]] | None = None) -> str:
    """``PCMA``, ``telephone-event``, ... : the SDP's name, else RFC 3551's, else
    ``PT<n>``."""
    if rtpmap and payload_type in rtpmap:
        return rtpmap[payload_type][0]
    static = STATIC_PAYLOAD_TYPES.get(payload_type)
    return static[0] if static else f"PT{payload_type}"


@dataclass
class MediaSetup:
    """What the SDP that declared an endpoint said: where, from which frame, which
    payload types."""

    frame: int
    call_id: str | None
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    rtcp: bool = False
    other: bool = False                # a non-RTP stream now owns it (m=image udptl: T.38)


@dataclass(frozen=True)
class DtmfEvent:
    """One RFC 4733 event (all the packets with its RTP timestamp)."""

    src: Address
    dst: Address
    ssrc: int
    payload_type: int
    event: int
    digit: str | None
    rtp_timestamp: int
    first_frame: int
    start: float
    duration_ms: float
    packets: int
    end_packets: int
    volume: int

    def as_dict(self) -> dict:
        return {"src": f"{self.src[0]}:{self.src[1]}", "dst": f"{self.dst[0]}:{self.dst[1]}",
                "ssrc": f"0x{self.ssrc:08X}", "payload_type": self.payload_type,
                "event": self.event, "digit": self.digit, "rtp_timestamp": self.rtp_timestamp,
                "first_frame": self.first_frame, "start": round(self.start, 6),
                "duration_ms": round(self.duration_ms, 3), "packets": self.packets,
                "end_packets": self.end_packets, "volume": self.volume}


@dataclass
class RtpStream:
    """One stream's figures (packets, lost, jitter as tshark's ``rtp,streams``)."""

    src: Address
    dst: Address
    ssrc: int
    payload_type: int                  # the first timed (media) payload type, else the first
    payload_types: dict[int, int]      # packets per payload type
    codec: str
    codecs: list[str]
    packets: int
    expected: int
    lost: int
    lost_percent: float
    duplicates: int
    out_of_order: int
    mean_jitter_ms: float
    max_jitter_ms: float
    max_delta_ms: float
    mos: float | None
    first_time: float
    last_time: float
    first_frame: int
    last_frame: int
    found_by: str                      # "sdp" or "heuristic"
    call_id: str | None
    setup_frame: int | None
    dtmf: list[DtmfEvent] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "src": f"{self.src[0]}:{self.src[1]}", "dst": f"{self.dst[0]}:{self.dst[1]}",
            "ssrc": f"0x{self.ssrc:08X}", "payload_type": self.payload_type,
            "payload_types": {str(k): v for k, v in self.payload_types.items()},
            "codec": self.codec, "codecs": self.codecs, "packets": self.packets,
            "expected": self.expected, "lost": self.lost,
            "lost_percent": round(self.lost_percent, 2), "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "mean_jitter_ms": round(self.mean_jitter_ms, 3),
            "max_jitter_ms": round(self.max_jitter_ms, 3),
            "max_delta_ms": round(self.max_delta_ms, 3),
            "mos": None if self.mos is None else round(self.mos, 2),
            "first_time": self.first_time, "last_time": self.last_time,
            "duration_s": round(self.last_time - self.first_time, 6),
            "first_frame": self.first_frame, "last_frame": self.last_frame,
            "found_by": self.found_by, "call_id": self.call_id, "setup_frame": self.setup_frame,
            "dtmf": "".join(e.digit or "?" for e in self.dtmf),
        }


class _Acc:
    """One stream's packets: their 12-byte RTP headers back to back, arrival times and
    frame numbers (decoded with numpy at the end), and telephone-event payloads."""

    __slots__ = ("headers", "times", "frames", "events", "setup", "found_by")

    def __init__(self, setup: MediaSetup | None, found_by: str) -> None:
        self.headers = bytearray()
        self.times = array("d")
        self.frames = array("L")
        self.events: list[tuple[int, int, bytes]] = []   # (index, pt, 4 payload bytes)
        self.setup = setup
        self.found_by = found_by


class RtpCollector:
    """Decides which datagrams are RTP and accumulates them per stream."""

    def __init__(self, heuristic: bool = False) -> None:
        self.heuristic = heuristic
        self.endpoints: dict[Address, MediaSetup] = {}
        self.rtcp_packets = 0
        self._flows: dict[tuple, object] = {}        # (src, sport, dst, dport) -> verdict
        #: the reader's hot path: raw IPv4 addresses and ports (12 bytes as in the header)
        #: of a flow known to carry RTP -> {SSRC bytes: stream}; emptied by every new SDP
        self.fast_flows: dict[bytes, dict[bytes, _Acc]] = {}
        self._heur_flows: dict[tuple, None] = {}
        self._streams: dict[tuple, _Acc] = {}

    # -- SDP ---------------------------------------------------------------------------------
    def add_sdp(self, frame: int, call_id: str | None, sdp: SessionDescription,
                accepted: bool = False) -> None:
        """Declare the endpoints of an offer or answer seen in ``frame``. A non-RTP stream
        (``m=image udptl`` for T.38) takes its address over only when ``accepted`` (the SDP
        of a 2xx answer or an ACK): an offer refused with 488 leaves the RTP flowing. (tshark
        switches the address to T.38 on the offer already, and then reads the RTP that goes
        on as T.38.)"""
        session_conn = sdp.connection
        for m in sdp.media:
            if m.port == 0:
                continue
            conn = m.connection or session_conn
            if conn is None or conn.is_hold:
                continue
            if not m.is_rtp:
                if accepted:     # T.38 (m=image udptl) ... takes the address over from here
                    self.endpoints[(conn.host, m.port)] = MediaSetup(frame, call_id, other=True)
                    self.fast_flows.clear()
                continue
            rtpmap: dict[int, tuple[str, int]] = {}
            try:
                for pt, rm in m.rtpmaps.items():
                    rtpmap[pt] = (rm.encoding, rm.clock_rate)
            except ValueError:
                pass
            host = conn.host
            old = self.endpoints.get((host, m.port))
            merged = dict(old.rtpmap) if old else {}
            merged.update(rtpmap)
            self.endpoints[(host, m.port)] = MediaSetup(frame, call_id, merged)
            self.fast_flows.clear()
            rtcp_port = m.port + 1
            try:
                attr = m.rtcp
                if attr is not None:
                    rtcp_port = attr.port
            except ValueError:
                pass
            if rtcp_port != m.port:
                self.endpoints[(host, rtcp_port)] = MediaSetup(frame, call_id, merged, rtcp=True)
        self._flows.clear()

    # -- per datagram ------------------------------------------------------------------------
    def packet(self, frame: int, time: float, src: str, sport: int, dst: str, dport: int,
               payload: bytes, raw_flow: bytes | None = None) -> bool:
        """Take the datagram if it is RTP (or RTCP of a declared session); True if taken.
        ``raw_flow`` (IPv4 source, destination and UDP ports as on the wire) lets the next
        packets of this stream take the reader's hot path."""
        flow = (src, sport, dst, dport)
        verdict = self._flows.get(flow)
        if verdict is None:
            verdict = self._flows[flow] = self._classify(src, sport, dst, dport)
        if verdict is False or len(payload) < 12 or payload[0] & 0xC0 != 0x80:
            return False
        b1 = payload[1]
        setup, found_by, rtcp = verdict  # type: ignore[misc]
        if rtcp or 72 <= b1 & 0x7F <= 76:
            self.rtcp_packets += 1
            return True
        key = (flow, payload[8:12])
        acc = self._streams.get(key)
        if acc is None:
            acc = self._streams[key] = _Acc(setup, found_by)
            if found_by == "heuristic-candidate":
                self._heur_flows[(dst, dport, src, sport)] = None   # the way back is RTP too
                self._flows.pop((dst, dport, src, sport), None)
        if raw_flow is not None:
            self.fast_flows.setdefault(raw_flow, {})[payload[8:12]] = acc
        if b1 & 0x7F >= 96 and len(payload) >= 16:
            b0 = payload[0]
            start = 12 + 4 * (b0 & 0x0F)
            if b0 & 0x10 and len(payload) >= start + 4:
                start += 4 + 4 * int.from_bytes(payload[start + 2:start + 4], "big")
            acc.events.append((len(acc.times), b1 & 0x7F, bytes(payload[start:start + 4])))
        acc.headers += payload[:12]
        acc.times.append(time)
        acc.frames.append(frame)
        return True

    def _classify(self, src: str, sport: int, dst: str, dport: int) -> object:
        setup = self.endpoints.get((dst, dport)) or self.endpoints.get((src, sport))
        if setup is not None:
            return False if setup.other else (setup, "sdp", setup.rtcp)
        if (src, sport, dst, dport) in self._heur_flows:
            return None, "heuristic", False
        if not self.heuristic:
            return False
        if dport & 1 or dport in WELL_KNOWN_UDP_PORTS or sport in WELL_KNOWN_UDP_PORTS:
            return False
        return None, "heuristic-candidate", False

    # -- results -----------------------------------------------------------------------------
    def finish(self) -> tuple[list[RtpStream], list[DtmfEvent]]:
        streams = []
        for ((src, sport, dst, dport), ssrc), acc in self._streams.items():
            streams.append(_measure((src, sport), (dst, dport), int.from_bytes(ssrc, "big"),
                                    acc))
        streams.sort(key=lambda s: (s.first_frame, s.src, s.dst, s.ssrc))
        events = [e for s in streams for e in s.dtmf]
        events.sort(key=lambda e: e.first_frame)
        return streams, events


def _clock_rate(pt: int, rtpmap: dict[int, tuple[str, int]]) -> int:
    """The RTP clock of a payload type; 0 for RFC 4733 events and unknown dynamic types
    (kept out of the jitter, as :class:`sipclient.media.stats.ReceiveStatistics` does)."""
    if pt in rtpmap:
        name, rate = rtpmap[pt]
        return 0 if name.lower() in ("telephone-event", "cn") and pt >= 96 else rate
    static = STATIC_PAYLOAD_TYPES.get(pt)
    return static[1] if static else 0


def _event_pts(rtpmap: dict[int, tuple[str, int]]) -> set[int]:
    named = {pt for pt, (name, _) in rtpmap.items() if name.lower() == "telephone-event"}
    # tshark decodes PT 101 as RFC 2833 events when no SDP names it otherwise
    return named or ({101} if 101 not in rtpmap else set())


def _measure(src: Address, dst: Address, ssrc: int, acc: _Acc) -> RtpStream:
    rtpmap = acc.setup.rtpmap if acc.setup else {}
    rates = np.array([_clock_rate(pt, rtpmap) for pt in range(128)], dtype=np.int64)
    header = np.frombuffer(bytes(acc.headers), dtype=HEADER_DTYPE)
    seq, stamps, b1 = header["seq"], header["ts"], header["b1"]
    pt = (b1 & 0x7F).astype(np.int64)
    marker = b1 >= 128
    arrival = np.frombuffer(acc.times, dtype=np.float64)
    fast = stream_figures(ssrc, seq, stamps, arrival, pt, marker, rates)
    if fast is not None:
        summary, _clock, counts = fast
    else:                                      # restarts, strays: the reference, per packet
        summary, counts = _reference(ssrc, seq, stamps, arrival, pt, marker, rates)
    timed = [p for p in counts if rates[p]]
    main_pt = timed[0] if timed else next(iter(counts))
    codecs = [codec_name(p, rtpmap) for p in counts]
    codec = codec_name(main_pt, rtpmap)
    mos = None
    if codec_impairment(codec) is not None:
        mos = estimate_mos(codec, max(0.0, summary.lost_percent),
                           jitter_buffer_ms=2 * summary.mean_jitter_ms).mos
    dtmf = _dtmf_events(src, dst, ssrc, acc, stamps, _event_pts(rtpmap), rtpmap)
    return RtpStream(
        src, dst, ssrc, main_pt, counts, codec, codecs, summary.packets,
        summary.expected, summary.lost, summary.lost_percent, summary.duplicates,
        summary.out_of_order, summary.mean_jitter_ms, summary.max_jitter_ms,
        summary.max_delta_ms, mos, acc.times[0], acc.times[-1], acc.frames[0], acc.frames[-1],
        "sdp" if acc.found_by == "sdp" else "heuristic",
        acc.setup.call_id if acc.setup else None, acc.setup.frame if acc.setup else None,
        dtmf)


def _reference(ssrc: int, seq, stamps, arrival, pt, marker, rates):
    """:class:`StreamStats`, one packet at a time (what :func:`stream_figures` models not)."""
    stats = StreamStats(ssrc, 8000)
    first_timed = True
    for s, t, a, p, m in zip(seq.tolist(), stamps.tolist(), arrival.tolist(), pt.tolist(),
                             marker.tolist()):
        rate = int(rates[p])
        if rate and first_timed:
            stats.clock_rate = rate          # a stream takes the rate of its first timed packet
            first_timed = False
        stats.update(s, t, a, marker=m, timed=rate != 0, payload_type=p)
    return stats.summary(), dict(stats.payload_type_counts)


def _dtmf_events(src: Address, dst: Address, ssrc: int, acc: _Acc, stamps, event_pts: set[int],
                 rtpmap: dict[int, tuple[str, int]]) -> list[DtmfEvent]:
    """Group telephone-event packets by (RTP timestamp, event) (RFC 4733 2.5.2)."""
    found: dict[tuple[int, int], list] = {}
    for index, pt, data in acc.events:
        if pt not in event_pts or len(data) < 4:
            continue
        event, flags, duration = _EVENT.unpack(data)
        key = (int(stamps[index]), event)
        entry = found.get(key)
        if entry is None:
            # [pt, first index, packets, end packets, max duration, volume]
            entry = found[key] = [pt, index, 0, 0, 0, flags & 0x3F]
        entry[2] += 1
        entry[3] += flags >> 7
        entry[4] = max(entry[4], duration)
    out = []
    for (stamp, event), (pt, index, packets, ends, duration, volume) in found.items():
        rate = rtpmap.get(pt, ("", 8000))[1] or 8000
        out.append(DtmfEvent(src, dst, ssrc, pt, event, event_to_digit(event), stamp,
                             acc.frames[index], acc.times[index], 1000.0 * duration / rate,
                             packets, ends, volume))
    return out
