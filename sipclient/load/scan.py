"""What the lean load engine reads from a SIP response: a targeted scan, not a parse (pure).

Like SIPp, :func:`scan_response` looks only for the few header lines a UAC needs, spelled
the way nearly every peer spells them (``Call-ID:``, ``CSeq:``, ``To:``, ``Via:``,
``Contact:``, one space after the colon): the status code, the Call-ID, the CSeq number and
method, the whole To value (its tag included, copied into ACK and BYE), the top Via's
branch and, for a 2xx to INVITE, the Contact URI. Anything else -- a compact or
differently-cased header name, a Record-Route, a missing line, a request, a datagram that
is not SIP -- goes through :func:`sipclient.proto.message.parse_message` instead
(:func:`from_parsed`), so correctness never rests on the scan for the rare paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response, parse_message

__all__ = ["Scanned", "scan_response", "from_parsed", "parse_or_none"]


@dataclass(slots=True, eq=False)
class Scanned:
    """The fields of one response the lean UAC acts on (bytes, as on the wire)."""

    status: int
    call_id: bytes
    cseq: int
    method: bytes
    to: bytes
    branch: bytes
    contact: bytes | None
    routes: tuple[bytes, ...]  # Record-Route values, in the order received
    data: bytes


def _line(data: bytes, name: bytes) -> bytes | None:
    i = data.find(name)
    if i < 0:
        return None
    i += len(name)
    j = data.find(b"\r\n", i)
    return data[i:j].rstrip() if j >= 0 else None


def scan_response(data: bytes) -> Scanned | None:
    """The fields of a response in the usual spelling, or None (then use the parser).
    The To value is read for final responses only, the Contact for a 2xx to INVITE."""
    find = data.find
    if data[:8] != b"SIP/2.0 ":
        return None
    code = data[8:11]
    if not code.isdigit():
        return None
    i = find(b"\r\nCall-ID: ")
    k = find(b"\r\nCSeq: ")
    v = find(b"\r\nVia: ")
    if i < 0 or k < 0 or v < 0:
        return None
    call_id = data[i + 11:find(b"\r\n", i + 11)].rstrip()
    number, _, method = data[k + 8:find(b"\r\n", k + 8)].partition(b" ")
    via = data[v + 7:find(b"\r\n", v + 7)]
    b = via.find(b";branch=")
    if b < 0 or not number.isdigit():
        return None
    branch = via[b + 8:].split(b";", 1)[0].rstrip()
    status = int(code)
    method = method.strip()
    to = b""
    contact = None
    if status >= 200:
        found = _line(data, b"\r\nTo: ")
        if found is None:
            return None
        to = found
        if status < 300 and method == b"INVITE":
            line = _line(data, b"\r\nContact: ")
            if line is None or b"\r\nRecord-Route:" in data:
                return None
            contact = _uri(line)
    return Scanned(status, call_id, int(number), method, to, branch, contact, (), data)


def _uri(value: bytes) -> bytes:
    lt = value.find(b"<")
    if lt >= 0:
        return value[lt + 1:value.find(b">", lt)]
    return value.split(b";", 1)[0].strip()


def parse_or_none(data: bytes) -> Request | Response | None:
    try:
        return parse_message(data)
    except (ParseError, ValueError, UnicodeDecodeError):
        return None


def from_parsed(msg: Response, data: bytes) -> Scanned | None:
    """The same fields from a parsed response (the slow path); None when one is missing."""
    try:
        h = msg.headers
        cseq = msg.cseq
        via = msg.top_via
        branch = via.params.get("branch") if via is not None else None
        to = h.get("To")
        if cseq is None or to is None or branch is None:
            return None
        contact = None
        if 200 <= msg.status < 300 and cseq.method == "INVITE":
            values = h.get_all("Contact")
            if not values:
                return None
            contact = _uri(values[0].encode())
        routes = [v.strip().encode() for v in h.get_all("Record-Route")]
        return Scanned(msg.status, msg.call_id.encode(), cseq.seq, cseq.method.encode(),
                       to.encode(), str(branch).encode(), contact, tuple(routes), data)
    except (ParseError, AttributeError, ValueError):
        return None
