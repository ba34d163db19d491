"""Message builders: what the core and the application build from a message at hand.

The ACK for a non-2xx final response (RFC 3261 17.1.1.3), the CANCEL of a pending request
(9.1), a response to a request (8.2.6.2) and the in-place rewrite of the top Via (18.2.1).
They are plain functions of messages: the transaction machines (:mod:`.transaction`) and
the core (:mod:`.core`) call them, and the path of a message no longer goes back and forth
between those two modules to build one.
"""

from __future__ import annotations

from .headers import Headers, _key, split_list
from .message import Request, Response

__all__ = ["build_ack", "build_cancel", "build_response", "replace_top_via"]


def build_ack(invite, response):
    """The ACK for a non-2xx final response (RFC 3261 17.1.1.3).

    Same Request-URI, Call-ID, From and CSeq number as the INVITE (method ACK); To from the
    response (with its tag); only the INVITE's top Via (so the same branch); the INVITE's
    Route header fields.
    """
    h = invite.headers
    headers: list[tuple[str, str]] = [("Via", _top_via_value(invite))]
    headers += [("Route", v) for v in h.get_all("Route")]
    headers += [
        ("Max-Forwards", "70"),
        ("From", h.get("From")),
        ("To", response.headers.get("To")),
        ("Call-ID", h.get("Call-ID")),
        ("CSeq", f"{invite.cseq.seq} ACK"),
    ]
    return Request("ACK", str(invite.uri), headers=headers)


def build_cancel(request):
    """The CANCEL for a pending request (RFC 3261 9.1).

    Request-URI, Call-ID, To (as in the request, no new tag), From and CSeq number of the
    request, method CANCEL; a single Via equal to the request's top Via; its Route headers.
    """
    h = request.headers
    headers: list[tuple[str, str]] = [("Via", _top_via_value(request))]
    headers += [("Route", v) for v in h.get_all("Route")]
    headers += [
        ("Max-Forwards", "70"),
        ("From", h.get("From")),
        ("To", h.get("To")),
        ("Call-ID", h.get("Call-ID")),
        ("CSeq", f"{request.cseq.seq} CANCEL"),
    ]
    return Request("CANCEL", str(request.uri), headers=headers)


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
