"""Send a run's SIP and RTCP to Homer as HEP3: :class:`HepSink` (thin; the encoding is
:mod:`sipclient.pcap.hep`).

A sink has the capture interface of :class:`~sipclient.pcap.writer.PcapWriter`
(``write(time, transport, src, dst, payload)``), so it goes where a capture goes: into
``AgentConfig.capture`` (alone, or beside a pcap writer in a :class:`CaptureTee`), shared by
every agent of a run, a scenario or a load run. Its owner opens and closes it::

    sink = await HepSink.open(HepSettings("udp:127.0.0.1:9060", capture_id=2001))
    ... AgentConfig(..., capture=CaptureTee(pcap_writer, sink)) ...
    await sink.close()

UDP: one datagram per HEP3 packet, from an unconnected socket (a Homer that is down costs
nothing and reports nothing). TCP: one connection, opened by :meth:`HepSink.open` (an error
there is :class:`HepSendError`, in words); packets are buffered by asyncio's transport; a
connection lost during the run is logged once and the rest is dropped - HEP never stops a
test. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from sipclient.pcap.hep import HepEncoder, HepError, HepSettings

__all__ = ["CaptureTee", "HepSendError", "HepSink"]

log = logging.getLogger(__name__)


class HepSendError(OSError):
    """The HEP collector cannot be reached or resolved (the message says which)."""


class CaptureTee:
    """Several capture sinks as one (``write`` goes to each in turn); a sink that fails is
    dropped with a warning and the others go on."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def write(self, time: float, transport: str, src: tuple[str, int], dst: tuple[str, int],
              payload: bytes) -> None:
        for sink in list(self.sinks):
            try:
                sink.write(time, transport, src, dst, payload)
            except (OSError, ValueError) as exc:
                log.warning("capture to %s stopped: %s", type(sink).__name__, exc)
                self.sinks.remove(sink)


class HepSink:
    """See the module docstring. ``sent`` counts the packets handed to the socket."""

    def __init__(self, settings: HepSettings, address: tuple, family: int) -> None:
        self.settings = settings
        self.encoder = HepEncoder(settings)
        self.address = address
        self.family = family
        self.sent = 0
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._warned = False

    @classmethod
    async def open(cls, settings: HepSettings) -> HepSink:
        target = settings.target
        loop = asyncio.get_running_loop()
        kind = socket.SOCK_DGRAM if target.transport == "udp" else socket.SOCK_STREAM
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=kind)
        except OSError as exc:
            raise HepSendError(f"HEP target {target}: cannot resolve {target.host}: "
                               f"{exc.strerror or exc}") from None
        family, _, _, _, address = infos[0]
        sink = cls(settings, address, family)
        if target.transport == "udp":
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sink._sock = sock
        else:
            try:
                _reader, sink._writer = await asyncio.wait_for(
                    asyncio.open_connection(address[0], address[1]), 5.0)
            except (OSError, asyncio.TimeoutError) as exc:
                raise HepSendError(f"HEP target {target}: cannot connect: "
                                   f"{getattr(exc, 'strerror', None) or exc or 'timeout'}"
                                   ) from None
        return sink

    def write(self, time: float, transport: str, src: tuple[str, int], dst: tuple[str, int],
              payload: bytes) -> None:
        try:
            packet = self.encoder.packet(time, transport, src, dst, payload)
        except (HepError, ValueError) as exc:
            self._warn(f"a packet cannot be sent as HEP3: {exc}")
            self.dropped += 1
            return
        if packet is None:
            return
        try:
            if self._sock is not None:
                self._sock.sendto(packet, self.address)
            elif self._writer is not None and not self._writer.is_closing():
                self._writer.write(packet)
            else:
                self.dropped += 1
                return
            self.sent += 1
        except OSError as exc:           # a full buffer, an unreachable network
            self.dropped += 1
            self._warn(f"sending to {self.settings.target}: {exc.strerror or exc}")

    def _warn(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("HEP: %s (further errors not shown)", text)

    async def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                async with asyncio.timeout(2.0):
                    await writer.drain()
                    writer.close()
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                writer.close()
