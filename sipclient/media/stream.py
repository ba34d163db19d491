"""One RTP/RTCP stream, pure: driven with ``now``, no socket, no event loop (RFC 3550).

:class:`RtpStream` is what a call's media does, as values and methods that take the time:

* :meth:`~RtpStream.send_due` ``(now, deadline)``: frame ``n`` is due at ``deadline`` (the
  process's media clock says when): it is built (RTP timestamp ``ts0 + n * samples``, so a
  stalled sender looks like loss, never like a slow clock) and handed to
  :meth:`~RtpStream.transmit`; the send-time error ``now - deadline`` is kept in
  :attr:`~RtpStream.send_late`. DTMF (RFC 4733 events replacing audio while they last, the
  end packet three times, or in-band Q.23 tones) is planned per frame;
* :meth:`~RtpStream.receive_rtp` ``(data, now)``: RFC 3550 statistics per SSRC and period
  (a hold starts a new one), RFC 4733 events, and at level "full" the jitter buffer (one per
  SSRC, restarted on a new source or timestamps off the grid);
* :meth:`~RtpStream.after_send` ``(now)``: level "full" decodes the frames due (any codec
  of the answer, RFC 3264 7) and hands them to ``sink(samples, now)``;
* :meth:`~RtpStream.rtcp_report` ``(now, bye)``: SR (RR when nothing was sent since the last
  report) + SDES CNAME (+ BYE), and :meth:`~RtpStream.receive_rtcp`.

Levels: "full" encodes what it plays and analyses what arrives; "packets" sends one second
of the source encoded once, looped (as SIPp's rtp_stream), and only counts what arrives.

:meth:`~RtpStream.transmit` ``(data, addr, now)`` collects into :attr:`outbox` here; the
asyncio driver (:class:`sipclient.io.rtp_session.RtpSession`) overrides it with a socket.
Tests drive two streams against each other on a fake clock, with no sleep.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sipclient.proto.errors import ParseError

from . import audio, codecs, dtmf, jitter, rtcp
from .rtp import RTP_HEADER, RtpPacket, RtpSender
from .stats import ReceiveStatistics, StreamStats
from .stats import receive_totals as stats_totals

__all__ = ["STREAM_LEVELS", "RtpStream", "StreamParams"]

log = logging.getLogger(__name__)

#: what a stream does with media ("none" has no stream at all: see sipclient.agent.media)
STREAM_LEVELS = ("full", "packets")


@dataclass(frozen=True)
class StreamParams:
    """What the session sends and expects (from the negotiated stream, RFC 3264)."""

    remote: tuple[str, int] | None  # RTP address of the remote SDP (None: nowhere to send)
    remote_rtcp: tuple[str, int] | None = None
    codec: str = "PCMU"
    payload_type: int = 0
    clock_rate: int = 8000
    ptime_ms: int = 20
    dtmf_pt: int | None = None
    send: bool = True
    receive: bool = True
    #: every payload type we accept (RFC 3264 7: the offerer must be prepared to receive
    #: any format of the answer), as (pt, codec name); the sending one is always included
    receive_codecs: tuple[tuple[int, str], ...] = ()

    @property
    def decoders(self) -> dict[int, str]:
        return {**dict(self.receive_codecs), self.payload_type: self.codec}

    @property
    def samples(self) -> int:
        """Samples (RTP timestamp units) per packet."""
        return self.clock_rate * self.ptime_ms // 1000


class RtpStream:
    """One RTP stream and its RTCP, driven with ``now`` (see the module docstring).
    ``source``: an ``audio.Source`` (``read(n)`` int16 samples); ``sink(samples, now)`` gets
    every decoded frame (level "full")."""

    DTMF_MS = 160  # each RFC 4733 / in-band digit lasts this long ...
    DTMF_GAP_MS = 100  # ... and is followed by this much audio
    JB_DELAY = 0.06  # seconds of jitter buffer (fixed)
    JB_STUCK = 10  # packets held by the jitter buffer beyond which it is restarted

    def __init__(self, *, source: audio.Source | None = None,
                 sink: Callable[[np.ndarray, float], None] | None = None,
                 rng: random.Random | None = None, cname: str = "sipclient",
                 level: str = "full") -> None:
        if level not in STREAM_LEVELS:
            raise ValueError(f"RTP stream level {level!r}: full or packets")
        self.level = level
        self.source = source if source is not None else audio.SilenceSource()
        self.sink = sink
        self.rng = rng or random.Random()
        self.cname = cname
        self.params: StreamParams | None = None
        self.send_late: list[float] = []  #: send time - deadline of each packet (seconds)
        self.rtcp_sent = self.rtcp_received = self.bad_packets = 0
        self.byes: list[int] = []  #: SSRCs that sent an RTCP BYE
        self.digits_rfc4733: list[str] = []
        self.stats = ReceiveStatistics()
        self._past_streams: list[StreamStats] = []  # statistics of the periods before a hold
        self.sender = RtpSender(0, 160, rng=self.rng)
        self.ssrc = self.sender.ssrc
        self.outbox: list[tuple[bytes, tuple[str, int], float]] = []  #: what transmit got
        self._payloads: list[bytes] = []  # level "packets": the source, encoded once
        self._jb: jitter.JitterBuffer | None = None
        self._jb_ssrc: int | None = None
        self.jb_resets = 0  #: jitter buffer restarts (new SSRC, timestamps off the grid)
        self.encoder: Any = None
        self.decoders: dict[int, Any] = {}  # payload type -> decoder state
        self._last_decoder: Any = None
        self._dtmf_rx = dtmf.DtmfReceiver()
        self._dtmf_queue: list[tuple[str, str, Any]] = []
        self._dtmf_plan: dict[int, list[dtmf.DtmfPacket]] = {}  # tick -> event packets
        self._dtmf_busy_until = 0  # tick at which the next digit may start
        self._dtmf_done: list[tuple[int, Any]] = []  # (tick, token): digits finished then
        self._inband_tone: np.ndarray | None = None
        self._n, self._ts0 = 0, self.sender.timestamp
        self._samples = 160  # params.samples, kept (read per packet)
        self._anchor = (0.0, 0)  # (deadline, frame number) of the last frame sent
        self._sent_since_report = False

    # ------------------------------------------------------------------ control

    @property
    def ptime(self) -> float:
        """Seconds between packets (what the media clock paces by)."""
        return (self.params.ptime_ms if self.params is not None else 20) / 1000

    def configure(self, params: StreamParams) -> bool:
        """Use a negotiated stream (again after each offer/answer; a new codec or ptime
        gets fresh codec states and jitter buffer). True when the pacing must restart
        (the ptime or codec changed on a running stream)."""
        old, self.params = self.params, params
        if old is not None and not old.receive and params.receive:
            # resumed after a hold: the peer's sequence numbers ran on while it was silent,
            # which RFC 3550 counting would take for loss; a new period of statistics starts
            self._past_streams += self.stats.streams.values()
            self.stats = ReceiveStatistics()
        self.stats.clock_rates[params.payload_type] = params.clock_rate
        if old is None or old.decoders != params.decoders:
            self.decoders = {pt: codecs.by_name(name).decoder()
                             for pt, name in params.decoders.items()}
        if old is not None and (old.codec, old.payload_type, old.ptime_ms) == (
                params.codec, params.payload_type, params.ptime_ms):
            return False
        self._samples = params.samples
        self.encoder = codecs.by_name(params.codec).encoder()
        self.sender.payload_type = params.payload_type
        self.sender.samples_per_packet = params.samples
        if self.level == "packets":  # one second of the source, encoded once, looped
            frames = max(1, 1000 // params.ptime_ms)
            self._payloads = [self.encoder.encode(self.source.read(params.samples))
                              for _ in range(frames)]
        self._new_jitter_buffer()
        if old is None:
            return False
        self._ts0 = (self._ts0 + self._n * old.samples) & 0xFFFFFFFF  # re-anchor the frames
        self._n = 0
        self._dtmf_plan.clear()
        self._dtmf_busy_until = 0
        return True

    def queue_dtmf(self, digits: str, mode: str = "rfc4733", token: Any = None) -> None:
        """Queue ``digits`` as RFC 4733 events (``"rfc4733"``, when telephone-event was
        negotiated) or tones (``"inband"``); :meth:`dtmf_done` gets ``token`` once the last
        was sent. A bad digit raises LocalProtocolError before anything is queued."""
        for digit in digits:
            dtmf.digit_to_event(digit)
        for i, digit in enumerate(digits):
            self._dtmf_queue.append((digit, mode, token if i == len(digits) - 1 else None))

    def dtmf_done(self, token: Any) -> None:
        """The last digit queued with ``token`` went out (the driver resolves its future)."""

    def transmit(self, data: bytes, addr: tuple[str, int], now: float, rtcp: bool = False
                 ) -> None:
        """Put one RTP (or RTCP) datagram on the wire: collected in :attr:`outbox` here."""
        self.outbox.append((data, addr, now))

    # ------------------------------------------------------------------ sending

    def send_due(self, now: float, deadline: float) -> None:
        """Frame ``_n`` is due at ``deadline``: send it (the media clock calls this)."""
        p = self.params
        if p is None:
            return
        if p.send and p.remote is not None:
            self.send_late.append(now - deadline)
            timestamp = (self._ts0 + self._n * self._samples) & 0xFFFFFFFF
            if (self._payloads and not self._dtmf_queue and not self._dtmf_plan
                    and self._inband_tone is None):  # level "packets", no DTMF: the bytes
                self.transmit(self.sender.packet_bytes(
                    self._payloads[self._n % len(self._payloads)], timestamp), p.remote, now)
                self._sent_since_report = True
            else:
                self._send_frame(p, timestamp, now)
        self._anchor = (deadline, self._n)
        self._n += 1
        while self._dtmf_done and self._dtmf_done[0][0] <= self._n:
            self.dtmf_done(self._dtmf_done.pop(0)[1])

    def after_send(self, now: float) -> None:
        """Once every due packet is out: play out (decode) what arrived (level "full")."""
        if self._jb is not None and self.level == "full":  # on hold too
            self._play_out(now)

    def _send_frame(self, p: StreamParams, timestamp: int, now: float) -> None:
        if self._dtmf_queue and self._n >= self._dtmf_busy_until:
            self._start_digit(p, timestamp)
        events = self._dtmf_plan.pop(self._n, None)
        if events:
            for event in events:
                self.sender.timestamp = event.timestamp
                self._send(now, self.sender.packet(event.payload, payload_type=p.dtmf_pt,
                                              marker=event.marker, advance=False))
            return
        if self._payloads and self._inband_tone is None:  # level "packets": no packet object
            data = self.sender.packet_bytes(self._payloads[self._n % len(self._payloads)],
                                            timestamp)
            self.transmit(data, p.remote, now)  # type: ignore[arg-type]
            self._sent_since_report = True
            return
        samples = self.source.read(p.samples)
        if self._inband_tone is not None:
            tone, self._inband_tone = self._inband_tone[:p.samples], self._inband_tone[p.samples:]
            samples = np.concatenate([tone, samples[len(tone):]])
            if not len(self._inband_tone):
                self._inband_tone = None
        self.sender.timestamp = timestamp
        self._send(now, self.sender.packet(self.encoder.encode(samples), advance=False))

    def _start_digit(self, p: StreamParams, timestamp: int) -> None:
        digit, mode, done = self._dtmf_queue.pop(0)
        ticks = -(-(self.DTMF_MS + self.DTMF_GAP_MS) // p.ptime_ms)
        self._dtmf_busy_until = self._n + ticks
        if mode == "inband" or p.dtmf_pt is None:
            self._inband_tone = audio.tone(dtmf.DTMF_FREQUENCIES[digit.upper()], -8.0,
                                           self.DTMF_MS / 1000, p.clock_rate)
        else:
            plan = dtmf.DtmfSender(clock_rate=p.clock_rate, interval_ms=p.ptime_ms,
                                   duration_ms=self.DTMF_MS).packets(digit, timestamp)
            for packet in plan:
                tick = self._n + round(packet.at * 1000 / p.ptime_ms)
                self._dtmf_plan.setdefault(tick, []).append(packet)
        if done is not None:  # told once the digit's last packet (and its gap) went out
            self._dtmf_done.append((self._dtmf_busy_until, done))

    def _send(self, now: float, packet: RtpPacket) -> None:
        assert self.params is not None and self.params.remote is not None
        self.transmit(bytes(packet), self.params.remote, now)
        self._sent_since_report = True

    # ------------------------------------------------------------------ receiving

    def receive_rtp(self, data: bytes, now: float) -> None:
        """One RTP datagram that arrived at ``now``."""
        p = self.params
        if p is None:
            return
        if self.level == "packets" and len(data) >= 12 and data[0] == 0x80:
            # the common packet (version 2, no padding, extension or CSRC): the header is
            # all the counting needs; anything else takes the full parse below
            _, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
            pt = b1 & 0x7F
            if p.dtmf_pt is None or pt != p.dtmf_pt:
                stream = self.stats.streams.get(ssrc)
                if stream is None:
                    stream = self.stats.streams[ssrc] = StreamStats(ssrc, p.clock_rate)
                if b1 & 0x80:
                    stream.update(seq, ts, now, marker=True, size=len(data),
                                  payload_size=len(data) - 12, payload_type=pt)
                else:
                    stream.count(seq, ts, now, len(data), pt)
                return
        try:
            pkt = RtpPacket.parse(data)
        except (ParseError, ValueError):
            self.bad_packets += 1
            return
        is_event = p.dtmf_pt is not None and pkt.payload_type == p.dtmf_pt
        stream = self.stats.streams.get(pkt.ssrc)
        if stream is None:
            stream = self.stats.streams[pkt.ssrc] = StreamStats(pkt.ssrc, p.clock_rate)
        # events keep their start timestamp: they stay out of the jitter (RFC 4733 2.5.1.2)
        stream.update(pkt.sequence_number, pkt.timestamp, now, marker=pkt.marker,
                      timed=not is_event, size=len(data), payload_size=len(pkt.payload),
                      payload_type=pkt.payload_type)
        if is_event:
            try:
                done = self._dtmf_rx.receive(pkt.payload, pkt.timestamp)
                self.digits_rfc4733 += [d.digit for d in done if d.digit]
            except (ParseError, ValueError):
                self.bad_packets += 1
        elif self.level == "packets":
            return  # counted above: no jitter buffer, no decode
        elif pkt.payload_type in self.decoders and self._jb is not None:
            if pkt.ssrc != self._jb_ssrc or len(self._jb) > self.JB_STUCK:
                # a new source (transfer, re-INVITE), or a timestamp jump off the frame grid
                # that the buffer would keep forever: start over from this packet
                self.jb_resets += self._jb_ssrc is not None
                self._new_jitter_buffer(pkt.ssrc)
            self._jb.push(pkt, now)

    def _new_jitter_buffer(self, ssrc: int | None = None) -> None:
        assert self.params is not None
        self._jb = jitter.JitterBuffer(self.params.clock_rate, self.params.samples,
                                       delay=self.JB_DELAY)
        self._jb_ssrc = ssrc

    def _play_out(self, now: float, drain: bool = False) -> None:
        """Decode the frames due by ``now`` (``drain``: everything still buffered)."""
        assert self._jb is not None and self.params is not None
        frames = self._jb.pop(now)
        if drain and len(self._jb):  # what is buffered, up to the buffer's depth (bounded)
            frames += self._jb.pop(now + self.JB_DELAY + 2 * self.params.ptime_ms / 1000)
        for frame in frames:
            payload = frame.payload
            decoder = self.decoders.get(frame.payload_type, self._last_decoder)
            if payload is None or decoder is None:  # lost or late: conceal (G.729), else 0s
                conceal = getattr(self._last_decoder, "conceal", None)
                samples = (conceal(self.params.samples // 80) if conceal is not None
                           else np.zeros(self.params.samples, np.int16))
            else:
                try:
                    samples = decoder.decode(payload)
                except (ParseError, ValueError):
                    self.bad_packets += 1
                    continue
                self._last_decoder = decoder
            if self.sink is not None:
                self.sink(samples, now)

    # ------------------------------------------------------------------ RTCP

    def rtcp_report(self, now: float, bye: bool = False) -> None:
        """SR (or RR) + SDES CNAME (+ BYE) to the remote RTCP address (RFC 3550 6)."""
        p = self.params
        if p is None or p.remote_rtcp is None:
            return
        blocks = tuple(self.stats.report_blocks(now))
        if self._sent_since_report:
            at, n = self._anchor  # the RTP clock runs with the frames' deadlines
            rtp_now = (self._ts0 + n * p.samples + int((now - at) * p.clock_rate)) & 0xFFFFFFFF
            ntp = rtcp.ntp_from_unix(now)  # the loop clock: only differences matter (LSR)
            report: Any = rtcp.SenderReport(self.ssrc, ntp, rtp_now, self.sender.packets_sent,
                                            self.sender.octets_sent, blocks)
        else:
            report = rtcp.ReceiverReport(self.ssrc, blocks)
        packets = [report, rtcp.SourceDescription.cname(self.ssrc, self.cname)]
        if bye:
            packets.append(rtcp.Bye((self.ssrc,)))
        self.transmit(rtcp.build_compound(packets), p.remote_rtcp, now, rtcp=True)
        self.rtcp_sent += 1
        self._sent_since_report = False

    def receive_rtcp(self, data: bytes, now: float) -> None:
        """One RTCP compound packet that arrived at ``now``."""
        try:
            packets = rtcp.parse_compound(data)
        except (ParseError, ValueError):
            self.bad_packets += 1
            return
        self.rtcp_received += 1
        for packet in packets:
            stream = self.stats.streams.get(getattr(packet, "ssrc", -1))
            if isinstance(packet, rtcp.SenderReport) and stream is not None:
                stream.on_sender_report(packet.ntp_timestamp, now)
            elif isinstance(packet, rtcp.Bye):
                self.byes += list(packet.ssrcs)

    # ------------------------------------------------------------------ results

    def receive_totals(self) -> dict[str, Any]:
        """Totals over every SSRC and every period (a hold starts a new one):
        :func:`sipclient.media.stats.receive_totals`."""
        return stats_totals([*self._past_streams, *self.stats.streams.values()])

    def send_late_ms(self, percentile: float = 99.0) -> float | None:
        """A percentile of the send-time error (|actual - deadline|), in ms."""
        if not self.send_late:
            return None
        return float(np.percentile(np.abs(np.asarray(self.send_late)), percentile)) * 1000
