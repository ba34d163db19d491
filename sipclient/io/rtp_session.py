"""One RTP stream over asyncio UDP: RTP on an even port, RTCP on the next odd one (RFC 3550).

:class:`RtpSession` is the I/O shell around the pure media layer (``sipclient.media``):

* **bind** an even port in the range (the lab's 10000-20000) and the odd one above it for
  RTCP (RFC 3550 11), trying another pair when one is taken (Asterisk's RTP uses the range);
* **send** one packet per ptime on absolute deadlines given by the process's one
  :class:`~sipclient.io.media_clock.MediaClock` (no timer per packet: the clock sends every
  stream due in a slot in one pass, then runs the analysis); the send-time error of each
  packet is kept in :attr:`send_late`. Frame n has RTP timestamp ``ts0 + n * samples``: a
  stalled loop looks like loss, never like a slow clock. Symmetric RTP: packets go to the
  address of the remote SDP, from the port we announced (RFC 4961);
* **levels** (``level=``): ``"full"`` decodes, jitter-buffers and analyses what arrives (the
  sink) and encodes what it plays; ``"packets"`` sends payloads encoded once (one second of
  the source, looped, as SIPp's rtp_stream) and only counts what arrives (RFC 3550 loss,
  jitter, sequence; RFC 4733 events), no decode;
* **receive**: every packet feeds the RFC 3550 statistics (per SSRC, per period: a hold
  starts a new one); audio goes through the jitter buffer (one per SSRC), is decoded on the
  playout tick (any codec of the answer, RFC 3264 7) and handed to ``sink(samples, now)``
  (the analysers and recorder of :mod:`sipclient.agent.media`);
* **DTMF** (RFC 4733): events replace audio packets while they last (marker on the first
  packet, the end packet three times), or in-band tones (Q.23) replace the audio; received
  events count once per event (:attr:`RtpSession.digits_rfc4733`);
* **RTCP**: SR (RR when we sent nothing since the last report) + SDES CNAME every ~5 s
  (RFC 3550 6.2, randomised 0.5-1.5 as 6.3.1 asks), and BYE at :meth:`stop`;
* **tap** (a capture): ``tap(direction, local, remote, data, when)`` sees every RTP and RTCP
  datagram sent (``"out"``) and received (``"in"``, before any parsing), ``when`` being the
  loop time the statistics use for that arrival, so a capture written from it gives tshark
  the same jitter as ours. A failing tap is logged once and then left out.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sipclient.io.media_clock import MediaClock
from sipclient.media import audio, codecs, dtmf, jitter, ports, rtcp
from sipclient.media.rtp import RtpPacket, RtpSender
from sipclient.media.stats import ReceiveStatistics, StreamStats
from sipclient.media.stats import receive_totals as stats_totals
from sipclient.proto.errors import LocalProtocolError, ParseError

__all__ = ["LEVELS", "RtpSession", "StreamParams", "Tap"]

#: what a session does with media: see the module docstring ("none" has no session at all)
LEVELS = ("full", "packets", "none")

#: ``tap(direction "in"|"out", local, remote, data, when)``: see the module docstring
Tap = Callable[[str, tuple[str, int], tuple[str, int], bytes, float], None]

log = logging.getLogger(__name__)


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


_ALLOCATORS: dict[tuple[int, int], ports.RtpPortAllocator] = {}


def _allocator(port_range: tuple[int, int]) -> ports.RtpPortAllocator:
    """One allocator per range for the process, so our own sessions never collide; the
    failures it remembers (ports of other programs) are forgotten when they pile up."""
    allocator = _ALLOCATORS.get(port_range)
    if allocator is None:
        allocator = _ALLOCATORS[port_range] = ports.RtpPortAllocator(*port_range)
    if len(allocator.unavailable) > allocator.capacity // 4:
        allocator.forget_failures()
    return allocator


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Any], None]) -> None:
        self.datagram_received = on_datagram  # type: ignore[method-assign]

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and friends
        log.debug("RTP socket: %s", exc)


class RtpSession:
    """An RTP/RTCP session; see the module docstring. ``source``: an ``audio.Source``
    (``read(n)`` int16 samples); ``sink(samples, now)`` gets every decoded frame."""

    RTCP_INTERVAL = 5.0
    DTMF_MS = 160  # each RFC 4733 / in-band digit lasts this long ...
    DTMF_GAP_MS = 100  # ... and is followed by this much audio
    JB_DELAY = 0.06  # seconds of jitter buffer (fixed)
    JB_STUCK = 10  # packets held by the jitter buffer beyond which it is restarted
    EARLY = MediaClock.EARLY  # the clock aims this early (epoll's ms resolution)

    def __init__(self, address: str, *, port_range: tuple[int, int] = (10000, 20000),
                 source: audio.Source | None = None,
                 sink: Callable[[np.ndarray, float], None] | None = None,
                 rng: random.Random | None = None, cname: str | None = None,
                 tap: Tap | None = None, level: str = "full") -> None:
        if level not in ("full", "packets"):
            raise ValueError(f"RTP session level {level!r}: full or packets")
        self.level = level
        self.address = address
        self.tap = tap
        self.port_range = port_range
        self.source = source if source is not None else audio.SilenceSource()
        self.sink = sink
        self.rng = rng or random.Random()
        self.cname = cname or f"sipclient@{address}"
        self.port = 0
        self.params: StreamParams | None = None
        self.send_late: list[float] = []  #: send time - deadline of each packet (seconds)
        self.rtcp_sent = self.rtcp_received = self.bad_packets = 0
        self.byes: list[int] = []  #: SSRCs that sent an RTCP BYE
        self.digits_rfc4733: list[str] = []
        self.stats = ReceiveStatistics()
        self._past_streams: list[StreamStats] = []  # statistics of the periods before a hold
        self.sender = RtpSender(0, 160, rng=self.rng)
        self.ssrc = self.sender.ssrc
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._clock: MediaClock | None = None
        self._paced = False
        self._payloads: list[bytes] = []  # level "packets": the source, encoded once
        self._rtcp_handle: asyncio.TimerHandle | None = None
        self._jb: jitter.JitterBuffer | None = None
        self._jb_ssrc: int | None = None
        self.jb_resets = 0  #: jitter buffer restarts (new SSRC, timestamps off the grid)
        self.encoder: Any = None
        self.decoders: dict[int, Any] = {}  # payload type -> decoder state
        self._last_decoder: Any = None
        self._dtmf_rx = dtmf.DtmfReceiver()
        self._dtmf_queue: list[tuple[str, str, asyncio.Future[None] | None]] = []
        self._dtmf_plan: dict[int, list[dtmf.DtmfPacket]] = {}  # tick -> event packets
        self._dtmf_busy_until = 0  # tick at which the next digit may start
        self._inband_tone: np.ndarray | None = None
        self._n, self._ts0 = 0, self.sender.timestamp
        self._anchor = (0.0, 0)  # (deadline, frame number) of the last frame sent
        self._sent_since_report = False
        self._stopped = False

    # ------------------------------------------------------------------ sockets

    async def bind(self) -> int:
        """Bind an even RTP port and the odd RTCP port above it; returns the RTP port."""
        if self._rtp is not None:
            return self.port
        loop = self._loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        allocator = _allocator(self.port_range)
        for _ in range(200):
            try:
                port = allocator.allocate()
            except LocalProtocolError:
                break
            socks: list[socket.socket] = []
            try:
                for p in (port, port + 1):
                    socks.append(socket.socket(family, socket.SOCK_DGRAM))
                    socks[-1].bind((self.address, p))
                    socks[-1].setblocking(False)
            except OSError as exc:
                for sock in socks:
                    sock.close()
                allocator.failed(port)
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            self._rtp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self._on_rtp), sock=socks[0])
            self._rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self._on_rtcp), sock=socks[1])
            self.port = port
            return port
        raise OSError(errno.EADDRINUSE, f"no free even RTP port pair in "
                      f"{self.port_range[0]}-{self.port_range[1]} on {self.address}")

    # ------------------------------------------------------------------ control

    def configure(self, params: StreamParams) -> None:
        """Use a negotiated stream (again after each offer/answer; a new codec or ptime
        gets fresh codec states and jitter buffer)."""
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
            return
        self.encoder = codecs.by_name(params.codec).encoder()
        self.sender.payload_type = params.payload_type
        self.sender.samples_per_packet = params.samples
        if self.level == "packets":  # one second of the source, encoded once, looped
            frames = max(1, 1000 // params.ptime_ms)
            self._payloads = [self.encoder.encode(self.source.read(params.samples))
                              for _ in range(frames)]
        self._new_jitter_buffer()
        if self._paced and old is not None:  # re-anchor the pacing on the new ptime
            self._ts0 = (self._ts0 + self._n * old.samples) & 0xFFFFFFFF
            self._n = 0
            self._dtmf_plan.clear()
            self._dtmf_busy_until = 0
            assert self._clock is not None
            self._clock.add(self)

    @property
    def ptime(self) -> float:
        """Seconds between packets (what the media clock paces by)."""
        return (self.params.ptime_ms if self.params is not None else 20) / 1000

    def start(self) -> None:
        """Start pacing packets, the playout and RTCP (idempotent; needs :meth:`configure`)."""
        if self._paced or self._stopped or self.params is None:
            return
        loop = self._loop = asyncio.get_running_loop()
        self._n = 0
        self._clock = MediaClock.of(loop)
        self._clock.add(self)
        self._paced = True
        self._rtcp_handle = loop.call_later(self._rtcp_delay(), self._send_rtcp)

    def send_dtmf(self, digits: str, mode: str = "rfc4733") -> asyncio.Future[None]:
        """Queue ``digits`` as RFC 4733 events (``"rfc4733"``, when telephone-event was
        negotiated) or tones (``"inband"``); the future is done when the last has been sent."""
        for digit in digits:
            dtmf.digit_to_event(digit)  # LocalProtocolError for a bad digit, before queueing
        done: asyncio.Future[None] = (self._loop or asyncio.get_running_loop()).create_future()
        if not digits:
            done.set_result(None)
        for i, digit in enumerate(digits):
            self._dtmf_queue.append((digit, mode, done if i == len(digits) - 1 else None))
        return done

    async def stop(self) -> None:
        """Stop sending, play out what is buffered, send RTCP BYE, close the sockets."""
        if self._stopped:
            return
        self._stopped = True
        if self._clock is not None:
            self._clock.remove(self)
        if self._rtcp_handle is not None:
            self._rtcp_handle.cancel()
        if self._jb is not None and self._loop is not None:
            self._play_out(self._now(), drain=True)
        self.digits_rfc4733 += [d.digit for d in self._dtmf_rx.flush() if d.digit]
        if self._rtcp is not None and self.params is not None:
            self._send_compound(bye=True)
        for done in [q[2] for q in self._dtmf_queue if q[2] and not q[2].done()]:
            done.cancel()
        for transport in [t for t in (self._rtp, self._rtcp) if t is not None]:
            transport.close()
        if self.port:
            _allocator(self.port_range).release(self.port)

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    # ------------------------------------------------------------------ sending

    def send_due(self, now: float, deadline: float) -> None:
        """The media clock: frame ``_n`` is due at ``deadline``; send it."""
        p = self.params
        if p is None:
            return
        if p.send and p.remote is not None and self._rtp is not None:
            self.send_late.append(now - deadline)
            self._send_frame(p, (self._ts0 + self._n * p.samples) & 0xFFFFFFFF)
        self._anchor = (deadline, self._n)
        self._n += 1

    def after_send(self, now: float) -> None:
        """The media clock, once every due packet is out: play out (decode) what arrived."""
        if self._jb is not None and self.level == "full":  # on hold too
            self._play_out(now)

    def _send_frame(self, p: StreamParams, timestamp: int) -> None:
        if self._dtmf_queue and self._n >= self._dtmf_busy_until:
            self._start_digit(p, timestamp)
        events = self._dtmf_plan.pop(self._n, None)
        if events:
            for event in events:
                self.sender.timestamp = event.timestamp
                self._send(self.sender.packet(event.payload, payload_type=p.dtmf_pt,
                                              marker=event.marker, advance=False))
            return
        if self._payloads and self._inband_tone is None:  # level "packets"
            self.sender.timestamp = timestamp
            self._send(self.sender.packet(self._payloads[self._n % len(self._payloads)],
                                          advance=False))
            return
        samples = self.source.read(p.samples)
        if self._inband_tone is not None:
            tone, self._inband_tone = self._inband_tone[:p.samples], self._inband_tone[p.samples:]
            samples = np.concatenate([tone, samples[len(tone):]])
            if not len(self._inband_tone):
                self._inband_tone = None
        self.sender.timestamp = timestamp
        self._send(self.sender.packet(self.encoder.encode(samples), advance=False))

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
        if done is not None:
            assert self._loop is not None
            self._loop.call_later(ticks * p.ptime_ms / 1000,
                                  lambda: done.done() or done.set_result(None))

    def _send(self, packet: RtpPacket) -> None:
        assert self._rtp is not None and self.params is not None
        data = bytes(packet)
        self._rtp.sendto(data, self.params.remote)
        self._sent_since_report = True
        if self.tap is not None:
            self._tapped("out", self.port, self.params.remote, data, self._now())

    def _tapped(self, direction: str, port: int, remote: Any, data: bytes, when: float) -> None:
        """Hand one datagram to the tap; a tap that fails is logged and dropped."""
        assert self.tap is not None
        try:
            self.tap(direction, (self.address, port), (remote[0], remote[1]), data, when)
        except Exception:  # noqa: BLE001 - a broken capture must not stop the media
            log.warning("RTP tap failed, capture of this session stopped", exc_info=True)
            self.tap = None

    # ------------------------------------------------------------------ receiving

    def _on_rtp(self, data: bytes, addr: Any) -> None:
        p = self.params
        if self._loop is None:
            return
        now = self._now()  # the arrival time of the statistics and of the tap alike
        if self.tap is not None:
            self._tapped("in", self.port, addr, data, now)
        if p is None or self._stopped:
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

    def _rtcp_delay(self) -> float:
        return self.RTCP_INTERVAL * self.rng.uniform(0.5, 1.5)

    def _send_rtcp(self) -> None:
        self._send_compound(bye=False)
        assert self._loop is not None
        self._rtcp_handle = self._loop.call_later(self._rtcp_delay(), self._send_rtcp)

    def _send_compound(self, bye: bool) -> None:
        p = self.params
        if self._rtcp is None or p is None or p.remote_rtcp is None:
            return
        now = self._now()
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
        data = rtcp.build_compound(packets)
        try:
            self._rtcp.sendto(data, p.remote_rtcp)
        except OSError as exc:
            log.debug("RTCP send: %s", exc)
        if self.tap is not None:
            self._tapped("out", self.port + 1, p.remote_rtcp, data, now)
        self.rtcp_sent += 1
        self._sent_since_report = False

    def _on_rtcp(self, data: bytes, addr: Any) -> None:
        if self._loop is None:
            return
        now = self._now()
        if self.tap is not None:
            self._tapped("in", self.port + 1, addr, data, now)
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
