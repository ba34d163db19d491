"""Write a run's own traffic as a classic pcap file, without privileges.

Each record is what the application sent or received: the SIP text on the real addresses and
ports. Datagrams become IPv4/IPv6 + UDP packets; messages on stream transports (TCP, TLS, WS,
WSS) become TCP segments carrying the *plaintext* SIP, with per-direction sequence numbers
so Wireshark reassembles them (TLS and WebSocket framing is not reproduced: the point is to
read the SIP). Link type is raw IP (LINKTYPE_RAW = 101), so no fake Ethernet addresses.

Pure: :class:`PcapWriter` writes to any binary file object and flushes every packet, so a
run that fails or is interrupted still leaves a complete, readable capture on disk.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import BinaryIO

LINKTYPE_RAW = 101
_STREAM = frozenset({"tcp", "tls", "ws", "wss"})

Address = tuple[str, int]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class PcapWriter:
    """``write(time, transport, src, dst, payload)`` appends one packet and flushes."""

    def __init__(self, file: BinaryIO, snaplen: int = 262144) -> None:
        self._file = file
        self._snaplen = snaplen
        self._seq: dict[tuple[Address, Address], int] = {}
        self._ip_id = 0
        file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_RAW))
        file.flush()

    def write(self, time: float, transport: str, src: Address, dst: Address, payload: bytes) -> None:
        if transport.lower() in _STREAM:
            segment = self._tcp(src, dst, payload)
            proto = 6
        else:
            segment = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
            proto = 17
        packet = self._ip(src[0], dst[0], proto, segment)
        sec = int(time)
        usec = int(round((time - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        data = packet[: self._snaplen]
        self._file.write(struct.pack("<IIII", sec, usec, len(data), len(packet)) + data)
        self._file.flush()

    def _tcp(self, src: Address, dst: Address, payload: bytes) -> bytes:
        seq = self._seq.get((src, dst), 1)
        ack = self._seq.get((dst, src), 1)
        self._seq[(src, dst)] = (seq + len(payload)) & 0xFFFFFFFF
        flags = 0x18  # PSH, ACK
        return struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0) + payload

    def _ip(self, src: str, dst: str, proto: int, segment: bytes) -> bytes:
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version == 6 or d.version == 6:
            s6 = s if s.version == 6 else ipaddress.IPv6Address(f"::ffff:{s}")
            d6 = d if d.version == 6 else ipaddress.IPv6Address(f"::ffff:{d}")
            pseudo = s6.packed + d6.packed + struct.pack("!IxxxB", len(segment), proto)
            segment = self._with_checksum(segment, proto, pseudo)
            return struct.pack("!IHBB", 6 << 28, len(segment), proto, 64) + s6.packed + d6.packed + segment
        pseudo = s.packed + d.packed + struct.pack("!xBH", proto, len(segment))
        segment = self._with_checksum(segment, proto, pseudo)
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), self._ip_id, 0x4000, 64,
                             proto, 0, s.packed, d.packed)
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        return header + segment

    @staticmethod
    def _with_checksum(segment: bytes, proto: int, pseudo: bytes) -> bytes:
        where = 6 if proto == 17 else 16
        value = _checksum(pseudo + segment) or (0xFFFF if proto == 17 else 0)
        return segment[:where] + struct.pack("!H", value) + segment[where + 2:]
