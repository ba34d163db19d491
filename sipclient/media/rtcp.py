"""RTCP packets (RFC 3550 6): SR, RR, SDES, BYE, compound packets, and the arithmetic
around them (NTP timestamps, round trip time from LSR/DLSR, 6.4.1).

Every packet is a frozen value with ``__bytes__``; :func:`parse_compound` reads a compound
packet (6.1) into a list of them, keeping types it does not know (APP, RTPFB, PSFB, XR ...)
as :class:`RtcpUnknown` so they round-trip. :func:`is_rtcp` demultiplexes RTP and RTCP on
one port (RFC 5761 4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable, Union

from sipclient.proto.errors import ParseError

__all__ = [
    "Bye", "ReceiverReport", "ReportBlock", "RtcpPacket", "RtcpUnknown", "SdesChunk",
    "SenderReport", "SourceDescription", "build_compound", "is_rtcp", "ntp_from_unix",
    "ntp_middle32", "ntp_to_unix", "parse_compound", "round_trip_time",
]

SR, RR, SDES, BYE, APP = 200, 201, 202, 203, 204
CNAME = 1
_NTP_UNIX_OFFSET = 2208988800          # seconds from 1900-01-01 to 1970-01-01
_BLOCK = struct.Struct("!IB3sIIII")


def ntp_from_unix(seconds: float) -> int:
    """A 64-bit NTP timestamp (RFC 3550 4) for a Unix time in seconds."""
    return int(round((seconds + _NTP_UNIX_OFFSET) * (1 << 32))) & 0xFFFFFFFFFFFFFFFF


def ntp_to_unix(ntp: int) -> float:
    return ntp / (1 << 32) - _NTP_UNIX_OFFSET


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the LSR of a report block (6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


def round_trip_time(arrival_ntp: int, lsr: int, dlsr: int) -> float | None:
    """RTT in seconds from a report block received at ``arrival_ntp`` (64-bit NTP):
    A - LSR - DLSR in 1/65536 s (RFC 3550 6.4.1, figure 2). None when LSR is 0 (no SR yet)."""
    if lsr == 0:
        return None
    return ((ntp_middle32(arrival_ntp) - lsr - dlsr) & 0xFFFFFFFF) / 65536.0


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 4: on a muxed port, a second octet of 192-223 (PT 64-95 with M) is RTCP."""
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


@dataclass(frozen=True)
class ReportBlock:
    """A reception report block (RFC 3550 6.4.1). ``cumulative_lost`` is a signed 24-bit
    number (duplicates can make it negative); ``highest_seq`` is the extended one."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_seq: int
    jitter: int
    lsr: int = 0
    dlsr: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fraction_lost <= 255:
            raise ValueError("fraction lost is 8 bits")
        if not -0x800000 <= self.cumulative_lost <= 0x7FFFFF:
            raise ValueError("cumulative lost is a signed 24-bit number (clamp it)")

    def __bytes__(self) -> bytes:
        lost = (self.cumulative_lost & 0xFFFFFF).to_bytes(3, "big")
        return _BLOCK.pack(self.ssrc, self.fraction_lost, lost, self.highest_seq,
                           self.jitter, self.lsr, self.dlsr)

    @classmethod
    def parse(cls, data: bytes, pos: int) -> ReportBlock:
        ssrc, frac, lost, ext, jit, lsr, dlsr = _BLOCK.unpack_from(data, pos)
        cum = int.from_bytes(lost, "big")
        return cls(ssrc, frac, cum - (1 << 24) if cum & 0x800000 else cum, ext, jit, lsr, dlsr)


@dataclass(frozen=True)
class SenderReport:
    """SR, PT 200 (6.4.1); ``extension`` is profile-specific data after the blocks."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def __bytes__(self) -> bytes:
        body = struct.pack("!IIIIII", self.ssrc, self.ntp_timestamp >> 32,
                           self.ntp_timestamp & 0xFFFFFFFF, self.rtp_timestamp,
                           self.packet_count, self.octet_count)
        return _packet(SR, len(self.reports),
                       body + b"".join(bytes(r) for r in self.reports) + self.extension)


@dataclass(frozen=True)
class ReceiverReport:
    """RR, PT 201 (6.4.2)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(r) for r in self.reports)
        return _packet(RR, len(self.reports), body + self.extension)


@dataclass(frozen=True)
class SdesChunk:
    """One SDES chunk: an SSRC and its (item type, value) pairs; CNAME is type 1 (6.5.1)."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()

    @property
    def cname(self) -> str | None:
        return next((v.decode("utf-8", "replace") for t, v in self.items if t == CNAME), None)


@dataclass(frozen=True)
class SourceDescription:
    """SDES, PT 202 (6.5)."""

    chunks: tuple[SdesChunk, ...]

    @classmethod
    def cname(cls, ssrc: int, cname: str) -> SourceDescription:
        return cls((SdesChunk(ssrc, ((CNAME, cname.encode()),)),))

    def __bytes__(self) -> bytes:
        body = b""
        for chunk in self.chunks:
            data = struct.pack("!I", chunk.ssrc)
            for kind, value in chunk.items:
                data += bytes([kind, len(value)]) + value
            data += b"\x00" * (4 - len(data) % 4)     # null item, then pad to 32 bits
            body += data
        return _packet(SDES, len(self.chunks), body)


@dataclass(frozen=True)
class Bye:
    """BYE, PT 203 (6.6): the SSRCs leaving and an optional reason."""

    ssrcs: tuple[int, ...]
    reason: str | None = None

    def __bytes__(self) -> bytes:
        body = b"".join(struct.pack("!I", s) for s in self.ssrcs)
        if self.reason is not None:
            text = self.reason.encode("utf-8")[:255]
            body += bytes([len(text)]) + text
            body += b"\x00" * (-len(body) % 4)
        return _packet(BYE, len(self.ssrcs), body)


@dataclass(frozen=True)
class RtcpUnknown:
    """Any other RTCP packet (APP, feedback, XR ...), kept as its type, count and body."""

    packet_type: int
    count: int
    body: bytes

    def __bytes__(self) -> bytes:
        return _packet(self.packet_type, self.count, self.body)


RtcpPacket = Union[SenderReport, ReceiverReport, SourceDescription, Bye, RtcpUnknown]


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    if count > 31:
        raise ValueError("at most 31 report blocks, chunks or SSRCs per packet")
    if len(body) % 4:
        raise ValueError("an RTCP packet is whole 32-bit words")
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def build_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into a compound packet (6.1); the caller puts SR/RR first."""
    return b"".join(bytes(p) for p in packets)


def _err(reason: str, offset: int) -> ParseError:
    return ParseError(reason, header="RTCP", offset=offset)


def _parse_one(ptype: int, count: int, body: bytes, at: int) -> RtcpPacket:
    if ptype in (SR, RR):
        fixed = 24 if ptype == SR else 4
        if len(body) < fixed + 24 * count:
            raise _err(f"RTCP {'SR' if ptype == SR else 'RR'} too short for {count} "
                       "report blocks", at)
        blocks = tuple(ReportBlock.parse(body, fixed + 24 * i) for i in range(count))
        ext = body[fixed + 24 * count:]
        if ptype == RR:
            return ReceiverReport(struct.unpack_from("!I", body)[0], blocks, ext)
        ssrc, hi, lo, rtp_ts, pkts, octets = struct.unpack_from("!IIIIII", body)
        return SenderReport(ssrc, (hi << 32) | lo, rtp_ts, pkts, octets, blocks, ext)
    if ptype == SDES:
        return SourceDescription(tuple(_parse_sdes(body, count, at)))
    if ptype == BYE:
        if len(body) < 4 * count:
            raise _err("RTCP BYE shorter than its SSRC count", at)
        ssrcs = struct.unpack_from(f"!{count}I", body)
        reason = None
        if len(body) > 4 * count:
            n = body[4 * count]
            if 4 * count + 1 + n > len(body):
                raise _err("RTCP BYE reason runs past the packet", at)
            reason = body[4 * count + 1:4 * count + 1 + n].decode("utf-8", "replace")
        return Bye(tuple(ssrcs), reason)
    return RtcpUnknown(ptype, count, bytes(body))


def _parse_sdes(body: bytes, count: int, at: int) -> list[SdesChunk]:
    chunks, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(body):
            raise _err("RTCP SDES chunk runs past the packet", at + 4 + pos)
        ssrc = struct.unpack_from("!I", body, pos)[0]
        pos += 4
        items = []
        while True:
            if pos >= len(body):
                raise _err("RTCP SDES chunk without its null item", at + 4 + pos)
            kind = body[pos]
            if kind == 0:
                pos = (pos + 4) & ~3                     # skip the null octets to a word
                break
            if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                raise _err("RTCP SDES item runs past the packet", at + 4 + pos)
            n = body[pos + 1]
            items.append((kind, bytes(body[pos + 2:pos + 2 + n])))
            pos += 2 + n
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return chunks


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet (RFC 3550 6.1, A.2 checks: version 2, lengths adding
    up, padding only where the P bit says so). Malformed input raises ParseError."""
    out: list[RtcpPacket] = []
    pos = 0
    if len(data) < 4:
        raise _err(f"RTCP packet of {len(data)} bytes", 0)
    while pos < len(data):
        if pos + 4 > len(data):
            raise _err("RTCP header runs past the compound packet", pos)
        b0, ptype, words = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            raise _err(f"RTCP version {b0 >> 6}", pos)
        end = pos + 4 + 4 * words
        if end > len(data):
            raise _err("RTCP length runs past the compound packet", pos)
        body = data[pos + 4:end]
        if b0 & 0x20:
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise _err(f"bad RTCP padding count {pad}", end - 1)
            body = body[:-pad]
        out.append(_parse_one(ptype, b0 & 0x1F, bytes(body), pos))
        pos = end
    return out
