"""Message builders: what the core and the application build from a message at hand.

The ACK for a non-2xx final response (RFC 3261 17.1.1.3), the CANCEL of a pending request
(9.1), a response to a request (8.2.6.2) and the in-place rewrite of the top Via (18.2.1).
They are plain functions of messages: the transaction machines (:mod:`.transaction`) and
the core (:mod:`.core`) call them, and the path of a message no longer goes back and forth
between those two modules to build one.
"""

from __future__ import annotations

import re

from .errors import ParseError
from .fields import Via
from .headers import Headers, _key, split_list
from .message import Request, Response

__all__ = ["build_ack", "build_cancel", "build_response", "build_rejection",
           "replace_top_via", "stamp_received", "response_addr"]

_REQUEST_LINE = re.compile(r"([A-Za-z0-9.!%*_+`'~\-]+) (\S+) (SIP/\S+)\Z")
_COPY_ON_400 = {"via", "from", "to", "call-id", "cseq"}


def build_ack(invite, response):
    """The ACK for a non-2xx final response (RFC 3261 17.1.1.3).

    Same Request-URI, Call-ID, From and CSeq number as the INVITE (method ACK); To from the
    response (with its tag); only the INVITE's top Via (so the same branch); the INVITE's
    Route header fields.
    """
    return _in_transaction_of(invite, "ACK", response.headers.get("To"))


def build_cancel(request):
    """The CANCEL for a pending request (RFC 3261 9.1).

    Request-URI, Call-ID, To (as in the request, no new tag), From and CSeq number of the
    request, method CANCEL; a single Via equal to the request's top Via; its Route headers.
    """
    return _in_transaction_of(request, "CANCEL", request.headers.get("To"))


def _in_transaction_of(request, method: str, to: str | None):
    """``method`` sent with ``request``'s top Via (so its branch), Request-URI, Route, From,
    Call-ID and CSeq number, and ``to``: what an ACK for a non-2xx and a CANCEL share."""
    h = request.headers
    headers: list[tuple[str, str]] = [("Via", _top_via_value(request))]
    headers += [("Route", v) for v in h.get_all("Route")]
    headers += [
        ("Max-Forwards", "70"),
        ("From", h.get("From")),
        ("To", to),
        ("Call-ID", h.get("Call-ID")),
        ("CSeq", f"{request.cseq.seq} {method}"),
    ]
    return Request(method, str(request.uri), headers=headers)


def build_response(request, status: int, reason: str = "", *, to_tag: str | None = None,
                   headers=(), body: bytes = b""):
    """A response to ``request`` (RFC 3261 8.2.6.2).

    Via (all, in order), From, Call-ID and CSeq copied; To copied and given ``to_tag`` when
    it has none; Timestamp copied for 100 Trying (8.2.6.1). ``headers`` are appended.
    """
    h = request.headers
    out: list[tuple[str, str]] = [("Via", v) for v in h.get_all("Via")]
    to = h.get("To")
    if to_tag is not None and request.to.tag is None:
        to = str(request.to.with_tag(to_tag))
    out += [("From", h.get("From")), ("To", to), ("Call-ID", h.get("Call-ID")),
            ("CSeq", h.get("CSeq"))]
    if status == 100 and h.get("Timestamp") is not None:
        out.append(("Timestamp", h.get("Timestamp")))
    out += list(headers)
    return Response(status, reason, headers=out, body=body)


def _top_via_value(request) -> str:
    return str(request.top_via)


def replace_top_via(message, via) -> None:
    """Replace the top Via value of ``message`` in place, keeping every other line as is."""
    items = message.headers.items()
    for i, (name, value) in enumerate(items):
        if _key(name) == "via":
            parts = split_list(value)
            parts[0] = str(via)
            items[i] = (name, ", ".join(parts))
            break
    message.headers = Headers(items)


def stamp_received(msg, via, addr, rport):
    """18.2.1 / RFC 3581: ``msg`` with ``received`` (and ``rport`` filled) on its top Via
    ``via``; the same message when nothing changes, else a copy."""
    new = via
    if via.host.strip("[]") != addr[0] or rport is not None:
        new = new.with_param("received", addr[0])
    if rport is True:
        new = new.with_param("rport", str(addr[1]))
    if new is via:
        return msg
    msg = msg.copy()
    replace_top_via(msg, new)
    return msg


def response_addr(via, source, rport):
    """Where responses go over an unreliable transport (18.2.2, RFC 3581 4)."""
    default = 5061 if via.transport.upper() in ("TLS", "WSS") else 5060
    if via.maddr:
        return (via.maddr, via.port or default)
    if rport is not None:
        return source
    return (source[0], via.port or default)


def build_rejection(data: bytes, exc: ParseError, host: str, to_tag: str):
    """The 400 (or ``exc.status_hint``) for a request that did not parse, with a Warning
    naming the fault, and its top Via: ``(response, via)``; None when the start line or a Via
    cannot be read, or for an ACK (never answered, 17.2.3). Raises LocalProtocolError when
    a header it must echo is unsendable."""
    salvaged = _salvage(data)
    if salvaged is None:
        return None
    headers, via = salvaged
    status = exc.status_hint if 400 <= exc.status_hint <= 699 else 400
    out = []
    for name, value in headers:
        if _key(name) == "to" and "tag=" not in value.lower():
            value = f"{value};tag={to_tag}"
        out.append((name, value))
    text = exc.reason.replace("\\", "\\\\").replace('"', '\\"')[:200]
    out.append(("Warning", f'399 {host} "{text}"'))
    return Response(status, headers=out), via


def _salvage(data: bytes) -> tuple[list[tuple[str, str]], Via] | None:
    """Start line and the headers a 400 must copy, from bytes that did not parse."""
    text = data.decode("utf-8", "replace").lstrip("\r\n")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    lines: list[str] = []
    for line in re.split(r"\r?\n", head):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    m = _REQUEST_LINE.match(lines[0].strip()) if lines else None
    if m is None or m.group(1) == "ACK":
        return None  # not a request, or an ACK (never answered, 17.2.3)
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and _key(name.strip()) in _COPY_ON_400:
            headers.append((name.strip(), value.strip()))
    vias = [v for n, v in headers if _key(n) == "via"]
    if not vias:
        return None
    try:
        via = Via.parse(split_list(vias[0])[0])
    except (ParseError, IndexError):  # IndexError: an empty Via value
        return None
    return headers, via
