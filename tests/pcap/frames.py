"""Building capture files and frames byte by byte for the reader's tests (independent of
sipclient.pcap.writer, so a bug shared by writer and reader cannot hide)."""

from __future__ import annotations

import ipaddress
import struct

REGISTER = (b"REGISTER sip:lab SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n"
            b"From: <sip:1001@lab>;tag=a\r\nTo: <sip:1001@lab>\r\n"
            b"Call-ID: reg-1@test\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")


def sip_request(method: str, call_id: str, cseq: int, body: bytes = b"",
                content_type: str = "application/sdp") -> bytes:
    ctype = f"Content-Type: {content_type}\r\n".encode() if body else b""
    return (f"{method} sip:600@lab SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{call_id}-{cseq}\r\n"
            f"From: <sip:1001@lab>;tag=a\r\nTo: <sip:600@lab>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n").encode() + ctype + \
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def sip_response(status: int, reason: str, call_id: str, cseq: int, method: str,
                 body: bytes = b"") -> bytes:
    ctype = b"Content-Type: application/sdp\r\n" if body else b""
    return (f"SIP/2.0 {status} {reason}\r\n"
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{call_id}-{cseq}\r\n"
            f"From: <sip:1001@lab>;tag=a\r\nTo: <sip:600@lab>;tag=b\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n").encode() + ctype + \
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def sdp(ip: str, port: int, pts: str = "0 101",
        extra: str = "a=rtpmap:101 telephone-event/8000\r\n") -> bytes:
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pts}\r\n{extra}").encode()


def rtp(seq: int, ts: int, ssrc: int, pt: int = 0, payload: bytes = b"\xff" * 160,
        marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


# -- network layers ----------------------------------------------------------------------------

def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, seq: int, payload: bytes, flags: int = 0x18) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 1, 5 << 4, flags, 65535,
                       0, 0) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1, frag: int = 0,
         total: int | None = None) -> bytes:
    length = 20 + len(payload) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, ident, frag, 64, proto, 0,
                       ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
                       ) + payload


def ipv6(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, 64) + \
        ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload


def ipv6_fragments(src: str, dst: str, nh: int, payload: bytes, size: int, ident: int,
                   hop_by_hop: bool = True) -> list[bytes]:
    """RFC 8200 4.5: unfragmentable part (a hop-by-hop header) then Fragment headers."""
    out = []
    for off in range(0, len(payload), size):
        piece = payload[off:off + size]
        more = off + size < len(payload)
        frag = struct.pack("!BBHI", nh, 0, off | int(more), ident) + piece
        if hop_by_hop:
            frag = struct.pack("!BB6x", 44, 0) + frag
            out.append(ipv6(src, dst, 0, frag))
        else:
            out.append(ipv6(src, dst, 44, frag))
    return out


def ether(payload: bytes, ethertype: int = 0x0800, vlans: tuple[int, ...] = ()) -> bytes:
    head = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    tags = b""
    tpids = [0x88A8] * (len(vlans) - 1) + [0x8100] if vlans else []
    for tpid, vid in zip(tpids, vlans):
        tags += struct.pack("!HH", tpid, vid)
    return head + tags + struct.pack("!H", ethertype) + payload


def sll(payload: bytes, ethertype: int = 0x0800) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", ethertype) + payload


def sll2(payload: bytes, ethertype: int = 0x0800) -> bytes:
    return struct.pack("!HHIHBB8s", ethertype, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\0\0") + payload


def gre(payload: bytes, ptype: int, *, seq: int | None = None, key: int | None = None) -> bytes:
    flags = (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    out = struct.pack("!HH", flags, ptype)
    if key is not None:
        out += struct.pack("!I", key)
    if seq is not None:
        out += struct.pack("!I", seq)
    return out + payload


# -- files -------------------------------------------------------------------------------------

def pcap(frames: list[tuple[float, bytes]], linktype: int = 1, *, nano: bool = False,
         big_endian: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for t, data in frames:
        sec = int(t)
        frac = round((t - sec) * (1e9 if nano else 1e6))
        out += struct.pack(e + "IIII", sec, frac, len(data), len(data)) + data
    return out


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def pcapng(interfaces: list[tuple[int, int | None]], packets: list[tuple[int, float, bytes]],
           *, simple: bytes | None = None) -> bytes:
    """``interfaces``: (linktype, if_tsresol byte or None for the default microseconds);
    ``packets``: (interface, time, data) as Enhanced Packet Blocks."""
    out = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    resolutions = []
    for linktype, tsresol in interfaces:
        options = b""
        if tsresol is not None:
            options = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
        out += _block(1, struct.pack("<HHI", linktype, 0, 262144) + options)
        if tsresol is None:
            resolutions.append(1e-6)
        elif tsresol & 0x80:
            resolutions.append(2.0 ** -(tsresol & 0x7F))
        else:
            resolutions.append(10.0 ** -tsresol)
    for iface, t, data in packets:
        units = round(t / resolutions[iface])
        body = struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                           len(data)) + data
        out += _block(6, body)
    if simple is not None:
        out += _block(3, struct.pack("<I", len(simple)) + simple)
    return out
