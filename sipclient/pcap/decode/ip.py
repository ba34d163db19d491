"""IPv4 and IPv6 (RFC 791, RFC 8200) down to UDP and TCP segments.

:class:`IpDecoder` turns a frame into a :data:`Segment`
``(proto, src, sport, dst, dport, payload, seq, flags)`` with ``proto`` 17 (UDP) or 6
(TCP; ``seq`` and ``flags`` from its header, 0 for UDP), or ``None`` for anything else
(ICMP, an IP fragment still waiting for the rest ...). It keeps the state of fragment
reassembly (IPv4 by source, destination, protocol and identification; IPv6 by source,
destination and the Fragment header's identification), follows IPv6 extension headers,
and decapsulates GRE (RFC 2784/2890) carrying IP, transparent Ethernet or Cisco ERSPAN
types I, II and III, and IP-in-IP. A frame of LINKTYPE_WIRESHARK_UPPER_PDU (252) gives its
PDU with the addresses and ports of its tags.

Damaged packets raise :class:`~sipclient.pcap.decode.errors.DecodeError`.
"""

from __future__ import annotations

import ipaddress
import struct

from sipclient.pcap.decode import link
from sipclient.pcap.decode.errors import DecodeError

Segment = tuple[int, str, int, str, int, bytes, int, int]

UDP = 17
TCP = 6
_GRE = 47
_IPIP = 4
_IPV6_IN_IP = 41
_V6_EXTENSIONS = (0, 43, 60, 135, 139, 140)       # hop-by-hop, routing, destination ...
_FRAGMENT = 44
_AH = 51
_NO_NEXT = 59
_MAX_DEPTH = 4                                     # tunnels inside tunnels
_MAX_PENDING = 4096                                # fragment sets waiting at once

_ERSPAN_II = 0x88BE
_ERSPAN_III = 0x22EB
_TEB = 0x6558                                      # transparent Ethernet bridging

_UDP_HDR = struct.Struct("!HHHH")
_TCP_HDR = struct.Struct("!HHIIBB")


V4_NAMES: dict[bytes, str] = {}   # shared with the reader's fast path
_v6_names: dict[bytes, str] = {}


def v4_name(raw: bytes) -> str:
    name = V4_NAMES.get(raw)
    if name is None:
        name = "%d.%d.%d.%d" % tuple(raw)
        if len(V4_NAMES) < 65536:
            V4_NAMES[raw] = name
    return name


def v6_name(raw: bytes) -> str:
    name = _v6_names.get(raw)
    if name is None:
        name = str(ipaddress.IPv6Address(raw))
        if len(_v6_names) < 65536:
            _v6_names[raw] = name
    return name


class _Fragments:
    """The pieces of one fragmented datagram (RFC 815's hole list, simply as a map)."""

    __slots__ = ("pieces", "total")

    def __init__(self) -> None:
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None

    def add(self, offset: int, data: bytes, last: bool) -> bytes | None:
        self.pieces[offset] = data
        if last:
            self.total = offset + len(data)
        if self.total is None:
            return None
        buf = bytearray(self.total)
        covered = 0
        for start in sorted(self.pieces):
            piece = self.pieces[start]
            if start > covered:
                return None                      # a hole
            end = min(start + len(piece), self.total)
            if end > covered:
                buf[start:end] = piece[:end - start]
                covered = end
        return bytes(buf) if covered >= self.total else None


class IpDecoder:
    """Frames to UDP/TCP segments, with fragment reassembly across frames."""

    def __init__(self) -> None:
        self._fragments: dict[tuple, _Fragments] = {}
        self.reassembled = 0

    def decode(self, linktype: int, data: bytes) -> Segment | None:
        if linktype == link.LINKTYPE_WIRESHARK_UPPER_PDU:
            return upper_pdu(data)
        start = link.network_start(linktype, data)
        if start is None:
            return None
        ethertype, offset = start
        if ethertype == link.IPV4:
            return self.ipv4(data, offset, 0)
        return self.ipv6(data, offset, 0)

    # -- IPv4 --------------------------------------------------------------------------------
    def ipv4(self, data: bytes, offset: int, depth: int) -> Segment | None:
        if len(data) < offset + 20:
            raise DecodeError("IPv4 header cut short")
        vihl = data[offset]
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or ihl < 20:
            raise DecodeError(f"bad IPv4 header (version {vihl >> 4}, length {ihl})")
        total = (data[offset + 2] << 8) | data[offset + 3]
        frag = (data[offset + 6] << 8) | data[offset + 7]
        proto = data[offset + 9]
        src = data[offset + 12:offset + 16]
        dst = data[offset + 16:offset + 20]
        end = offset + total if total >= ihl else len(data)   # 0: TSO, take what is there
        if end > len(data):
            end = len(data)                                   # snaplen cut: decode what is here
        payload_start = offset + ihl
        if frag & 0x3FFF:                                     # MF or an offset: a fragment
            key = (4, src, dst, proto, data[offset + 4:offset + 6])
            whole = self._add_fragment(key, (frag & 0x1FFF) * 8, data[payload_start:end],
                                       not frag & 0x2000)
            if whole is None:
                return None
            data, payload_start, end = whole, 0, len(whole)
        return self._transport(proto, v4_name(bytes(src)), v4_name(bytes(dst)), data,
                               payload_start, end, depth)

    # -- IPv6 --------------------------------------------------------------------------------
    def ipv6(self, data: bytes, offset: int, depth: int) -> Segment | None:
        if len(data) < offset + 40:
            raise DecodeError("IPv6 header cut short")
        if data[offset] >> 4 != 6:
            raise DecodeError(f"bad IPv6 header (version {data[offset] >> 4})")
        plen = (data[offset + 4] << 8) | data[offset + 5]
        nh = data[offset + 6]
        src = bytes(data[offset + 8:offset + 24])
        dst = bytes(data[offset + 24:offset + 40])
        pos = offset + 40
        end = min(pos + plen, len(data)) if plen else len(data)
        fragment: tuple[int, bool, bytes] | None = None
        for _ in range(16):
            if nh in _V6_EXTENSIONS:
                if end < pos + 8:
                    raise DecodeError("IPv6 extension header cut short")
                nh, pos = data[pos], pos + (data[pos + 1] + 1) * 8
            elif nh == _FRAGMENT:
                if end < pos + 8:
                    raise DecodeError("IPv6 fragment header cut short")
                off_m = (data[pos + 2] << 8) | data[pos + 3]
                fragment = (off_m & 0xFFF8, not off_m & 1, bytes(data[pos + 4:pos + 8]))
                nh, pos = data[pos], pos + 8
            elif nh == _AH:
                if end < pos + 8:
                    raise DecodeError("IPv6 AH header cut short")
                nh, pos = data[pos], pos + (data[pos + 1] + 2) * 4
            else:
                break
        if nh == _NO_NEXT or pos > end:
            return None
        if fragment is not None:
            frag_offset, last, ident = fragment
            if frag_offset or not last:
                whole = self._add_fragment((6, src, dst, ident), frag_offset, data[pos:end], last)
                if whole is None:
                    return None
                data, pos, end = whole, 0, len(whole)
        return self._transport(nh, v6_name(src), v6_name(dst), data, pos, end, depth)

    # -- fragments ---------------------------------------------------------------------------
    def _add_fragment(self, key: tuple, offset: int, piece: bytes, last: bool) -> bytes | None:
        entry = self._fragments.get(key)
        if entry is None:
            if len(self._fragments) >= _MAX_PENDING:            # never-completed sets
                self._fragments.pop(next(iter(self._fragments)))
            entry = self._fragments[key] = _Fragments()
        whole = entry.add(offset, bytes(piece), last)
        if whole is not None:
            del self._fragments[key]
            self.reassembled += 1
        return whole

    # -- transport and tunnels ---------------------------------------------------------------
    def _transport(self, proto: int, src: str, dst: str, data: bytes, pos: int, end: int,
                   depth: int) -> Segment | None:
        if proto == UDP:
            if end < pos + 8:
                raise DecodeError("UDP header cut short")
            sport, dport, length, _ = _UDP_HDR.unpack_from(data, pos)
            stop = pos + length if 8 <= length <= end - pos else end
            return UDP, src, sport, dst, dport, bytes(data[pos + 8:stop]), 0, 0
        if proto == TCP:
            if end < pos + 20:
                raise DecodeError("TCP header cut short")
            sport, dport, seq, _ack, off, flags = _TCP_HDR.unpack_from(data, pos)
            hlen = (off >> 4) * 4
            if hlen < 20 or pos + hlen > end:
                raise DecodeError(f"bad TCP header length {hlen}")
            return TCP, src, sport, dst, dport, bytes(data[pos + hlen:end]), seq, flags
        if depth >= _MAX_DEPTH:
            return None
        if proto == _GRE:
            return self._gre(data, pos, end, depth + 1)
        if proto == _IPIP:
            return self.ipv4(data[:end], pos, depth + 1)
        if proto == _IPV6_IN_IP:
            return self.ipv6(data[:end], pos, depth + 1)
        return None

    def _gre(self, data: bytes, pos: int, end: int, depth: int) -> Segment | None:
        if end < pos + 4:
            raise DecodeError("GRE header cut short")
        flags = (data[pos] << 8) | data[pos + 1]
        ptype = (data[pos + 2] << 8) | data[pos + 3]
        if flags & 0x0007:                       # version 1 (PPTP) and others: not ours
            return None
        pos += 4 + 4 * (bool(flags & 0x8000) + bool(flags & 0x2000) + bool(flags & 0x1000))
        inner = data[:end]
        if ptype == _ERSPAN_II:
            if flags & 0x1000:                   # type II has a sequence number and 8 bytes
                pos += 8
            return self._ethernet(inner, pos, depth)     # type I: Ethernet right away
        if ptype == _ERSPAN_III:
            if end < pos + 12:
                raise DecodeError("ERSPAN type III header cut short")
            optional = inner[pos + 11] & 1
            pos += 12 + (8 if optional else 0)
            return self._ethernet(inner, pos, depth)
        if ptype == _TEB:
            return self._ethernet(inner, pos, depth)
        if ptype == link.IPV4:
            return self.ipv4(inner, pos, depth)
        if ptype == link.IPV6:
            return self.ipv6(inner, pos, depth)
        return None

    def _ethernet(self, data: bytes, pos: int, depth: int) -> Segment | None:
        start = link.ethernet_payload(data, pos)
        if start is None:
            return None
        ethertype, offset = start
        if ethertype == link.IPV4:
            return self.ipv4(data, offset, depth)
        return self.ipv6(data, offset, depth)


# -- LINKTYPE_WIRESHARK_UPPER_PDU --------------------------------------------------------------
# Tags of epan/exported_pdu.h: type and length (network order), value padded to 4 bytes.
_TAG_END = 0
_TAG_DISSECTOR = 12
_TAG_HEUR_DISSECTOR = 13
_TAG_IPV4_SRC, _TAG_IPV4_DST, _TAG_IPV6_SRC, _TAG_IPV6_DST = 20, 21, 22, 23
_TAG_PORT_TYPE, _TAG_SRC_PORT, _TAG_DST_PORT = 24, 25, 26
_PORT_TYPES = {2: TCP, 3: UDP}                     # exported_pdu.h: EXP_PDU_PT_TCP, _UDP


def upper_pdu(data: bytes) -> Segment | None:
    """A Wireshark exported PDU: returns it as a segment when the dissector tag says SIP
    (``sip``, ``sip.tcp`` ...) or a port tag is present; ``proto`` from the port type tag
    (TCP when it says so, else UDP; each PDU is one whole SIP message)."""
    pos = 0
    tags: dict[int, bytes] = {}
    while True:
        if len(data) < pos + 4:
            raise DecodeError("exported PDU tags cut short")
        tag = (data[pos] << 8) | data[pos + 1]
        length = (data[pos + 2] << 8) | data[pos + 3]
        pos += 4
        if tag == _TAG_END:
            break
        if len(data) < pos + length:
            raise DecodeError("exported PDU tag cut short")
        tags[tag] = bytes(data[pos:pos + length])
        pos += length
    name = (tags.get(_TAG_DISSECTOR) or tags.get(_TAG_HEUR_DISSECTOR) or b"").rstrip(b"\0")
    if name and not name.lower().startswith(b"sip"):
        return None
    if _TAG_IPV4_SRC in tags and _TAG_IPV4_DST in tags:
        src, dst = v4_name(tags[_TAG_IPV4_SRC][:4]), v4_name(tags[_TAG_IPV4_DST][:4])
    elif _TAG_IPV6_SRC in tags and _TAG_IPV6_DST in tags:
        src, dst = v6_name(tags[_TAG_IPV6_SRC][:16]), v6_name(tags[_TAG_IPV6_DST][:16])
    else:
        src = dst = "0.0.0.0"

    def port(tag: int) -> int:
        value = tags.get(tag, b"")
        return int.from_bytes(value[:4], "big") if len(value) >= 4 else 0

    proto = _PORT_TYPES.get(port(_TAG_PORT_TYPE), UDP)
    # an exported PDU is one whole message: flag it with flags=-1 so the reader does not
    # try to reassemble it as a TCP stream
    return proto, src, port(_TAG_SRC_PORT), dst, port(_TAG_DST_PORT), bytes(data[pos:]), 0, -1
