"""SIP of a capture grouped into dialogs and transactions (issue 7, part 3).

:func:`dialogs` groups :attr:`Capture.sip` by Call-ID, in order of first appearance. Each
:class:`Dialog` has its messages in capture order, the *flow* (requests by method, responses
by status code, retransmissions included, as tshark's ``sip`` view lists them), its
transactions (RFC 3261 17.1.3 / 17.2.3 matching: top Via branch and CSeq method, ACK for a
non-2xx in the INVITE's transaction), the retransmissions marked, and for calls: setup time
(INVITE to the first provisional response other than 100), answer time (INVITE to the 2xx),
duration (2xx to BYE), disposition and the codecs of the SDP offer and answer.

A retransmission is marked as tshark marks it (``sip.resend``, the "tshark" rule of
:mod:`sipclient.pcap.retransmissions`, the one module that decides retransmissions): the
same CSeq, method (and status code, for a response) as the previous message between the
same source and destination for this Call-ID. A capture taken at several hops shows the same message once
per hop; those are separate messages, not retransmissions, as they travel between other
addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sipclient.media.sdp import parse_sdp
from sipclient.pcap import retransmissions
from sipclient.pcap.rtp_streams import codec_name
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

if TYPE_CHECKING:
    from sipclient.pcap.read import Capture, SipPacket

__all__ = ["Dialog", "Transaction", "dialogs", "mark_retransmissions"]


@dataclass
class Transaction:
    """A request and its responses (and the ACK of a non-2xx final response)."""

    method: str
    cseq: int
    branch: str | None
    messages: list[SipPacket] = field(default_factory=list)

    @property
    def final(self) -> int | None:
        codes = [p.message.status for p in self.messages
                 if isinstance(p.message, Response) and p.message.status >= 200]
        return codes[0] if codes else None

    @property
    def flow(self) -> list[str]:
        return [p.label for p in self.messages]

    def as_dict(self) -> dict:
        return {"method": self.method, "cseq": self.cseq, "branch": self.branch,
                "flow": self.flow, "final": self.final,
                "frames": [p.frame for p in self.messages]}


@dataclass
class Dialog:
    """Everything one Call-ID did in the capture."""

    call_id: str
    messages: list[SipPacket] = field(default_factory=list)
    retransmission: list[bool] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def flow(self) -> list[str]:
        return [p.label for p in self.messages]

    @property
    def flow_without_retransmissions(self) -> list[str]:
        return [p.label for p, r in zip(self.messages, self.retransmission) if not r]

    @property
    def method(self) -> str | None:
        """The method that created it: the first request seen (INVITE, REGISTER ...)."""
        for p in self.messages:
            if isinstance(p.message, Request):
                return p.message.method
        return None

    def _first(self, test) -> SipPacket | None:
        return next((p for p in self.messages if test(p.message)), None)

    @property
    def invite(self) -> SipPacket | None:
        return self._first(lambda m: isinstance(m, Request) and m.method == "INVITE")

    @property
    def setup_time(self) -> float | None:
        """Seconds from the first INVITE to the first provisional response that is not
        100 Trying (post-dial delay: 180 Ringing, 183 Session Progress)."""
        invite, ringing = self.invite, self._first(
            lambda m: isinstance(m, Response) and 100 < m.status < 200
            and _cseq_method(m) == "INVITE")
        return ringing.time - invite.time if invite and ringing else None

    @property
    def answer_time(self) -> float | None:
        """Seconds from the first INVITE to its 2xx (the call was answered)."""
        invite, ok = self.invite, self._first(
            lambda m: isinstance(m, Response) and 200 <= m.status < 300
            and _cseq_method(m) == "INVITE")
        return ok.time - invite.time if invite and ok else None

    @property
    def duration(self) -> float | None:
        """Seconds from the first 2xx to INVITE to the first BYE (None: no BYE seen)."""
        ok = self._first(lambda m: isinstance(m, Response) and 200 <= m.status < 300
                         and _cseq_method(m) == "INVITE")
        bye = self._first(lambda m: isinstance(m, Request) and m.method == "BYE")
        return bye.time - ok.time if ok and bye and bye.time >= ok.time else None

    @property
    def disposition(self) -> str:
        """What happened, in words a support engineer uses."""
        method = self.method
        if method is None:
            finals = [p.message.status for p in self.messages
                      if isinstance(p.message, Response) and p.message.status >= 200]
            return f"responses only ({finals[0]})" if finals else "responses only"
        if method != "INVITE":
            final = next((t.final for t in reversed(self.transactions)
                          if t.method == method and t.final is not None), None)
            if final is None:
                return "no final response"
            return f"{method.lower()} ok ({final})" if final < 300 else f"{method.lower()} failed ({final})"
        if self.answer_time is not None:
            if self.duration is not None:
                return "answered, ended"
            return "answered"
        finals = [t.final for t in self.transactions if t.method == "INVITE" and t.final]
        cancelled = any(t.method == "CANCEL" for t in self.transactions)
        if not finals:
            return "cancelled, no final response" if cancelled else "no final response"
        last = finals[-1]
        words = {486: "busy", 600: "busy", 603: "declined", 487: "cancelled", 480:
                 "unavailable", 408: "timeout", 404: "not found", 403: "forbidden",
                 488: "not acceptable", 401: "unauthorized", 407: "unauthorized"}
        return f"{words.get(last, 'failed')} ({last})"

    @property
    def codecs(self) -> dict[str, list[str]]:
        """Codec names of the first SDP offer and of the answer to it (the first SDP that
        travels the other way: a response to an offer in a request, or the ACK of a late
        offer)."""
        out: dict[str, list[str]] = {}
        offer_in_request: bool | None = None
        for p in self.messages:
            names = _sdp_codecs(p.message)
            if names is None:
                continue
            in_request = isinstance(p.message, Request)
            if offer_in_request is None:
                out["offer"], offer_in_request = names, in_request
            elif in_request != offer_in_request:
                out["answer"] = names
                break
        return out

    @property
    def from_uris(self) -> list[str]:
        """Every From URI of its requests, in order of first use (a phone re-provisioned
        with another account keeps its Call-ID and changes its From)."""
        out: dict[str, None] = {}
        for p in self.messages:
            if isinstance(p.message, Request):
                try:
                    out.setdefault(str(p.message.from_.uri))
                except (ParseError, AttributeError):
                    continue
        return list(out)

    def as_dict(self) -> dict:
        first, last = self.messages[0], self.messages[-1]
        msg = first.message
        try:
            from_uri, to_uri = msg.from_.uri, msg.to.uri
        except (ParseError, AttributeError):
            from_uri = to_uri = None
        setup, answer, duration = self.setup_time, self.answer_time, self.duration
        return {
            "call_id": self.call_id, "method": self.method,
            "from": str(from_uri) if from_uri is not None else None,
            "to": str(to_uri) if to_uri is not None else None,
            "from_all": self.from_uris,
            "flow": self.flow, "messages": len(self.messages),
            "retransmissions": [p.frame for p, r in zip(self.messages, self.retransmission) if r],
            "first_frame": first.frame, "last_frame": last.frame,
            "start": first.time, "end": last.time,
            "setup_time_ms": None if setup is None else round(setup * 1000, 3),
            "answer_time_ms": None if answer is None else round(answer * 1000, 3),
            "duration_s": None if duration is None else round(duration, 3),
            "disposition": self.disposition, "codecs": self.codecs,
            "transports": sorted({p.transport for p in self.messages}),
            "transactions": [t.as_dict() for t in self.transactions],
        }


def _cseq(m) -> int | None:
    try:
        return m.cseq.seq
    except (ParseError, AttributeError):
        return None


def _cseq_method(m) -> str | None:
    try:
        return m.cseq.method
    except (ParseError, AttributeError):
        return None


def _branch(m) -> str | None:
    try:
        return m.top_via.branch
    except (ParseError, AttributeError, IndexError):
        return None


def _sdp_codecs(m) -> list[str] | None:
    body = m.body
    if not body:
        return None
    try:
        if not (m.content_type or "").lower().startswith("application/sdp"):
            return None
        sdp = parse_sdp(body, lenient=True)
    except (ParseError, ValueError):
        return None
    names: list[str] = []
    for media in sdp.media:
        if media.port == 0:
            continue
        if not media.is_rtp:
            names.append(f"{media.media}/{media.proto}".lower() + (f" {' '.join(media.formats)}"))
            continue
        try:
            maps = {pt: (rm.encoding, rm.clock_rate) for pt, rm in media.rtpmaps.items()}
        except ValueError:
            maps = {}
        names += [codec_name(pt, maps) for pt in media.payload_types]
    return names


def mark_retransmissions(messages: list[SipPacket]) -> list[bool]:
    """tshark's ``sip.resend`` (:mod:`sipclient.pcap.retransmissions`, rule "tshark"), so
    the summary's retransmissions are tshark's, frame by frame."""
    return retransmissions.mark_retransmissions(
        ((p.src, p.dst, p.transport, p.message, None) for p in messages), rule="tshark")


def dialogs(capture: Capture) -> list[Dialog]:
    """The capture's SIP by Call-ID, in order of first appearance."""
    by_id: dict[str, Dialog] = {}
    flags = mark_retransmissions(capture.sip)
    for p, resend in zip(capture.sip, flags):
        try:
            call_id = p.message.call_id
        except ParseError:
            call_id = "(no Call-ID)"
        d = by_id.get(call_id)
        if d is None:
            d = by_id[call_id] = Dialog(call_id)
        d.messages.append(p)
        d.retransmission.append(resend)
    for d in by_id.values():
        d.transactions = _transactions(d.messages)
    return list(by_id.values())


def _transactions(messages: list[SipPacket]) -> list[Transaction]:
    """RFC 3261 17.1.3/17.2.3: branch + CSeq method; ACK to a non-2xx joins the INVITE's
    transaction (same branch); without a branch (RFC 2543 peers) CSeq alone."""
    found: dict[tuple, Transaction] = {}
    order: list[Transaction] = []
    for p in messages:
        m = p.message
        method = _cseq_method(m) or (m.method if isinstance(m, Request) else "?")
        seq = _cseq(m) or 0
        branch = _branch(m)
        tx_method = method
        if method == "ACK":
            invite = found.get((branch, "INVITE", seq if branch is None else None))
            if invite is not None and (invite.final or 0) >= 300:
                tx_method = "INVITE"
        key = (branch, tx_method, seq if branch is None else None)
        t = found.get(key)
        if t is None:
            t = found[key] = Transaction(tx_method, seq, branch)
            order.append(t)
        t.messages.append(p)
    return order
