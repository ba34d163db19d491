"""Which SIP messages of a capture or a trace are retransmissions: one function,
:func:`mark_retransmissions`, for the ladders, the summary and ``pcap validate``. Pure.

The rule (``rule="rfc3261"``, the default): a message is a retransmission when it repeats
an earlier one between the same two parties in the same transaction: the same start line,
top Via (its branch names the transaction), CSeq, From, To and body (RFC 3261 17.1.1.2,
17.2.1). A capture taken at several hops shows a message once per hop: those travel between
other parties and are not retransmissions.

``rule="tshark"`` counts what Wireshark's ``sip.resend`` counts, so the summary can be
checked against tshark frame by frame: per (Call-ID, source, destination, transport) only
the last CSeq number and its first method are kept; a request is a resend when that number
and method were already requested, a final response when that status was already sent for
them. It is the RFC rule without what tshark cannot see: a repeated CANCEL or ACK (they carry
the INVITE's number), repeated provisional responses, and a final response repeated after a
response to another method of the same number (``tests/pcap/test_ladder_cli.py`` shows every
tshark resend is an RFC one).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

__all__ = ["RULES", "mark_retransmissions", "transaction_key"]

RULES = ("rfc3261", "tshark")

#: (source, destination, transport, the parsed message or None, its text if unparsable)
Sent = tuple[Hashable, Hashable, str, "Request | Response | None", Any]


def transaction_key(message: Request | Response) -> tuple:
    """What two copies of one message of one transaction share (RFC 3261 17.1.1.2, 17.2.1):
    start line, top Via, CSeq, From, To and body."""
    h = message.headers
    start = (message.method, str(message.uri)) if isinstance(message, Request) else \
        (message.status, message.reason)
    return (start, h.get("Via"), h.get("CSeq"), h.get("To"), h.get("From"), message.body)


def mark_retransmissions(sent: Iterable[Sent], *, rule: str = "rfc3261") -> list[bool]:
    """For each ``(src, dst, transport, message, raw)``, whether it is a retransmission
    under ``rule`` (see the module docstring). ``message`` None: not parsed (``raw`` keys
    it for the RFC rule; tshark's never calls it a resend)."""
    if rule == "rfc3261":
        return _rfc3261(sent)
    if rule == "tshark":
        return _tshark(sent)
    raise ValueError(f"retransmission rule {rule!r}: one of {', '.join(RULES)}")


def _rfc3261(sent: Iterable[Sent]) -> list[bool]:
    seen: set[tuple] = set()
    out = []
    for src, dst, _transport, message, raw in sent:
        key = (src, dst, raw) if message is None else (src, dst, *transaction_key(message))
        out.append(key in seen)
        seen.add(key)
    return out


def _tshark(sent: Iterable[Sent]) -> list[bool]:
    state: dict[tuple, list] = {}        # key -> [cseq, method, phase, final status]
    out = []
    for src, dst, transport, m, _raw in sent:
        if m is None:
            out.append(False)
            continue
        seq, method = _cseq(m)
        key = (_call_id(m), src, dst, transport)
        entry = state.get(key)
        resend = False
        if entry is None or entry[0] != seq:
            entry = state[key] = [seq, method, "none", None]
        if seq is not None:
            if isinstance(m, Request):
                if entry[2] == "request" and method == entry[1]:
                    resend = True
                elif entry[2] == "none":
                    entry[2] = "request"
            elif m.status >= 200:
                if entry[2] == "final" and entry[3] == (m.status, method):
                    resend = True
                else:
                    entry[2], entry[3] = "final", (m.status, method)
        out.append(resend)
    return out


def _cseq(m: Request | Response) -> tuple[int | None, str | None]:
    try:
        cseq = m.cseq
    except (ParseError, AttributeError):
        return None, None
    return cseq.seq, cseq.method


def _call_id(m: Request | Response) -> str | None:
    try:
        return m.call_id
    except ParseError:
        return None
