"""HEP3, the Homer Encapsulation Protocol version 3: what a capture agent sends to Homer.

Pure (no socket, no clock): :func:`encode` builds one HEP3 packet; :class:`HepEncoder`
turns every packet a run records (the same ``write(time, transport, src, dst, payload)``
calls :class:`~sipclient.pcap.writer.PcapWriter` gets) into the HEP3 packets to send: each
SIP message (every transport; TLS/WS/WSS as the plaintext the application saw) as
protocol type 1 with its raw text, and each RTCP compound packet as protocol type 5 (RTCP as
JSON, the form Homer's own agents send), correlated with its call's Call-ID (learnt from
the SDP of the SIP messages: the RTCP port is the m= port + 1, RFC 3550 11, or the RTP port
itself with rtcp-mux). RTP itself is not sent. :mod:`sipclient.io.hep` sends them.

HEP3 (sipcapture's HEP3 revision 12): ``"HEP3"``, total length (16 bits), then chunks, each
vendor id (16 bits, 0 = generic), type id (16 bits), length (16 bits, counting these 6
bytes), value; all big-endian. Generic chunks used here: 1 IP family (2 AF_INET, 10
AF_INET6), 2 IP protocol (17 UDP, 6 TCP), 3/4 IPv4 source/destination, 5/6 IPv6
source/destination, 7/8 source/destination port, 9/10 timestamp seconds/microseconds, 11
protocol type, 12 capture agent id, 14 authentication key, 15 payload, 17 correlation id.

The authentication key is a secret: :class:`HepSettings` never shows it (``repr``,
:meth:`HepSettings.describe`); it is only written into the packets.
"""

from __future__ import annotations

import ipaddress
import json
import re
import struct
from dataclasses import dataclass, field

from sipclient.media.rtcp import (Bye, ReceiverReport, SenderReport, SourceDescription,
                                  is_rtcp, parse_compound)
from sipclient.pcap.read import looks_like_sip
from sipclient.proto.errors import ParseError

__all__ = ["HepEncoder", "HepSettings", "HepTarget", "PROTO_RTCP", "PROTO_SIP", "decode",
           "encode", "parse_hep_target", "DEFAULT_CAPTURE_ID"]

PROTO_SIP, PROTO_RTCP = 1, 5
DEFAULT_CAPTURE_ID = 2001
MAX_PACKET = 0xFFFF                     # the total length is 16 bits
_AF = {4: 2, 6: 10}
_IP_PROTO = {"udp": 17, "tcp": 6, "tls": 6, "ws": 6, "wss": 6, "sctp": 132}
_STREAM = frozenset({"tcp", "tls", "ws", "wss"})
_CALL_ID = re.compile(rb"\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]+)", re.I)
_MEDIA = re.compile(rb"\nm=[a-z]+ (\d+) ")
_CONN = re.compile(rb"\nc=IN IP[46] ([^\s/]+)")
_MUX = re.compile(rb"\na=rtcp-mux\b")


class HepError(ValueError):
    """A HEP target or setting that cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class HepTarget:
    """Where HEP goes: ``udp:HOST:PORT`` or ``tcp:HOST:PORT`` (``[v6]`` in brackets)."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


def parse_hep_target(text: str) -> HepTarget:
    """``udp:HOST:PORT`` / ``tcp:HOST:PORT`` -> :class:`HepTarget`; :class:`HepError`
    saying what is wrong otherwise."""
    raw = str(text).strip()
    transport, sep, rest = raw.partition(":")
    if not sep or transport.lower() not in ("udp", "tcp"):
        raise HepError(f"HEP target {raw!r}: expected udp:HOST:PORT or tcp:HOST:PORT "
                       "(e.g. udp:homer.example.net:9060)")
    if rest.startswith("["):
        host, _, port_text = rest[1:].partition("]")
        port_text = port_text[1:] if port_text.startswith(":") else ""
    else:
        host, _, port_text = rest.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise HepError(f"HEP target {raw!r}: expected {transport.lower()}:HOST:PORT with a "
                       "port from 1 to 65535 (Homer listens on 9060)")
    return HepTarget(transport.lower(), host, int(port_text))


@dataclass(frozen=True)
class HepSettings:
    """Where and how to send HEP. ``auth_key`` is a secret: never shown."""

    target: HepTarget
    capture_id: int = DEFAULT_CAPTURE_ID
    auth_key: str | None = field(default=None, repr=False)
    #: also send RTCP reports (protocol type 5, JSON)
    rtcp: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.target, str):
            object.__setattr__(self, "target", parse_hep_target(self.target))
        if not 0 <= int(self.capture_id) <= 0xFFFFFFFF:
            raise HepError(f"HEP capture id {self.capture_id}: a 32-bit number "
                           "(0 to 4294967295)")
        object.__setattr__(self, "capture_id", int(self.capture_id))

    def describe(self) -> str:
        """For settings tables and logs: the target and id, whether a key is set."""
        key = ", auth key set" if self.auth_key else ""
        return f"{self.target} (capture id {self.capture_id}{key})"

    def __reduce__(self):  # a worker process rebuilds it from its own environment
        raise TypeError("HepSettings holds a secret and cannot be pickled")


def _chunk(kind: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, kind, 6 + len(value)) + value


def encode(src: tuple[str, int], dst: tuple[str, int], time: float, payload: bytes, *,
           proto_type: int = PROTO_SIP, transport: str = "udp",
           capture_id: int = DEFAULT_CAPTURE_ID, auth_key: str | None = None,
           correlation_id: str | bytes | None = None) -> bytes:
    """One HEP3 packet. An IPv4 and an IPv6 side together are sent as IPv6 (the IPv4 one
    mapped, ``::ffff:a.b.c.d``). Raises :class:`HepError` above 65535 bytes."""
    s, d = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if s.version != d.version:
        s = s if s.version == 6 else ipaddress.IPv6Address(f"::ffff:{s}")
        d = d if d.version == 6 else ipaddress.IPv6Address(f"::ffff:{d}")
    seconds = int(time)
    micros = min(int(round((time - seconds) * 1e6)), 999_999)
    body = (_chunk(1, bytes([_AF[s.version]]))
            + _chunk(2, bytes([_IP_PROTO.get(transport.lower(), 17)]))
            + _chunk(3 if s.version == 4 else 5, s.packed)
            + _chunk(4 if s.version == 4 else 6, d.packed)
            + _chunk(7, struct.pack("!H", src[1])) + _chunk(8, struct.pack("!H", dst[1]))
            + _chunk(9, struct.pack("!I", seconds)) + _chunk(10, struct.pack("!I", micros))
            + _chunk(11, bytes([proto_type])) + _chunk(12, struct.pack("!I", capture_id)))
    if auth_key:
        body += _chunk(14, auth_key.encode("utf-8"))
    if correlation_id:
        cid = correlation_id if isinstance(correlation_id, bytes) else correlation_id.encode()
        body += _chunk(17, cid)
    total = 6 + len(body) + 6 + len(payload)
    if total > MAX_PACKET:
        raise HepError(f"a HEP3 packet of {total} bytes: at most {MAX_PACKET}")
    return b"HEP3" + struct.pack("!H", total) + body + _chunk(15, payload)


def decode(packet: bytes) -> dict:
    """The generic chunks of one HEP3 packet as a dict (for tests and tools): ``src``,
    ``dst`` (address, port), ``time``, ``ip_proto``, ``proto_type``, ``capture_id``,
    ``auth_key``, ``correlation_id``, ``payload``. :class:`HepError` when it is not HEP3."""
    if len(packet) < 6 or packet[:4] != b"HEP3":
        raise HepError("not a HEP3 packet (no 'HEP3' at its start)")
    total = struct.unpack_from("!H", packet, 4)[0]
    if total > len(packet):
        raise HepError(f"HEP3 packet cut short: {len(packet)} of {total} bytes")
    chunks: dict[int, bytes] = {}
    pos = 6
    while pos + 6 <= total:
        vendor, kind, length = struct.unpack_from("!HHH", packet, pos)
        if length < 6 or pos + length > total:
            raise HepError(f"HEP3 chunk {kind} at offset {pos}: bad length {length}")
        if vendor == 0:
            chunks[kind] = packet[pos + 6:pos + length]
        pos += length

    def addr(v4: int, v6: int, port: int) -> tuple[str, int]:
        raw = chunks.get(v4) or chunks.get(v6) or b""
        return str(ipaddress.ip_address(raw)), struct.unpack("!H", chunks[port])[0]

    return {"src": addr(3, 5, 7), "dst": addr(4, 6, 8),
            "time": struct.unpack("!I", chunks[9])[0] + struct.unpack("!I", chunks[10])[0] / 1e6,
            "ip_proto": chunks[2][0], "proto_type": chunks[11][0],
            "capture_id": struct.unpack("!I", chunks[12])[0],
            "auth_key": chunks[14].decode() if 14 in chunks else None,
            "correlation_id": chunks[17].decode(errors="replace") if 17 in chunks else None,
            "payload": chunks.get(15, b"")}


def rtcp_json(payload: bytes) -> bytes | None:
    """An RTCP compound packet as the JSON Homer shows (the first SR or RR: sender
    information, report blocks; the CNAME); None when it is not RTCP."""
    try:
        packets = parse_compound(payload)
    except (ParseError, ValueError, struct.error):
        return None
    out: dict = {}
    for p in packets:
        if isinstance(p, (SenderReport, ReceiverReport)) and "type" not in out:
            out["ssrc"] = p.ssrc
            out["type"] = 200 if isinstance(p, SenderReport) else 201
            if isinstance(p, SenderReport):
                out["sender_information"] = {
                    "ntp_timestamp_sec": p.ntp_timestamp >> 32,
                    "ntp_timestamp_usec": (p.ntp_timestamp & 0xFFFFFFFF) * 1_000_000 >> 32,
                    "rtp_timestamp": p.rtp_timestamp, "packets": p.packet_count,
                    "octets": p.octet_count}
            out["report_count"] = len(p.reports)
            out["report_blocks"] = [
                {"source_ssrc": r.ssrc, "fraction_lost": r.fraction_lost,
                 "packets_lost": r.cumulative_lost, "highest_seq_no": r.highest_seq,
                 "ia_jitter": r.jitter, "lsr": r.lsr, "dlsr": r.dlsr} for r in p.reports]
        elif isinstance(p, SourceDescription) and p.chunks:
            out["sdes_ssrc"] = p.chunks[0].ssrc
            cname = p.chunks[0].cname
            if cname:
                out["sdes_cname"] = cname
        elif isinstance(p, Bye):
            out["bye"] = True
    return json.dumps(out, separators=(",", ":")).encode() if "type" in out else None


class HepEncoder:
    """``packet(time, transport, src, dst, payload)`` -> the HEP3 packet to send, or None
    (RTP, anything not SIP or RTCP). Learns each call's media addresses from SDP so its
    RTCP carries the Call-ID (at most ``max_calls`` remembered, oldest forgotten)."""

    def __init__(self, settings: HepSettings, max_calls: int = 10_000) -> None:
        self.settings = settings
        self.media: dict[tuple[str, int], bytes] = {}
        self.max_calls = max_calls
        self.sent_sip = 0
        self.sent_rtcp = 0

    def packet(self, time: float, transport: str, src: tuple[str, int],
               dst: tuple[str, int], payload: bytes) -> bytes | None:
        kind = transport.lower()
        s = self.settings
        if kind in _STREAM or looks_like_sip(payload):
            call_id = self._learn(payload)
            self.sent_sip += 1
            return encode(src, dst, time, payload, proto_type=PROTO_SIP, transport=kind,
                          capture_id=s.capture_id, auth_key=s.auth_key,
                          correlation_id=call_id)
        if not s.rtcp or not is_rtcp(payload) or not 200 <= payload[1] <= 204:
            return None
        body = rtcp_json(payload)
        if body is None:
            return None
        self.sent_rtcp += 1
        call_id = self.media.get(src) or self.media.get(dst)
        return encode(src, dst, time, body, proto_type=PROTO_RTCP, transport="udp",
                      capture_id=s.capture_id, auth_key=s.auth_key, correlation_id=call_id)

    def _learn(self, payload: bytes) -> bytes | None:
        m = _CALL_ID.search(payload)
        call_id = m.group(1).strip() if m else None
        if call_id and b"\nm=" in payload:
            conn = _CONN.search(payload)
            if conn is not None:
                host = conn.group(1).decode("ascii", "replace")
                mux = _MUX.search(payload) is not None
                for media in _MEDIA.finditer(payload):
                    port = int(media.group(1))
                    if port:
                        self._remember((host, port if mux else port + 1), call_id)
        return call_id

    def _remember(self, key: tuple[str, int], call_id: bytes) -> None:
        self.media.pop(key, None)
        self.media[key] = call_id
        while len(self.media) > self.max_calls:
            del self.media[next(iter(self.media))]
