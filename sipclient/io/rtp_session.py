"""One RTP stream over asyncio UDP: the thin driver of :class:`sipclient.media.stream.RtpStream`.

:class:`RtpSession` is the pure stream (what to send when, what arrived, RTCP) with its
sockets and timers; everything else is in :mod:`sipclient.media.stream`:

* **bind** an even port in the range (the lab's 10000-20000) and the odd one above it for
  RTCP (RFC 3550 11), trying another pair when one is taken (Asterisk's RTP uses the range);
* **pacing** by the process's one :class:`~sipclient.io.media_clock.MediaClock` (no timer
  per packet: the clock calls ``send_due`` of every stream due in a slot in one pass, then
  ``after_send`` for the analysis); symmetric RTP: packets go to the address of the remote
  SDP, from the port we announced (RFC 4961);
* **RTCP** every ~5 s (RFC 3550 6.2, randomised 0.5-1.5 as 6.3.1 asks), BYE at :meth:`stop`;
* **DTMF**: :meth:`send_dtmf` returns a future done once the last digit was sent;
* **receiving**: the RTP socket is watched with every other of the process
  (:class:`~sipclient.io.rtp_readers.RtpReaders`: one readiness per loop pass for all);
* **tap** (a capture): ``tap(direction, local, remote, data, when)`` sees every RTP and RTCP
  datagram sent (``"out"``) and received (``"in"``, before any parsing), ``when`` being the
  loop time the statistics use for that arrival, so a capture written from it gives tshark
  the same jitter as ours. A failing tap is logged once and then left out.

Levels (``level=``): ``"full"`` and ``"packets"``, see :mod:`sipclient.media.stream`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from collections.abc import Callable
from typing import Any

import numpy as np

from sipclient.io.changes import Changes
from sipclient.io.media_clock import MediaClock
from sipclient.io.rtp_readers import RtpReaders
from sipclient.media import audio, ports
from sipclient.media.stream import STREAM_LEVELS, RtpStream, StreamParams
from sipclient.proto.errors import LocalProtocolError

__all__ = ["LEVELS", "RtpSession", "StreamParams", "Tap"]

#: ``tap(direction "in"|"out", local, remote, data, when)``: see the module docstring
Tap = Callable[[str, tuple[str, int], tuple[str, int], bytes, float], None]

LEVELS = STREAM_LEVELS

#: RTP datagrams read per readiness of the socket (bounded: other work gets its turn)
READ_BATCH = 32

log = logging.getLogger(__name__)


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


class RtpSession(RtpStream):
    """An RTP/RTCP session; see the module docstring. ``source``: an ``audio.Source``
    (``read(n)`` int16 samples); ``sink(samples, now)`` gets every decoded frame."""

    RTCP_INTERVAL = 5.0
    EARLY = MediaClock.EARLY  # the clock aims this early (epoll's ms resolution)

    def __init__(self, address: str, *, port_range: tuple[int, int] = (10000, 20000),
                 source: audio.Source | None = None,
                 sink: Callable[[np.ndarray, float], None] | None = None,
                 rng: random.Random | None = None, cname: str | None = None,
                 tap: Tap | None = None, level: str = "full") -> None:
        super().__init__(source=source, sink=sink, rng=rng,
                         cname=cname or f"sipclient@{address}", level=level)
        self.address = address
        self.tap = tap
        self.port_range = port_range
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rtp_sock: socket.socket | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._clock: MediaClock | None = None
        self._paced = False
        self._rtcp_handle: asyncio.TimerHandle | None = None
        self._stopped = False
        self._received = Changes()

    async def received(self, timeout: float | None = None) -> bool:
        """Wait for the next RTP packet to arrive (and be counted); False when ``timeout``
        seconds passed without one. What waits on the statistics (DTMF received, a tone)
        wakes here instead of polling."""
        return await self._received.wait(timeout)

    # ------------------------------------------------------------------ sockets

    async def bind(self) -> int:
        """Bind an even RTP port and the odd RTCP port above it; returns the RTP port."""
        if self._rtp_sock is not None:
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
            self._rtp_sock = socks[0]  # read directly: every readiness drains a batch
            RtpReaders.of(loop).add(socks[0].fileno(), self._read_rtp)
            self.port = port  # a stop() during the await below releases it
            self._rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self._on_rtcp), sock=socks[1])
            if self._stopped:  # stopped meanwhile (a call dropped or cancelled): no leak
                self._rtcp.close()
            return port
        raise OSError(errno.EADDRINUSE, f"no free even RTP port pair in "
                      f"{self.port_range[0]}-{self.port_range[1]} on {self.address}")

    # ------------------------------------------------------------------ control

    def configure(self, params: StreamParams) -> bool:
        """Use a negotiated stream (see :meth:`RtpStream.configure`); a new ptime or codec on
        a running stream takes a new phase of the media clock."""
        restart = super().configure(params)
        if restart and self._paced and self._clock is not None:
            self._clock.add(self)
        return restart

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
        done: asyncio.Future[None] = (self._loop or asyncio.get_running_loop()).create_future()
        self.queue_dtmf(digits, mode, done)  # LocalProtocolError for a bad digit, first
        if not digits:
            done.set_result(None)
        return done

    def dtmf_done(self, token: Any) -> None:
        if isinstance(token, asyncio.Future) and not token.done():
            token.set_result(None)

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
            self.rtcp_report(self._now(), bye=True)
        for done in [q[2] for q in self._dtmf_queue if q[2] and not q[2].done()]:
            done.cancel()
        if self._rtcp is not None:
            self._rtcp.close()
        if self._rtp_sock is not None:
            if self._loop is not None:
                RtpReaders.of(self._loop).remove(self._rtp_sock.fileno())
            self._rtp_sock.close()
        if self.port:
            _allocator(self.port_range).release(self.port)

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    # ------------------------------------------------------------------ the wire

    def transmit(self, data: bytes, addr: tuple[str, int], now: float, rtcp: bool = False
                 ) -> None:
        sock = self._rtcp if rtcp else self._rtp_sock
        if sock is None:
            return
        try:
            sock.sendto(data, addr)  # a full socket buffer drops the packet, as UDP does
        except OSError as exc:
            log.debug("RTP%s send: %s", "C" if rtcp else "", exc)
        if self.tap is not None:
            self._tapped("out", self.port + rtcp, addr, data, now)

    def _tapped(self, direction: str, port: int, remote: Any, data: bytes, when: float) -> None:
        """Hand one datagram to the tap; a tap that fails is logged and dropped."""
        assert self.tap is not None
        try:
            self.tap(direction, (self.address, port), (remote[0], remote[1]), data, when)
        except Exception:  # noqa: BLE001 - a broken capture must not stop the media
            log.warning("RTP tap failed, capture of this session stopped", exc_info=True)
            self.tap = None

    def _read_rtp(self) -> None:
        """What the socket holds, up to :data:`READ_BATCH` datagrams; waiters wake once."""
        sock, loop = self._rtp_sock, self._loop
        if sock is None or loop is None:
            return
        got = False
        for _ in range(READ_BATCH):
            if self._stopped:
                break
            try:
                data, addr = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # ICMP port unreachable and friends
                log.debug("RTP socket: %s", exc)
                break
            now = loop.time()  # the arrival time of the statistics and of the tap alike
            if self.tap is not None:
                self._tapped("in", self.port, addr, data, now)
            self.receive_rtp(data, now)
            got = True
        if got:
            self._received.wake()

    def _on_rtcp(self, data: bytes, addr: Any) -> None:
        if self._loop is None:
            return
        now = self._now()
        if self.tap is not None:
            self._tapped("in", self.port + 1, addr, data, now)
        self.receive_rtcp(data, now)

    # ------------------------------------------------------------------ RTCP timer

    def _rtcp_delay(self) -> float:
        return self.RTCP_INTERVAL * self.rng.uniform(0.5, 1.5)

    def _send_rtcp(self) -> None:
        self.rtcp_report(self._now())
        assert self._loop is not None
        self._rtcp_handle = self._loop.call_later(self._rtcp_delay(), self._send_rtcp)
