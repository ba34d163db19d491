"""An independent reader built on dpkt: the oracle for sipclient.pcap.read (issue 21).

dpkt parses the file formats (pcap, and pcapng block by block, so files with several
interfaces work), the link layers, IPv4/IPv6, GRE, UDP and TCP. What dpkt leaves to the
caller is written here, small and separately from sipclient's decoder: IP fragment
reassembly, ERSPAN, Wireshark's exported PDUs (LINKTYPE_WIRESHARK_UPPER_PDU), TCP stream
reassembly, SIP framing by Content-Length and WebSocket frames. Nothing from sipclient is
imported, so a bug shared by both readers cannot hide.

``read(path) -> Oracle``: ``records`` (every record of the file), ``packets`` (each UDP
datagram and TCP segment: frame, "udp"/"tcp", source, destination, payload; exported PDUs
as "pdu") and ``sip`` (each SIP message: frame of the packet completing it, source,
destination, transport, the message's bytes).
"""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass, field

import dpkt
from dpkt import pcapng, ppp, pppoe  # noqa: F401 (dpkt.ppp, dpkt.pppoe)

Address = tuple[str, int]

_START = re.compile(rb"SIP/2\.0 [1-6]\d\d[ \r\n]|[A-Za-z][A-Za-z0-9.!%*_+`'~-]* [^ \r\n]+ SIP/2\.0\r?\n")
_LINE = re.compile(rb"(?:^|\n)(SIP/2\.0 [1-6]\d\d |[A-Z][A-Z-]+ [^ \r\n]+ SIP/2\.0\r\n)")
_CLEN = re.compile(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)", re.I)


@dataclass
class Oracle:
    records: int = 0
    packets: list[tuple] = field(default_factory=list)
    sip: list[tuple] = field(default_factory=list)


def _records(path: str):
    """(frame, linktype, data, comment) for every packet record, with dpkt's parsers."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head != b"\x0a\x0d\x0d\x0a":
            reader = dpkt.pcap.Reader(fh)
            link = reader.datalink()
            for frame, (_ts, buf) in enumerate(reader, 1):
                yield frame, link, buf, None
            return
        data = fh.read()
    links: list[int] = []
    pos, frame, little = 0, 0, True
    while pos + 8 <= len(data):
        kind = struct.unpack_from("<I", data, pos)[0]
        if kind == pcapng.PCAPNG_BT_SHB:
            little = data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a"
            links = []
        endian = "<" if little else ">"
        kind, length = struct.unpack_from(endian + "II", data, pos)
        block = data[pos:pos + length]
        if kind == pcapng.PCAPNG_BT_IDB:
            idb = pcapng.InterfaceDescriptionBlockLE(block) if little \
                else pcapng.InterfaceDescriptionBlock(block)
            links.append(idb.linktype)
        elif kind == pcapng.PCAPNG_BT_EPB:
            epb = pcapng.EnhancedPacketBlockLE(block) if little \
                else pcapng.EnhancedPacketBlock(block)
            frame += 1
            comment = next((o.text for o in epb.opts if o.code == pcapng.PCAPNG_OPT_COMMENT),
                           None)
            yield frame, links[epb.iface_id], epb.pkt_data, comment
        elif kind in (pcapng.PCAPNG_BT_PB, pcapng.PCAPNG_BT_SPB):
            frame += 1
            yield frame, links[0] if links else 1, b"", None
        pos += length


def _ip_name(packed: bytes) -> str:
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    name = socket.inet_ntop(socket.AF_INET6, packed)
    return name


def _upper_pdu(buf: bytes):
    """Wireshark's exported PDU: tags (16-bit type, 16-bit length), then the payload."""
    pos, tags = 0, {}
    while pos + 4 <= len(buf):
        tag, length = struct.unpack_from("!HH", buf, pos)
        pos += 4
        if tag == 0:
            break
        tags[tag] = buf[pos:pos + length]
        pos += length
    src = tags.get(20) or tags.get(22)
    dst = tags.get(21) or tags.get(23)
    if src is None or dst is None:
        return None
    sport = struct.unpack("!I", tags[25])[0]
    dport = struct.unpack("!I", tags[26])[0]
    return (_ip_name(src), sport), (_ip_name(dst), dport), buf[pos:]


class _Reader:
    def __init__(self) -> None:
        self.out = Oracle()
        self.fragments: dict[tuple, dict[int, bytes]] = {}
        self.streams: dict[tuple, _Stream] = {}

    def record(self, frame: int, link: int, buf: bytes, comment: str | None) -> None:
        self.out.records += 1
        try:
            if link == 252:
                pdu = _upper_pdu(buf)
                if pdu is not None:
                    src, dst, payload = pdu
                    self.out.packets.append((frame, "pdu", src, dst, payload))
                    transport = "tls"
                    if comment and "transport=" in comment:
                        transport = comment.split("transport=")[1].split()[0]
                    if _START.match(payload):
                        self.out.sip.append((frame, src, dst, transport, payload))
                return
            if link == 1:
                net = dpkt.ethernet.Ethernet(buf).data
            elif link == 113:
                net = dpkt.sll.SLL(buf).data
            elif link == 276:
                net = dpkt.sll2.SLL2(buf).data
            elif link in (0, 108):
                net = dpkt.loopback.Loopback(buf).data
            else:
                net = _raw_ip(buf)
            self.network(frame, net, 0)
        except (dpkt.UnpackError, struct.error, IndexError, ValueError):
            return

    def network(self, frame: int, net, depth: int) -> None:
        while isinstance(net, (dpkt.pppoe.PPPoE, dpkt.ppp.PPP)):
            net = net.data
        if isinstance(net, dpkt.ip.IP):
            payload = bytes(net)[net.hl * 4:net.len]
            src, dst, proto = _ip_name(net.src), _ip_name(net.dst), net.p
            if net.mf or net.offset:
                payload = self.fragment((src, dst, net.id, proto), net.offset * 8, net.mf, payload)
                if payload is None:
                    return
        elif isinstance(net, dpkt.ip6.IP6):
            src, dst = _ip_name(net.src), _ip_name(net.dst)
            raw = bytes(net)[40:40 + net.plen]
            proto, pos, frag = net.nxt, 0, None
            while proto in (0, 43, 44, 60):          # hop-by-hop, routing, fragment, options
                if proto == 44:
                    off_m, ident = struct.unpack_from("!HI", raw, pos + 2)
                    frag = (off_m & 0xFFF8, off_m & 1, ident)
                    proto, pos = raw[pos], pos + 8
                else:
                    proto, pos = raw[pos], pos + 8 * (raw[pos + 1] + 1)
            payload = raw[pos:]
            if frag is not None:
                payload = self.fragment((src, dst, frag[2], proto), frag[0], frag[1], payload)
                if payload is None:
                    return
        else:
            return
        if proto == 17:
            udp = dpkt.udp.UDP(payload)
            data = bytes(udp.data)[:max(udp.ulen - 8, 0)] if udp.ulen >= 8 else bytes(udp.data)
            s, d = (src, udp.sport), (dst, udp.dport)
            self.out.packets.append((frame, "udp", s, d, data))
            if data and _START.match(data):
                self.out.sip.append((frame, s, d, "udp", data))
        elif proto == 6:
            tcp = dpkt.tcp.TCP(payload)
            s, d = (src, tcp.sport), (dst, tcp.dport)
            data = bytes(tcp.data)
            self.out.packets.append((frame, "tcp", s, d, data))
            stream = self.streams.get((s, d))
            if stream is None or (tcp.flags & dpkt.tcp.TH_SYN and stream.started):
                stream = self.streams[(s, d)] = _Stream(s, d, self.out.sip)
            stream.segment(frame, tcp.seq, tcp.flags, data)
        elif proto == 47 and depth < 4:
            gre = dpkt.gre.GRE(payload)
            inner = bytes(gre.data) if not isinstance(gre.data, bytes) else gre.data
            if gre.p == 0x88BE:                      # ERSPAN type II: 8-byte header
                self.network(frame, dpkt.ethernet.Ethernet(inner[8:]).data, depth + 1)
            elif gre.p == 0x22EB:                    # ERSPAN type III: 12 bytes (+8 optional)
                skip = 20 if inner[11] & 1 else 12
                self.network(frame, dpkt.ethernet.Ethernet(inner[skip:]).data, depth + 1)
            elif gre.p == 0x6558:
                self.network(frame, dpkt.ethernet.Ethernet(inner).data, depth + 1)
            elif gre.p in (0x0800, 0x86DD):
                self.network(frame, _raw_ip(inner), depth + 1)

    def fragment(self, key: tuple, offset: int, more: int, payload: bytes) -> bytes | None:
        """Keep one fragment (``offset`` in bytes); the whole payload once all are there."""
        parts = self.fragments.setdefault(key, {})
        parts[offset] = payload
        if more:
            return None
        whole, pos = b"", 0
        for start in sorted(parts):
            if start != pos:
                return None
            whole += parts[start]
            pos += len(parts[start])
        del self.fragments[key]
        return whole


def _raw_ip(buf: bytes):
    return dpkt.ip6.IP6(buf) if buf[0] >> 4 == 6 else dpkt.ip.IP(buf)


class _Stream:
    """One direction of a TCP connection: bytes in sequence order, then SIP or WebSocket."""

    def __init__(self, src: Address, dst: Address, sip: list) -> None:
        self.src, self.dst, self.sip = src, dst, sip
        self.next_seq: int | None = None
        self.waiting: dict[int, tuple[int, bytes]] = {}
        self.buffer = b""
        self.mode = "start"
        self.started = False

    def segment(self, frame: int, seq: int, flags: int, data: bytes) -> None:
        if flags & dpkt.tcp.TH_SYN:
            self.next_seq, self.started = (seq + 1) & 0xFFFFFFFF, True
            return
        if not data:
            return
        if self.next_seq is None:
            self.next_seq = seq
        self.waiting.setdefault(seq, (frame, data))
        while True:
            hit = None
            for start, (f, chunk) in self.waiting.items():
                delta = (self.next_seq - start) & 0xFFFFFFFF
                if delta < len(chunk):       # begins at or before the next byte wanted
                    hit = start
                    break
                if delta < 1 << 31:          # wholly old: a retransmission
                    hit = start
                    chunk = b""
                    break
            if hit is None:
                return
            f, chunk = self.waiting.pop(hit)
            delta = (self.next_seq - hit) & 0xFFFFFFFF
            new = chunk[delta:] if delta < len(chunk) else b""
            if new:
                self.next_seq = (self.next_seq + len(new)) & 0xFFFFFFFF
                self.bytes(f, new)

    def bytes(self, frame: int, data: bytes) -> None:
        self.buffer += data
        if self.mode == "start":
            if self.buffer.startswith(b"GET ") or self.buffer.startswith(b"HTTP/1.1 101"):
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.mode, self.buffer = "ws", self.buffer[end + 4:]
            elif _START.match(self.buffer):
                self.mode = "sip"
            else:
                m = _LINE.search(self.buffer)
                if m is None:
                    if self.buffer[:1] in (b"\x14", b"\x15", b"\x16", b"\x17"):
                        self.mode = "tls"
                    self.buffer = self.buffer[-512:]
                    return
                self.mode, self.buffer = "sip", self.buffer[m.start(1):]
        if self.mode == "sip":
            self.sip_messages(frame)
        elif self.mode == "ws":
            self.ws_frames(frame)
        else:
            self.buffer = b""

    def sip_messages(self, frame: int) -> None:
        while True:
            self.buffer = self.buffer.lstrip(b"\r\n")
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            m = _CLEN.search(self.buffer[:end + 2])
            total = end + 4 + (int(m.group(1)) if m else 0)
            if len(self.buffer) < total:
                return
            self.sip.append((frame, self.src, self.dst, "tcp", self.buffer[:total]))
            self.buffer = self.buffer[total:]

    def ws_frames(self, frame: int) -> None:
        message = getattr(self, "message", b"")
        while len(self.buffer) >= 2:
            b0, b1 = self.buffer[0], self.buffer[1]
            length, pos = b1 & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, pos = struct.unpack_from("!H", self.buffer, 2)[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, pos = struct.unpack_from("!Q", self.buffer, 2)[0], 10
            mask = b""
            if b1 & 0x80:
                mask, pos = self.buffer[pos:pos + 4], pos + 4
            if len(self.buffer) < pos + length:
                return
            payload = self.buffer[pos:pos + length]
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
            self.buffer = self.buffer[pos + length:]
            opcode = b0 & 0x0F
            if opcode in (0, 1, 2):
                message += payload
                if b0 & 0x80:
                    text = message.lstrip(b"\r\n")
                    message = b""
                    if _START.match(text):
                        self.sip.append((frame, self.src, self.dst, "ws", text))
        self.message = message


def read(path: str) -> Oracle:
    reader = _Reader()
    for frame, link, buf, comment in _records(str(path)):
        reader.record(frame, link, buf, comment)
    return reader.out
