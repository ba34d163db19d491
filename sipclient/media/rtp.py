"""RTP packets and the sending side of an RTP stream (RFC 3550 5.1, 5.3.1, RFC 3551 4.1).

:class:`RtpPacket` parses and builds the fixed header, CSRC list, header extension and
padding; ``RtpPacket.parse(bytes(p)) == p`` for every valid packet. :class:`RtpSender`
is the packetizer state of one source: random initial sequence number, timestamp and SSRC
from an injectable RNG (RFC 3550 5.1 asks for random ones), the timestamp advancing by the
samples each packet carries, the marker bit on the first packet of a talkspurt (RFC 3551 4.1),
the 16-bit sequence number and 32-bit timestamp wrapping.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from sipclient.proto.errors import ParseError

__all__ = ["RTP_VERSION", "RtpExtension", "RtpPacket", "RtpSender", "seq_delta", "ts_delta"]

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
RTP_HEADER = _HEADER  #: the fixed 12-byte header (RFC 3550 5.1) as a struct


def seq_delta(a: int, b: int) -> int:
    """``a - b`` for 16-bit sequence numbers, in -32768..32767 (serial arithmetic)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def ts_delta(a: int, b: int) -> int:
    """``a - b`` for 32-bit RTP timestamps, in -2**31..2**31-1."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


@dataclass(frozen=True)
class RtpExtension:
    """The header extension (RFC 3550 5.3.1): 16 profile bits and 32-bit words of data."""

    profile: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if len(self.data) % 4 or not 0 <= self.profile <= 0xFFFF:
            raise ValueError("extension data is whole 32-bit words; profile is 16 bits")


@dataclass(frozen=True)
class RtpPacket:
    """An RTP packet (RFC 3550 5.1). ``padding`` is the number of padding octets (0: the P
    bit is clear); the last padding octet holds that count, the others are zero."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0
    version: int = field(default=RTP_VERSION)

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise ValueError("payload type is 7 bits")
        if not 0 <= self.sequence_number <= 0xFFFF:
            raise ValueError("sequence number is 16 bits")
        if not 0 <= self.timestamp <= 0xFFFFFFFF or not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise ValueError("timestamp and SSRC are 32 bits")
        if len(self.csrc) > 15 or not 0 <= self.padding <= 255 or not 0 <= self.version <= 3:
            raise ValueError("at most 15 CSRCs, 255 padding octets; version is 2 bits")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet; anything malformed raises ParseError with the offset."""
        if len(data) < 12:
            raise ParseError(f"RTP packet of {len(data)} bytes (< 12)", header="RTP", offset=0)
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        version = b0 >> 6
        if version != RTP_VERSION:
            raise ParseError(f"RTP version {version}", header="RTP", offset=0)
        cc, pos = b0 & 0x0F, 12
        end = len(data)
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or 12 + 4 * cc + padding > end:
                raise ParseError(f"bad RTP padding count {padding}", header="RTP",
                                 offset=end - 1)
            end -= padding
        if pos + 4 * cc > end:
            raise ParseError("RTP CSRC list runs past the packet", header="RTP", offset=pos)
        csrc = struct.unpack_from(f"!{cc}I", data, pos)
        pos += 4 * cc
        extension = None
        if b0 & 0x10:
            if pos + 4 > end:
                raise ParseError("RTP extension header runs past the packet", header="RTP",
                                 offset=pos)
            profile, words = struct.unpack_from("!HH", data, pos)
            if pos + 4 + 4 * words > end:
                raise ParseError("RTP extension runs past the packet", header="RTP",
                                 offset=pos)
            extension = RtpExtension(profile, bytes(data[pos + 4:pos + 4 + 4 * words]))
            pos += 4 + 4 * words
        return cls(b1 & 0x7F, seq, ts, ssrc, bytes(data[pos:end]), bool(b1 & 0x80),
                   tuple(csrc), extension, padding, version)

    def __bytes__(self) -> bytes:
        b0 = (self.version << 6) | (0x20 if self.padding else 0) | (
            0x10 if self.extension else 0) | len(self.csrc)
        b1 = (0x80 if self.marker else 0) | self.payload_type
        out = [_HEADER.pack(b0, b1, self.sequence_number, self.timestamp, self.ssrc),
               struct.pack(f"!{len(self.csrc)}I", *self.csrc)]
        if self.extension is not None:
            ext = self.extension
            out.append(struct.pack("!HH", ext.profile, len(ext.data) // 4) + ext.data)
        out.append(self.payload)
        if self.padding:
            out.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(out)

    def __len__(self) -> int:
        ext = 4 + len(self.extension.data) if self.extension else 0
        return 12 + 4 * len(self.csrc) + ext + len(self.payload) + self.padding


class RtpSender:
    """The packetizer state of one RTP source (RFC 3550 5.1, RFC 3551 4.1).

    ``samples_per_packet`` is the timestamp step (160 for 20 ms at 8000 Hz). Each
    :meth:`packet` uses the current sequence number and timestamp, then advances them; the
    first packet, and the first after :meth:`start_talkspurt`, carries the marker bit.
    """

    def __init__(self, payload_type: int, samples_per_packet: int, *,
                 rng: random.Random | None = None, ssrc: int | None = None,
                 sequence_number: int | None = None, timestamp: int | None = None) -> None:
        rng = rng or random.Random()
        self.payload_type = payload_type
        self.samples_per_packet = samples_per_packet
        self.ssrc = rng.getrandbits(32) if ssrc is None else ssrc
        self.sequence_number = rng.getrandbits(16) if sequence_number is None else sequence_number
        self.timestamp = rng.getrandbits(32) if timestamp is None else timestamp
        self.packets_sent = 0
        self.octets_sent = 0          # payload octets, for the RTCP SR (RFC 3550 6.4.1)
        self._talkspurt = True

    def start_talkspurt(self) -> None:
        """The next packet starts a talkspurt (after silence): marker set (RFC 3551 4.1)."""
        self._talkspurt = True

    def skip(self, samples: int) -> None:
        """Let time pass without sending (silence suppression): the timestamp advances,
        the sequence number does not (RFC 3550 5.1); the next packet gets the marker."""
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self._talkspurt = True

    def packet(self, payload: bytes, *, samples: int | None = None,
               payload_type: int | None = None, marker: bool | None = None,
               advance: bool = True) -> RtpPacket:
        """The next packet. ``samples`` overrides the timestamp step; ``advance=False``
        keeps the timestamp (an RFC 4733 event's later packets share its timestamp)."""
        mark = self._talkspurt if marker is None else marker
        pkt = RtpPacket(self.payload_type if payload_type is None else payload_type,
                        self.sequence_number, self.timestamp, self.ssrc, payload, mark)
        self._talkspurt = False
        self.sequence_number = (self.sequence_number + 1) & 0xFFFF
        if advance:
            step = self.samples_per_packet if samples is None else samples
            self.timestamp = (self.timestamp + step) & 0xFFFFFFFF
        self.packets_sent += 1
        self.octets_sent += len(payload)
        return pkt

    def packet_bytes(self, payload: bytes, timestamp: int) -> bytes:
        """The next packet already as bytes, stamped ``timestamp`` (the common case: no
        marker override, no CSRC, no extension), without building an :class:`RtpPacket`."""
        b1 = self.payload_type | (0x80 if self._talkspurt else 0)
        self._talkspurt = False
        data = _HEADER.pack(0x80, b1, self.sequence_number, timestamp, self.ssrc) + payload
        self.sequence_number = (self.sequence_number + 1) & 0xFFFF
        self.timestamp = timestamp
        self.packets_sent += 1
        self.octets_sent += len(payload)
        return data
