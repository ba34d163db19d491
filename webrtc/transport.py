"""aiortc's ICE and DTLS-SRTP transports with our hooks on the wire and in the clear.

* :class:`TappedIceTransport` hands every datagram it sends or receives on the selected
  candidate pair (DTLS records, SRTP, SRTCP: encrypted, as on the wire) to a tap, so the
  agent's capture holds the media as a sniffer would see it.
* :class:`MediaDtlsTransport` sees every RTP packet in the clear: outgoing ones are counted
  and, while DTMF is being sent, rewritten into RFC 4733 telephone-event packets (same SSRC
  and sequence numbers, the event's timestamp, as a phone does); incoming ones feed the
  RFC 3550 statistics, the RFC 4733 receiver and the decoders of :class:`Receiver` (instead
  of aiortc's ``RTCRtpReceiver``: we want every packet counted and analysed, not played).

These subclass aiortc's classes and override the single-underscore hooks
(``_send_rtp``, ``_handle_rtp_data``, ``_handle_rtcp_data``, ``_send``/``_recv``) that its
own ``RTCRtpSender`` and receive loop call; that coupling lives here only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtp import is_rtcp

from sipclient.media import dtmf as dtmf_mod
from sipclient.media.rtp import RtpPacket

__all__ = ["TappedIceTransport", "MediaDtlsTransport", "DtmfRewriter", "Certificate"]

log = logging.getLogger(__name__)

Tap = Callable[[str, tuple[str, int], tuple[str, int], bytes, float], None]


#: aiortc offers ECDSA suites only; a DTLS server with an RSA certificate (Asterisk with the
#: lab's certificate) then fails with "no shared cipher". The RSA suites are added after them.
CIPHERS = (b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
           b"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
           b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"
           b"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA")


class Certificate(RTCCertificate):
    """aiortc's self-signed ECDSA certificate, offering RSA-authenticated suites as well."""

    def _create_ssl_context(self, srtp_profiles: list[Any]) -> Any:
        ctx = super()._create_ssl_context(srtp_profiles)
        ctx.set_cipher_list(CIPHERS)
        return ctx


class TappedIceTransport(RTCIceTransport):
    """``RTCIceTransport`` whose data path goes through ``tap(direction, local, remote,
    data, when)`` (loop time)."""

    def __init__(self, gatherer: Any, tap: Tap | None = None) -> None:
        super().__init__(gatherer)
        self.tap = tap
        send, recv = self._send, self._recv

        async def tapped_send(data: bytes) -> None:
            await send(data)
            self._tapped("out", data)

        async def tapped_recv() -> bytes:
            data = await recv()
            self._tapped("in", data)
            return data

        self._send = tapped_send
        self._recv = tapped_recv

    def selected_pair(self) -> tuple[tuple[str, int], tuple[str, int]] | None:
        """(local, remote) address of the nominated pair (component 1), None before."""
        pair = self._connection._nominated.get(1)
        if pair is None:
            return None
        return pair.local_addr, pair.remote_addr

    def _tapped(self, direction: str, data: bytes) -> None:
        if self.tap is None:
            return
        pair = self.selected_pair()
        if pair is None:
            return
        try:
            self.tap(direction, pair[0], pair[1], data, asyncio.get_running_loop().time())
        except Exception as exc:  # noqa: BLE001 - a capture problem must not stop the media
            log.warning("capture tap failed: %s", exc)
            self.tap = None


class DtmfRewriter:
    """Plans RFC 4733 packets for digits and swaps them for outgoing audio packets, one per
    20 ms slot, keeping the stream's SSRC and sequence numbers (RFC 4733 2.5.1)."""

    def __init__(self, digits: str, payload_type: int, samples_per_packet: int = 160,
                 duration_ms: int = 100, gap_ms: int = 100) -> None:
        self.digits = digits
        self.payload_type = payload_type
        self.samples = samples_per_packet
        self.sender = dtmf_mod.DtmfSender(duration_ms=duration_ms, gap_ms=gap_ms,
                                          interval_ms=samples_per_packet // 8)
        self.plan: dict[int, dtmf_mod.DtmfPacket] | None = None
        self.last_slot = 0
        self.slot = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def rewrite(self, packet: RtpPacket) -> RtpPacket:
        """The packet to send in place of ``packet`` (itself outside the event slots)."""
        if self.plan is None:
            packets = self.sender.sequence(self.digits, packet.timestamp)
            self.plan = {}
            for p in packets:
                slot = round(p.at * 8000 / self.samples)
                while slot in self.plan:
                    slot += 1
                self.plan[slot] = p
            self.last_slot = max(self.plan)
        planned = self.plan.get(self.slot)
        self.slot += 1
        if self.slot > self.last_slot and not self.done.done():
            self.done.set_result(None)
        if planned is None:
            return packet
        return RtpPacket(self.payload_type, packet.sequence_number, planned.timestamp,
                         packet.ssrc, planned.payload, marker=planned.marker)

    @property
    def finished(self) -> bool:
        return self.done.done()


class MediaDtlsTransport(RTCDtlsTransport):
    """``RTCDtlsTransport`` with our RTP hooks; ``owner`` gets ``on_rtp(packet, size)``,
    ``on_rtcp(data)`` and counts what we send."""

    def __init__(self, transport: RTCIceTransport, certificates: list[Any], owner: Any) -> None:
        super().__init__(transport, certificates)
        self.owner = owner
        self.rtp_sent = 0
        self.rtcp_sent = 0
        self.rtcp_received = 0
        self.dtmf: DtmfRewriter | None = None
        self.sending = True

    async def _send_rtp(self, data: bytes) -> None:
        if is_rtcp(data):  # rtcp-mux: RTCP shares the path (RFC 5761 4)
            self.rtcp_sent += 1
            await super()._send_rtp(data)
            return
        if not self.sending:
            return
        if self.dtmf is not None:
            try:
                packet = RtpPacket.parse(data)
            except ValueError:
                packet = None
            if packet is not None:
                data = bytes(self.dtmf.rewrite(packet))
            if self.dtmf.finished:
                self.dtmf = None
        if self.rtp_sent and data[1] & 0x80:
            # aiortc marks every audio packet; RFC 3551 4.1: only a talkspurt's first
            data = data[:1] + bytes([data[1] & 0x7F]) + data[2:]
        self.rtp_sent += 1
        await super()._send_rtp(data)

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        try:
            packet = RtpPacket.parse(data)
        except ValueError as exc:
            log.debug("unreadable RTP dropped: %s", exc)
            return
        self.owner.on_rtp(packet, len(data))

    async def _handle_rtcp_data(self, data: bytes) -> None:
        self.rtcp_received += 1
        await super()._handle_rtcp_data(data)
