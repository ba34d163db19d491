"""Reading captures with the live stack's parsers (issue 7, part 2).

``read_capture(path, heuristic_rtp=False) -> Capture``: every SIP message (UDP, TCP with
stream reassembly and Content-Length framing by :class:`sipclient.proto.framer.StreamFramer`,
WebSocket, Wireshark exported PDUs) parsed by :func:`sipclient.proto.message.parse_message`,
the RTP streams found through SDP (and heuristically on request) with their statistics, and
RFC 4733 DTMF events. ``iter_packets(path)`` streams the decoded UDP/TCP packets for other
uses.

What counts as SIP follows tshark: a UDP datagram or the start of a TCP stream whose first
line is a SIP request line (``METHOD uri SIP/2.0``) or status line (``SIP/2.0 NNN``), on any
port (tshark's SIP heuristic is on by default). Non-SIP noise (DNS, ARP, SNMP, TLS that
cannot be decrypted ...) is skipped quietly; packets that cannot be decoded and SIP that
cannot be parsed are counted in :attr:`Capture.problems` (frame number and reason), never
raised. A file that is not a capture raises :class:`CaptureError`; one cut short is read up
to the cut and :attr:`Capture.truncated` says where.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, NamedTuple

from sipclient.media.sdp import parse_sdp
from sipclient.pcap.decode.errors import CaptureError, DecodeError
from sipclient.pcap.decode.files import CaptureFile
from sipclient.pcap.decode.ip import TCP, UDP, V4_NAMES, IpDecoder, v4_name
from sipclient.pcap.decode.tcp import FIN, RST, TcpDirection
from sipclient.pcap.decode.websocket import (WebSocketReader, is_upgrade_request,
                                             is_upgrade_response)
from sipclient.pcap.rtp_streams import DtmfEvent, RtpCollector, RtpStream
from sipclient.proto.errors import ParseError
from sipclient.proto.limits import LimitExceeded, limit
from sipclient.proto.framer import (KeepAlivePing, KeepAlivePong, StreamFramer,
                                    frame_websocket_message)
from sipclient.proto.message import Request, Response, parse_message

if TYPE_CHECKING:
    from sipclient.pcap.analysis import Dialog

__all__ = ["Capture", "CaptureError", "Packet", "SipPacket", "iter_packets", "read_capture"]

Address = tuple[str, int]

_MAX_PROBLEMS = 1000
_RESYNC_LIMIT = 1 << 16
# a SIP start line (RFC 3261 7.1, 7.2): request line or status line
_SIP_START = re.compile(rb"(?:SIP/2\.0 [1-6]\d\d[ \r\n]|[A-Za-z][A-Za-z0-9.!%*_+`'~-]* [^ \r\n]+ SIP/2\.0\r?\n)")
_SIP_LINE = re.compile(rb"(?:^|\n)(SIP/2\.0 [1-6]\d\d |[A-Z][A-Z-]+ [^ \r\n]+ SIP/2\.0\r\n)")
_MGCP_PORTS = (2427, 2727)
_PORTS = struct.Struct("!HHH")
# link type -> (where the IPv4 header starts, where the ethertype is or None) for the links
# whose packets the hot path reads in place: Ethernet II (no VLAN tag), Linux cooked SLL and
# SLL2, raw IPv4 (101, 228) and BSD null (the IPv4 version nibble is checked)
_IPV4_LINKS = {1: (14, 12), 113: (16, 14), 276: (20, 0), 101: (0, None), 228: (0, None),
               0: (4, None)}
_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class Packet(NamedTuple):
    """One decoded UDP datagram or TCP segment (``iter_packets``)."""

    frame: int
    time: float
    transport: str            # "udp" or "tcp"
    src: Address
    dst: Address
    payload: bytes
    seq: int                  # TCP sequence number (0 for UDP)
    flags: int                # TCP flags (0 for UDP; -1: a whole PDU exported by Wireshark)


@dataclass(frozen=True)
class SipPacket:
    """One SIP message as captured. ``frame`` and ``time`` are those of the packet that
    completed it (the last TCP segment of a message split over several)."""

    frame: int
    time: float
    src: Address
    dst: Address
    transport: str            # "udp", "tcp", "ws"; exported plaintext: "tls" or "wss"
    message: Request | Response
    raw: bytes

    @property
    def label(self) -> str:
        """The flow label: the method of a request, the status code of a response."""
        m = self.message
        return m.method if isinstance(m, Request) else str(m.status)


@dataclass
class Capture:
    """Everything read from one capture file."""

    path: str
    file_type: str
    packets: int = 0
    sip: list[SipPacket] = field(default_factory=list)
    rtp_streams: list[RtpStream] = field(default_factory=list)
    dtmf: list[DtmfEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    undecodable: int = 0           # packets whose headers were cut short or garbled
    rtcp_packets: int = 0
    ip_reassembled: int = 0
    heuristic_rtp: bool = False
    start_time: float | None = None    # time of the first record
    truncated: str | None = None
    _dialogs: list | None = field(default=None, repr=False)

    @property
    def dialogs(self) -> list[Dialog]:
        """SIP grouped by Call-ID (see :func:`sipclient.pcap.analysis.dialogs`)."""
        if self._dialogs is None:
            from sipclient.pcap.analysis import dialogs
            self._dialogs = dialogs(self)
        return self._dialogs

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)


def _open(path: str) -> tuple[CaptureFile, object]:
    with open(path, "rb") as fh:
        try:
            data: object = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):             # empty file, a pipe or a device
            cap = int(limit("pcap_file_bytes"))
            data = fh.read(64)
            if len(data) >= 4:  # not a capture at all (/dev/zero): say so before reading on
                CaptureFile(data + bytes(64), path)
            data += fh.read(cap + 1 - len(data))
            if len(data) > cap:
                raise CaptureError(str(LimitExceeded("pcap_file_bytes", "the capture")),
                                   path=path, offset=cap)
    try:
        return CaptureFile(data, path), data  # type: ignore[arg-type]
    except CaptureError:
        if isinstance(data, mmap.mmap):
            data.close()
        raise


def iter_packets(path: str) -> Iterator[Packet]:
    """Stream the UDP datagrams and TCP segments of a capture (IP fragments reassembled,
    tunnels opened); packets that are not IP/UDP/TCP or cannot be decoded are skipped."""
    cap, data = _open(path)
    decoder = IpDecoder()
    try:
        for frame, time, linktype, raw in cap.records():
            try:
                seg = decoder.decode(linktype, raw)
            except (DecodeError, IndexError, ValueError, struct.error):
                continue
            if seg is None:
                continue
            proto, src, sport, dst, dport, payload, seq, flags = seg
            yield Packet(frame, time, "tcp" if proto == TCP else "udp", (src, sport),
                         (dst, dport), payload, seq, flags)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def looks_like_sip(payload: bytes) -> bool:
    """tshark's test: the first line is a SIP request or status line."""
    return bool(payload) and payload[0] in _FIRST and _SIP_START.match(payload) is not None


class _Reader:
    """The state of one read: TCP streams, SDP-declared media, the results."""

    def __init__(self, capture: Capture, heuristic_rtp: bool) -> None:
        self.capture = capture
        self.rtp = RtpCollector(heuristic_rtp)
        self.tcp: dict[tuple, _TcpStream] = {}
        self.decoder = IpDecoder()
        self.comments: dict[int, str] = {}

    def frame(self, frame: int, time: float, linktype: int, raw: bytes) -> None:
        """One captured frame, whatever it holds."""
        rtp_packet = self.rtp.packet
        # IPv4 without options or fragmentation, UDP, on a common link: most of SIP and RTP
        layout = _IPV4_LINKS.get(linktype)
        if layout is not None:
            ip, ethertype_at = layout
            if (len(raw) >= ip + 28 and raw[ip] == 0x45 and raw[ip + 9] == 17
                    and not raw[ip + 6] & 0x3F and not raw[ip + 7]
                    and (ethertype_at is None or raw[ethertype_at:ethertype_at + 2] == b"\x08\x00")):
                flow = raw[ip + 12:ip + 24]
                streams = self.rtp.fast_flows.get(flow)
                if streams is not None and len(raw) >= ip + 40:
                    acc = streams.get(raw[ip + 36:ip + 40])
                    if (acc is not None and raw[ip + 28] & 0xC0 == 0x80
                            and raw[ip + 29] & 0x7F < 72):
                        acc.headers += raw[ip + 28:ip + 40]
                        acc.times.append(time)
                        acc.frames.append(frame)
                        return
                sport, dport, length = _PORTS.unpack_from(raw, ip + 20)
                udp_end = ip + 20 + length
                payload = raw[ip + 28:udp_end] if 8 <= length and udp_end <= len(raw) \
                    else raw[ip + 28:]
                b = raw[ip + 12:ip + 16]
                src = V4_NAMES.get(b) or v4_name(b)
                b = raw[ip + 16:ip + 20]
                dst = V4_NAMES.get(b) or v4_name(b)
                if payload and payload[0] in _FIRST and _SIP_START.match(payload):
                    self.sip(frame, time, (src, sport), (dst, dport), "udp", payload)
                elif not rtp_packet(frame, time, src, sport, dst, dport, payload, flow):
                    if sport in _MGCP_PORTS or dport in _MGCP_PORTS:
                        self.mgcp(frame, payload)
                return
        try:
            seg = self.decoder.decode(linktype, raw)
        except (DecodeError, IndexError, ValueError, struct.error) as exc:
            self.capture.undecodable += 1
            self.capture.problem(f"frame {frame}: {exc}")
            return
        if seg is None:
            return
        proto, src, sport, dst, dport, payload, seq, flags = seg
        if proto == UDP:
            if payload and payload[0] in _FIRST and _SIP_START.match(payload):
                self.sip(frame, time, (src, sport), (dst, dport), "udp", payload)
            elif not rtp_packet(frame, time, src, sport, dst, dport, payload):
                if sport in _MGCP_PORTS or dport in _MGCP_PORTS:
                    self.mgcp(frame, payload)
        elif flags == -1:                                   # an exported whole PDU
            if looks_like_sip(payload):
                self.sip(frame, time, (src, sport), (dst, dport),
                         _exported_transport(self.comments.get(frame), proto), payload)
        else:
            self.tcp_segment(frame, time, src, sport, dst, dport, payload, seq, flags)

    # -- SIP ---------------------------------------------------------------------------------
    def sip(self, frame: int, time: float, src: Address, dst: Address, transport: str,
            raw: bytes, message: Request | Response | None = None) -> None:
        if message is None:
            try:
                message = parse_message(raw)
            except ParseError as exc:
                self.capture.problem(f"frame {frame}: malformed SIP from {src[0]}:{src[1]}: "
                                     f"{_describe(exc)}")
                return
        self.capture.sip.append(SipPacket(frame, time, src, dst, transport, message, raw))
        self._sdp(frame, message)

    def _sdp(self, frame: int, message: Request | Response) -> None:
        body = message.body
        if not body:
            return
        try:
            ctype = (message.content_type or "").lower()
        except ParseError:
            return
        if "multipart/" in ctype:
            start = body.find(b"v=0")
            if start < 0:
                return
            end = body.find(b"\r\n--", start)
            body = body[start:end if end > 0 else len(body)]
        elif not ctype.startswith("application/sdp") and not (not ctype and body.startswith(b"v=0")):
            return
        try:
            sdp = parse_sdp(body, lenient=True)
            call_id = message.call_id
        except (ParseError, ValueError) as exc:
            self.capture.problem(f"frame {frame}: unreadable SDP: {exc}")
            return
        accepted = (isinstance(message, Response) and 200 <= message.status < 300
                    or isinstance(message, Request) and message.method == "ACK")
        self.rtp.add_sdp(frame, call_id, sdp, accepted)

    # -- per packet --------------------------------------------------------------------------
    def mgcp(self, frame: int, payload: bytes) -> None:
        """MGCP (RFC 3435) carries SDP too (CRCX/MDCX and their answers): tshark sets up
        RTP from it, so the same media is found here."""
        start = payload.find(b"\nv=0")
        if start < 0:
            return
        try:
            sdp = parse_sdp(payload[start + 1:].split(b"\n.\n")[0], lenient=True)
        except (ParseError, ValueError):
            return
        self.rtp.add_sdp(frame, None, sdp)

    def tcp_segment(self, frame: int, time: float, src: str, sport: int, dst: str, dport: int,
                    payload: bytes, seq: int, flags: int) -> None:
        key = (src, sport, dst, dport)
        stream = self.tcp.get(key)
        if stream is None:
            stream = self.tcp[key] = _TcpStream(self, key)
        stream.segment(frame, time, seq, flags, payload)
        if flags & (FIN | RST) and flags > 0:
            stream.closed = True


class _TcpStream:
    """One direction of a TCP connection: reassembly, then SIP framing or WebSocket."""

    __slots__ = ("reader", "key", "direction", "mode", "framer", "ws", "pending", "closed",
                 "skipped")

    def __init__(self, reader: _Reader, key: tuple) -> None:
        self.reader = reader
        self.key = key
        self.direction = TcpDirection()
        self.mode = "start"               # start, sip, http, ws, other
        self.framer: StreamFramer | None = None
        self.ws: WebSocketReader | None = None
        self.pending = b""
        self.closed = False
        self.skipped = 0

    @property
    def reverse(self) -> _TcpStream | None:
        s, sp, d, dp = self.key
        return self.reader.tcp.get((d, dp, s, sp))

    def segment(self, frame: int, time: float, seq: int, flags: int, payload: bytes) -> None:
        if self.mode == "other":
            return
        if flags & 0x02 and self.mode != "start":           # a new connection, same ports
            self.mode, self.framer, self.ws, self.pending = "start", None, None, b""
        data = self.direction.segment(seq, flags, payload)
        if data:
            self.bytes(frame, time, data)

    def bytes(self, frame: int, time: float, data: bytes) -> None:
        if self.mode == "start" or self.mode == "http":
            data = self.pending + data
            self.pending = b""
            if self.mode == "start":
                if is_upgrade_request(data) or is_upgrade_response(data):
                    self.mode = "http"
                else:
                    data = self._find_sip(data)
                    if not data:
                        return
            if self.mode == "http":
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    self.pending = data if len(data) < _RESYNC_LIMIT else b""
                    if not self.pending:
                        self.mode = "other"
                    return
                if data.startswith(b"GET ") or is_upgrade_response(data):
                    self.mode = "ws"
                    self.ws = WebSocketReader()
                else:
                    self.mode = "other"
                    return
                data = data[end + 4:]
                if not data:
                    return
        if self.mode == "sip":
            self._frame_sip(frame, time, data)
        elif self.mode == "ws":
            self._frame_ws(frame, time, data)

    def _find_sip(self, data: bytes) -> bytes:
        """The bytes from the first SIP start line on; a capture may start mid-stream."""
        if _SIP_START.match(data):
            self.mode = "sip"
            self.framer = StreamFramer()
            return data
        m = _SIP_LINE.search(data)
        if m is not None:
            self.mode = "sip"
            self.framer = StreamFramer()
            return data[m.start(1):]
        if not self.skipped and data[:1] in (b"\x14", b"\x15", b"\x16", b"\x17"):
            self.mode = "other"                 # TLS records: nothing to read without keys
            return b""
        self.skipped += len(data)
        if self.skipped > _RESYNC_LIMIT:
            self.mode = "other"                 # not SIP (HTTP, a database ...): stop looking
        else:
            self.pending = data[-512:]          # a start line may straddle two segments
        return b""

    def _frame_sip(self, frame: int, time: float, data: bytes) -> None:
        assert self.framer is not None
        src, sport, dst, dport = self.key
        try:
            events = self.framer.feed(data)
        except ParseError as exc:
            self.reader.capture.problem(f"frame {frame}: SIP over TCP from {src}:{sport}: "
                                        f"{_describe(exc)}")
            if self.framer.broken:
                self.mode = "start"            # look for the next start line
                self.framer = None
                return
            events = self.framer.feed(b"")
        for ev in events:
            if isinstance(ev, (KeepAlivePing, KeepAlivePong)):
                continue
            self.reader.sip(frame, time, (src, sport), (dst, dport), "tcp", bytes(ev), ev)

    def _frame_ws(self, frame: int, time: float, data: bytes) -> None:
        assert self.ws is not None
        src, sport, dst, dport = self.key
        try:
            messages = self.ws.feed(data)
        except DecodeError as exc:
            self.reader.capture.problem(f"frame {frame}: WebSocket from {src}:{sport}: {exc}")
            self.mode = "other"
            return
        for msg in messages:
            text = msg.lstrip(b"\r\n")
            if not _SIP_START.match(text):       # keep-alives, another subprotocol
                continue
            try:
                parsed = frame_websocket_message(text)
            except ParseError as exc:
                self.reader.capture.problem(f"frame {frame}: malformed SIP over WebSocket from "
                                            f"{src}:{sport}: {_describe(exc)}")
                continue
            if parsed is not None:
                self.reader.sip(frame, time, (src, sport), (dst, dport), "ws", text, parsed)


def _exported_transport(comment: str | None, proto: int) -> str:
    """The transport of a SIP message exported as plaintext: sipclient's writer says it in
    the block comment (``sipclient transport=wss``); otherwise TLS for TCP."""
    if comment:
        for word in comment.split():
            if word.startswith("transport="):
                name = word[len("transport="):].lower()
                if name in ("udp", "tcp", "tls", "ws", "wss"):
                    return name
    return "tls" if proto == TCP else "udp"


def _describe(exc: ParseError) -> str:
    where = []
    if getattr(exc, "header", None):
        where.append(f"header {exc.header}")
    if getattr(exc, "offset", None) is not None:
        where.append(f"offset {exc.offset}")
    reason = getattr(exc, "reason", None) or str(exc)
    return f"{', '.join(where)}: {reason}" if where else reason


def read_capture(path: str, *, heuristic_rtp: bool = False) -> Capture:
    """Read a whole capture (see the module docstring). Raises ``OSError`` when the file
    cannot be opened and :class:`CaptureError` when it is not a pcap/pcapng file."""
    path = str(path)
    cap, data = _open(path)
    capture = Capture(path, cap.file_type, heuristic_rtp=heuristic_rtp)
    reader = _Reader(capture, heuristic_rtp)
    reader.comments = cap.comments
    first = next(iter(cap.records()), None)
    capture.start_time = first[1] if first else None
    try:
        if cap.file_type == "pcap":
            capture.packets = _read_pcap(cap, reader)
        else:
            handle = reader.frame
            for frame, time, linktype, raw in cap.records():
                handle(frame, time, linktype, raw)
                capture.packets = frame
    finally:
        capture.truncated = cap.truncated
        for text in cap.problems:
            capture.problem(text)
        if isinstance(data, mmap.mmap):
            data.close()
    capture.ip_reassembled = reader.decoder.reassembled
    capture.rtp_streams, capture.dtmf = reader.rtp.finish()
    capture.rtcp_packets = reader.rtp.rtcp_packets
    return capture


def _read_pcap(cap: CaptureFile, reader: _Reader) -> int:
    """The records of a classic pcap, with the hot path of RTP inlined: a packet of a flow
    already known to carry RTP (IPv4 without options or fragments, UDP, on one of the links
    of ``_IPV4_LINKS``) keeps its 12-byte RTP header, time and frame number, and nothing
    else happens to it. Every other packet goes to :meth:`_Reader.frame`. Returns the
    number of records read."""
    data, end = cap.data, len(cap.data)
    record, unit, linktype = cap.pcap_layout()
    fast_flows = reader.rtp.fast_flows
    handle = reader.frame
    layout = _IPV4_LINKS.get(linktype)
    hot = layout is not None
    ip, ethertype_at = layout if layout is not None else (0, None)
    ether = -1 if ethertype_at is None else ethertype_at
    offset, frame = 24, 0
    while offset < end:
        frame += 1
        if offset + 16 > end:
            cap.cut_short(frame, offset, None)
            return frame - 1
        sec, frac, incl, _orig = record(data, offset)
        start = offset + 16
        stop = start + incl
        if stop > end or incl > 0x4000000:
            cap.cut_short(frame, offset, incl)
            return frame - 1
        time = sec + frac * unit
        offset = stop
        if hot and incl >= ip + 40:
            at = start + ip
            if (data[at] == 0x45 and data[at + 9] == 17 and not data[at + 6] & 0x3F
                    and not data[at + 7]
                    and (ether < 0 or data[start + ether:start + ether + 2] == b"\x08\x00")):
                streams = fast_flows.get(data[at + 12:at + 24])
                if streams is not None:
                    acc = streams.get(data[at + 36:at + 40])
                    if (acc is not None and data[at + 28] & 0xC0 == 0x80
                            and data[at + 29] & 0x7F < 72):
                        acc.headers += data[at + 28:at + 40]
                        acc.times.append(time)
                        acc.frames.append(frame)
                        continue
        handle(frame, time, linktype, data[start:stop])
    return frame
