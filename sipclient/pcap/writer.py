"""Write a run's own traffic as a pcapng file, without privileges, so Wireshark shows SIP.

Each record is what the application sent or received: the SIP text on the real addresses and
ports, and every RTP/RTCP packet. The file is pcapng (the section's application option says
``sipclient``) with two interfaces, both declared up front, timestamps in microseconds:

- interface 0, ``sipclient-ip``, LINKTYPE_RAW (101): IPv4/IPv6 packets without a link header.
  Datagrams (SIP over UDP, RTP, RTCP) are UDP packets; SIP over plain TCP is TCP segments
  (PSH+ACK, per-direction sequence numbers starting at 1, so Wireshark reassembles them;
  no handshake is invented). Checksums are valid; a packet mixing IPv4 and IPv6 addresses
  is written as IPv6 with the IPv4 one mapped (``::ffff:a.b.c.d``).
- interface 1, ``sipclient-sip``, LINKTYPE_WIRESHARK_UPPER_PDU (252): SIP carried by TLS, WS
  or WSS, one whole SIP message per record, as the *plaintext* the application saw (TLS
  records and WebSocket frames are not reproduced: on their real ports 5061/8089 Wireshark
  would try to decrypt or unframe them). Each record is Wireshark's exported PDU: tags
  (type and length as 16-bit big-endian, value zero-padded to 4 bytes and the length
  counting the padding) ``PROTO_NAME`` (12) = ``"sip"``, ``IPV4_SRC``/``IPV4_DST`` (20/21;
  or ``IPV6_SRC``/``IPV6_DST`` 22/23), ``PORT_TYPE`` (24) = 2 (TCP), ``SRC_PORT`` (25),
  ``DST_PORT`` (26), 4-byte big-endian values, then ``END_OF_OPT`` (0, length 0), then the
  SIP message. tshark and Wireshark open it without options and show every message as SIP
  with its addresses and ports. The enhanced packet block's comment (``opt_comment``) says
  which transport carried it: ``"sipclient transport=tls"`` (or ``ws``, ``wss``), so a
  reader can tell TLS from WSS.

Pure: :class:`PcapWriter` writes to any binary file object and flushes every packet, so a
run that fails or is interrupted still leaves a complete, readable capture on disk.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import BinaryIO

LINKTYPE_RAW = 101
LINKTYPE_WIRESHARK_UPPER_PDU = 252
IF_IP, IF_SIP = 0, 1  # interface ids
_EXPORTED = frozenset({"tls", "ws", "wss"})
_TCP = frozenset({"tcp"})

# epan/exported_pdu.h
_TAG_END, _TAG_PROTO_NAME = 0, 12
_TAG_IPV4_SRC, _TAG_IPV4_DST, _TAG_IPV6_SRC, _TAG_IPV6_DST = 20, 21, 22, 23
_TAG_PORT_TYPE, _TAG_SRC_PORT, _TAG_DST_PORT = 24, 25, 26
_PT_TCP = 2

# pcapng block types and options
_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_OPT_END, _OPT_COMMENT = 0, 1
_SHB_USERAPPL = 4
_IF_NAME, _IF_DESCRIPTION, _IF_TSRESOL = 2, 3, 9

Address = tuple[str, int]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    """pcapng options (little-endian code and length, value padded), ended by opt_endofopt."""
    if not options:
        return b""
    out = b"".join(struct.pack("<HH", code, len(value)) + _pad4(value) for code, value in options)
    return out + struct.pack("<HH", _OPT_END, 0)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _tag(tag: int, value: bytes) -> bytes:
    value = _pad4(value)
    return struct.pack("!HH", tag, len(value)) + value


def _addresses(src: str, dst: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version != d.version:  # one IPv6 side: map the IPv4 one
        s = s if s.version == 6 else ipaddress.IPv6Address(f"::ffff:{s}")
        d = d if d.version == 6 else ipaddress.IPv6Address(f"::ffff:{d}")
    return s, d


def exported_pdu(src: Address, dst: Address, payload: bytes, proto_name: str = "sip") -> bytes:
    """One LINKTYPE_WIRESHARK_UPPER_PDU record: the tags, then ``payload``."""
    s, d = _addresses(src[0], dst[0])
    if s.version == 4:
        addr_tags = _tag(_TAG_IPV4_SRC, s.packed) + _tag(_TAG_IPV4_DST, d.packed)
    else:
        addr_tags = _tag(_TAG_IPV6_SRC, s.packed) + _tag(_TAG_IPV6_DST, d.packed)
    return (_tag(_TAG_PROTO_NAME, proto_name.encode("ascii")) + addr_tags
            + _tag(_TAG_PORT_TYPE, struct.pack("!I", _PT_TCP))
            + _tag(_TAG_SRC_PORT, struct.pack("!I", src[1]))
            + _tag(_TAG_DST_PORT, struct.pack("!I", dst[1]))
            + struct.pack("!HH", _TAG_END, 0) + payload)


class PcapWriter:
    """``write(time, transport, src, dst, payload)`` appends one packet and flushes.

    ``transport``: ``udp`` (also RTP/RTCP: any name not below), ``tcp``, ``tls``, ``ws``,
    ``wss`` (any case). ``time`` is wall-clock seconds since the epoch.
    """

    def __init__(self, file: BinaryIO, snaplen: int = 262144) -> None:
        self._file = file
        self._snaplen = snaplen
        self._seq: dict[tuple[Address, Address], int] = {}
        self._ip_id = 0
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(
            [(_SHB_USERAPPL, b"sipclient")])
        head = _block(_SHB, shb)
        for linktype, name, description in (
                (LINKTYPE_RAW, b"sipclient-ip",
                 b"SIP over UDP and TCP, RTP and RTCP, as IP packets"),
                (LINKTYPE_WIRESHARK_UPPER_PDU, b"sipclient-sip",
                 b"SIP over TLS, WS and WSS as plaintext (Wireshark exported PDUs)")):
            head += _block(_IDB, struct.pack("<HHI", linktype, 0, snaplen) + _options(
                [(_IF_NAME, name), (_IF_DESCRIPTION, description), (_IF_TSRESOL, b"\x06")]))
        file.write(head)
        file.flush()

    def write(self, time: float, transport: str, src: Address, dst: Address, payload: bytes) -> None:
        kind = transport.lower()
        comment = b""
        if kind in _EXPORTED:
            interface, packet = IF_SIP, exported_pdu(src, dst, payload)
            comment = f"sipclient transport={kind}".encode("ascii")
        elif kind in _TCP:
            interface, packet = IF_IP, self._ip(src[0], dst[0], 6, self._tcp(src, dst, payload))
        else:
            segment = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
            interface, packet = IF_IP, self._ip(src[0], dst[0], 17, segment)
        stamp = int(round(time * 1e6))
        data = packet[: self._snaplen]
        body = (struct.pack("<IIIII", interface, stamp >> 32, stamp & 0xFFFFFFFF, len(data),
                            len(packet)) + _pad4(data)
                + _options([(_OPT_COMMENT, comment)] if comment else []))
        self._file.write(_block(_EPB, body))
        self._file.flush()

    def _tcp(self, src: Address, dst: Address, payload: bytes) -> bytes:
        seq = self._seq.get((src, dst), 1)
        ack = self._seq.get((dst, src), 1)
        self._seq[(src, dst)] = (seq + len(payload)) & 0xFFFFFFFF
        flags = 0x18  # PSH, ACK
        return struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0) + payload

    def _ip(self, src: str, dst: str, proto: int, segment: bytes) -> bytes:
        s, d = _addresses(src, dst)
        if s.version == 6:
            pseudo = s.packed + d.packed + struct.pack("!IxxxB", len(segment), proto)
            segment = self._with_checksum(segment, proto, pseudo)
            return struct.pack("!IHBB", 6 << 28, len(segment), proto, 64) + s.packed + d.packed + segment
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
