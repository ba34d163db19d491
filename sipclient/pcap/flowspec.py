"""Flows as values: what a capture's dialogs did, with the volatile parts normalised away.

:func:`observe` turns SIP packets (anything with ``frame``, ``time``, ``src``, ``dst`` and
``message``, such as :class:`sipclient.pcap.read.SipPacket`) into one :class:`DialogFlow` per
Call-ID, in order of first appearance. Each :class:`Observed` message keeps only what
``pcap validate`` compares: its kind (method, or status and the CSeq method), which side sent
it (``A`` sent the dialog's first message, ``B`` is the other), the rank of its CSeq number
(1st, 2nd ... number used by the requesting side: the order, not the absolute value), the
chosen headers in a normal form, the SDP's codecs and directions, and its time since the
dialog's first message. Call-IDs, tags, branches, nonces, addresses, ports and timestamps
are gone. Retransmissions (same sender, same transaction, same message kind) are dropped.

:class:`Expected` items describe what a flow should be: built from a golden capture
(:func:`expect_from_observed`) or read from a flow description file (:func:`load_flow_file`,
YAML, format in captures/README.md). Flow items use the syntax of the scenarios'
``expect_flow`` (one parser, :mod:`sipclient.pcap.flowpattern`): ``"183?"`` optional,
``"180|183"`` either, ``"1xx"`` any provisional, ``"18x"`` 180 to 189, ``"100*"`` zero or
more, ``"100+"`` one or more.

Pure: no I/O besides reading the flow file's text given to :func:`parse_flow_text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from sipclient.media.sdp import parse_sdp
from sipclient.pcap.flowpattern import FlowItem, parse_item
from sipclient.pcap.retransmissions import transaction_key
from sipclient.proto.errors import ParseError
from sipclient.proto.message import REASON_PHRASES, Request, Response

__all__ = ["DEFAULT_HEADERS", "DialogFlow", "Expected", "ExpectedDialog", "FlowFileError",
           "MediaView", "Observed", "PacketLike", "Pattern", "expect_from_observed",
           "load_flow_file", "normalise_header", "observe", "parse_flow_text", "parse_pattern",
           "flow_to_yaml"]

#: Headers compared by default (normal forms in :func:`normalise_header`).
DEFAULT_HEADERS: tuple[str, ...] = ("Expires", "Content-Type", "Allow", "WWW-Authenticate",
                                    "Proxy-Authenticate")


class PacketLike(Protocol):
    frame: int
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    message: Request | Response


# --------------------------------------------------------------------------- normal forms

_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_VOLATILE_PARAM = re.compile(r"(?i)\b(tag|branch|nonce|cnonce|response|opaque|received|rport"
                             r"|expires|epid|ob|x-ast-orig-host|\+sip\.instance)=(\"[^\"]*\"|[^;,>\s]*)")
_PORT = re.compile(r"(<ip>):\d+")


def _scrub(value: str) -> str:
    """Generic normal form: volatile parameters, addresses and ports replaced by ``*``."""
    value = _VOLATILE_PARAM.sub(lambda m: f"{m.group(1).lower()}=*", value)
    value = _IPV6.sub("<ip>", value)
    value = _IPV4.sub("<ip>", value)
    value = _PORT.sub(r"\1:<port>", value)
    return " ".join(value.split())


def _challenge_form(values: Sequence[str], header: str) -> str:
    from sipclient.proto.digest import parse_challenge

    out = []
    for value in values:
        try:
            ch = parse_challenge(value, header=header)
        except ParseError:
            out.append(_scrub(value))
            continue
        qop = ",".join(sorted(ch.qop)) or "none"
        out.append(f"{ch.scheme} realm={ch.realm} qop={qop} algorithm={ch.algorithm or 'MD5'}"
                   + (" stale=true" if ch.stale else ""))
    return " | ".join(out)


def normalise_header(name: str, values: Sequence[str]) -> str:
    """The compared form of a header's values (all lines of it), e.g. ``Allow`` as a sorted
    method list, ``WWW-Authenticate`` as ``Digest realm=.. qop=.. algorithm=..``."""
    key = name.lower()
    if key in ("www-authenticate", "proxy-authenticate"):
        return _challenge_form(values, name)
    if key in ("allow", "supported", "require", "allow-events", "accept"):
        items = {v.strip() for value in values for v in value.split(",") if v.strip()}
        if key == "allow":
            items = {v.upper() for v in items}
        return ", ".join(sorted(items))
    if key == "content-type":
        return ", ".join(v.split(";")[0].strip().lower() for v in values)
    if key in ("expires", "min-expires", "max-forwards", "session-expires"):
        return ", ".join(v.split(";")[0].strip() for v in values)
    return _scrub(", ".join(values))


# --------------------------------------------------------------------------- observed flows

@dataclass(frozen=True)
class MediaView:
    """One m= line as compared: media type, codec names in order, direction."""

    media: str
    codecs: tuple[str, ...]  # encoding names, telephone-event left out
    direction: str
    telephone_event: bool | None = None  # RFC 4733 events offered/accepted (None: not checked)

    def describe(self) -> str:
        events = " +telephone-event" if self.telephone_event else ""
        return f"{self.media} [{', '.join(self.codecs)}]{events} {self.direction}".rstrip()


def sdp_view(body: bytes) -> tuple[MediaView, ...] | None:
    """Codecs and direction of each m= line of an SDP body (None when it does not parse)."""
    try:
        sdp = parse_sdp(body, lenient=True)
    except (ValueError, IndexError):
        return None
    out = []
    for i, m in enumerate(sdp.media):
        codecs = []
        events = False
        for pt in m.payload_types:
            rm = m.rtpmap(pt)
            name = rm.encoding.upper() if rm is not None else str(pt)
            if name == "TELEPHONE-EVENT":
                events = True
            else:
                codecs.append(name)
        if not m.is_rtp:
            codecs = list(m.formats)
        direction = "inactive" if m.port == 0 else sdp.media_direction(i)
        out.append(MediaView(m.media, tuple(codecs), direction, events))
    return tuple(out)


def label_of(status: int | None, method: str) -> str:
    if status is None:
        return method
    reason = REASON_PHRASES.get(status)
    return f"{status} {reason}" if reason else str(status)


@dataclass(frozen=True)
class Observed:
    """One message of a dialog, normalised (see the module doc)."""

    index: int  # 1-based within the dialog, retransmissions not counted
    method: str  # the request's method, or the CSeq method of a response
    status: int | None  # None for a request
    side: str  # "A" (sent the dialog's first message) or "B"
    cseq_rank: int  # 1 for the requesting side's first CSeq number, 2 for its next ...
    headers: dict[str, str]  # chosen header (lower-case name) -> normal form; absent: missing
    sdp: tuple[MediaView, ...] | None
    sdp_role: str | None  # "offer" | "answer" | None
    time: float  # seconds since the dialog's first message
    frame: int | None = None
    reason: str = ""

    @property
    def kind(self) -> str:
        return self.method if self.status is None else str(self.status)

    @property
    def label(self) -> str:
        return label_of(self.status, self.method)


@dataclass(frozen=True)
class DialogFlow:
    """The normalised messages of one Call-ID."""

    number: int  # 1-based, in order of first appearance
    call_id: str
    messages: tuple[Observed, ...]
    retransmissions: int = 0

    @property
    def kind(self) -> str:
        for m in self.messages:
            if m.status is None:
                return m.method
        return self.messages[0].method if self.messages else "?"

    @property
    def flow(self) -> list[str]:
        return [m.kind for m in self.messages]

    @property
    def answer_delay(self) -> float | None:
        """Seconds from the dialog's first message to the first 2xx to INVITE."""
        for m in self.messages:
            if m.status is not None and 200 <= m.status < 300 and m.method == "INVITE":
                return m.time
        return None


def _header_values(msg: Request | Response, name: str) -> list[str]:
    return list(msg.headers.get_lines(name))


def observe(packets: Iterable[PacketLike], headers: Sequence[str] = DEFAULT_HEADERS,
            ) -> list[DialogFlow]:
    """Group SIP packets by Call-ID (order of first appearance) and normalise each message.

    Messages without a readable Call-ID or CSeq are skipped (they cannot be placed).
    """
    chosen = [h.lower() for h in headers]
    by_call: dict[str, list[PacketLike]] = {}
    for p in packets:
        try:
            cid = p.message.call_id
            p.message.cseq  # noqa: B018 - placing a message needs its CSeq
        except (ParseError, AttributeError):
            continue
        by_call.setdefault(cid, []).append(p)
    flows = []
    for number, (cid, pkts) in enumerate(by_call.items(), 1):
        flows.append(_observe_dialog(number, cid, pkts, chosen))
    return flows


def _observe_dialog(number: int, call_id: str, pkts: list[PacketLike],
                    chosen: list[str]) -> DialogFlow:
    first_src = tuple(pkts[0].src)
    t0 = pkts[0].time
    seen: set[tuple] = set()
    ranks: dict[str, dict[int, int]] = {"A": {}, "B": {}}
    offers: dict[tuple[str, int, str], bool] = {}  # (requester, cseq, method) -> had SDP
    out: list[Observed] = []
    retrans = 0
    for p in pkts:
        msg = p.message
        side = "A" if tuple(p.src) == first_src else "B"
        key = (side, *transaction_key(msg))  # RFC 3261 (sipclient.pcap.retransmissions)
        if key in seen:
            retrans += 1
            continue
        seen.add(key)
        cseq = msg.cseq
        is_req = isinstance(msg, Request)
        requester = side if is_req else ("B" if side == "A" else "A")
        rank_map = ranks[requester]
        if cseq.seq not in rank_map:
            rank_map[cseq.seq] = len(rank_map) + 1
        heads = {}
        for h in chosen:
            values = _header_values(msg, h)
            if values:
                heads[h] = normalise_header(h, values)
        sdp = role = None
        ctype = (msg.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if msg.body and ctype == "application/sdp":
            sdp = sdp_view(msg.body)
            tkey = (requester, cseq.seq, cseq.method)
            if is_req:
                role = "answer" if msg.method in ("ACK", "PRACK") else "offer"
                offers[tkey] = True
            else:
                role = "answer" if offers.get(tkey) else "offer"
        out.append(Observed(
            index=len(out) + 1, method=msg.method if is_req else cseq.method,
            status=None if is_req else msg.status, side=side, cseq_rank=rank_map[cseq.seq],
            headers=heads, sdp=sdp, sdp_role=role, time=round(p.time - t0, 6),
            frame=getattr(p, "frame", None), reason="" if is_req else msg.reason))
    return DialogFlow(number, call_id, tuple(out), retrans)


# --------------------------------------------------------------------------- expectations

#: a flow item (the syntax of the scenarios' expect_flow: :mod:`sipclient.pcap.flowpattern`)
Pattern = FlowItem


def parse_pattern(item: str | int) -> Pattern:
    """``"INVITE"``, ``200``, ``"183?"``, ``"180|183"``, ``"1xx"``, ``"18x"``, ``"100*"``,
    ``"100+"``: ValueError (:class:`FlowPatternError`) for anything else."""
    return parse_item(item)


@dataclass(frozen=True)
class Expected:
    """What one message of a flow should be. ``None`` in a field: not checked."""

    pattern: Pattern
    method: str | None = None  # for responses: the CSeq method
    side: str | None = None
    cseq_rank: int | None = None
    headers: dict[str, str | None] = field(default_factory=dict)  # None: must be absent
    sdp: tuple[MediaView, ...] | None = None
    sdp_absent: bool = False  # a golden message without SDP: the run must have none either
    strict_headers: bool = False  # golden: a chosen header the golden lacks must be absent
    at: tuple[float, float] | None = None  # seconds since the dialog's first message
    line: int | None = None  # in the flow file

    def matches(self, obs: Observed) -> bool:
        if not self.pattern.matches(obs.kind):
            return False
        return self.method is None or obs.status is None or obs.method == self.method

    @property
    def label(self) -> str:
        atoms = self.pattern.alternatives
        if len(atoms) == 1 and not self.pattern.quantifier:
            a = atoms[0]
            return label_of(int(a), self.method or "") if a.isdigit() else a
        return str(self.pattern)


@dataclass(frozen=True)
class ExpectedDialog:
    items: tuple[Expected, ...]
    kind: str | None = None
    answer_delay: tuple[float, float] | None = None
    line: int | None = None
    source: str = ""  # "golden" or the flow file's path


def expect_from_observed(flows: Sequence[DialogFlow], *, headers: bool = True,
                         answer_tolerance: float | None = 1.0,
                         time_tolerance: float | None = None,
                         optional: Iterable[str] = ()) -> list[ExpectedDialog]:
    """A golden capture's flows as expectations: every message exactly, its side, CSeq
    order, chosen headers (present and absent), SDP codecs and directions; the answer delay
    within ``answer_tolerance`` seconds and, when given, each message's time within
    ``time_tolerance``. Kinds listed in ``optional`` (e.g. ``"100"``) may be missing."""
    opt = {str(o).upper() for o in optional}
    out = []
    for flow in flows:
        items = []
        for m in flow.messages:
            quant = "?" if m.kind.upper() in opt else ""
            at = None
            if time_tolerance is not None:
                at = (max(0.0, m.time - time_tolerance), m.time + time_tolerance)
            heads: dict[str, str | None] = {}
            if headers:
                heads = dict(m.headers)
            items.append(Expected(
                pattern=Pattern.exactly(m.kind, optional=bool(quant)), method=m.method, side=m.side,
                cseq_rank=m.cseq_rank, headers=heads, sdp=m.sdp, sdp_absent=m.sdp is None,
                strict_headers=headers, at=at))
        delay = flow.answer_delay
        bounds = None
        if delay is not None and answer_tolerance is not None:
            bounds = (max(0.0, delay - answer_tolerance), delay + answer_tolerance)
        out.append(ExpectedDialog(tuple(items), kind=flow.kind, answer_delay=bounds,
                                  source="golden"))
    return out


# --------------------------------------------------------------------------- flow files

class FlowFileError(ValueError):
    """A flow description file is wrong: ``file:line: what``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


def load_flow_file(path: str | Path) -> list[ExpectedDialog]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowFileError(str(p), None, f"cannot read: {getattr(exc, 'strerror', None) or exc}"
                            ) from None
    return parse_flow_text(text, str(p))


def _bounds(node: Any, where: str, line: int | None, what: str) -> tuple[float, float]:
    import yaml

    if isinstance(node, yaml.SequenceNode) and len(node.value) == 2:
        try:
            lo, hi = (float(n.value) for n in node.value)
        except (ValueError, TypeError, AttributeError):
            lo = hi = -1.0
        if 0 <= lo <= hi:
            return lo, hi
    raise FlowFileError(where, line, f"{what} must be [min, max] seconds, e.g. [2.5, 4]")


def parse_flow_text(text: str, where: str = "<flow>") -> list[ExpectedDialog]:
    """Parse a flow description (YAML)::

        dialogs:
          - kind: INVITE                 # optional: the dialog's first request
            answer_delay: [2, 5]         # optional: first INVITE -> its 2xx, seconds
            flow:
              - INVITE: {sdp: [{media: audio, codecs: [PCMU, PCMA], direction: sendrecv}]}
              - "401": {headers: {WWW-Authenticate: "Digest realm=asterisk qop=auth algorithm=MD5"}}
              - ACK
              - "100?"
              - "183": {sdp: {codecs: [PCMU]}}
              - "200": {at: [2.5, 4.5], method: INVITE}
              - BYE: {from: A}

    Errors name the file and line.
    """
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FlowFileError(where, mark.line + 1 if mark else None,
                            f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise FlowFileError(where, 1, "a flow file is a mapping with a 'dialogs' list")
    top = {k.value: (k, v) for k, v in root.value}
    for key, (knode, _) in top.items():
        if key not in ("dialogs", "description", "name"):
            raise FlowFileError(where, knode.start_mark.line + 1,
                                f"unknown key {key!r} (dialogs, name, description)")
    if "dialogs" not in top or not isinstance(top["dialogs"][1], yaml.SequenceNode):
        raise FlowFileError(where, 1, "'dialogs' must be a list of dialogs")
    out = []
    for dnode in top["dialogs"][1].value:
        out.append(_parse_dialog(dnode, where))
    if not out:
        raise FlowFileError(where, top["dialogs"][1].start_mark.line + 1, "no dialogs")
    return out


def _line(node: Any) -> int:
    return node.start_mark.line + 1


def _parse_dialog(dnode: Any, where: str) -> ExpectedDialog:
    import yaml

    if not isinstance(dnode, yaml.MappingNode):
        raise FlowFileError(where, _line(dnode), "a dialog is a mapping with a 'flow' list")
    d = {k.value: (k, v) for k, v in dnode.value}
    for key, (knode, _) in d.items():
        if key not in ("flow", "kind", "answer_delay", "name"):
            raise FlowFileError(where, _line(knode),
                                f"unknown dialog key {key!r} (flow, kind, answer_delay, name)")
    if "flow" not in d or not isinstance(d["flow"][1], yaml.SequenceNode) \
            or not d["flow"][1].value:
        raise FlowFileError(where, _line(dnode), "a dialog needs a non-empty 'flow' list")
    kind = d["kind"][1].value.upper() if "kind" in d else None
    delay = _bounds(d["answer_delay"][1], where, _line(d["answer_delay"][1]),
                    "answer_delay") if "answer_delay" in d else None
    items = tuple(_parse_item(n, where) for n in d["flow"][1].value)
    return ExpectedDialog(items, kind=kind, answer_delay=delay, line=_line(dnode), source=where)


def _parse_item(node: Any, where: str) -> Expected:
    import yaml

    line = _line(node)
    opts: dict[str, Any] = {}
    if isinstance(node, yaml.ScalarNode):
        text = node.value
    elif isinstance(node, yaml.MappingNode) and len(node.value) == 1 \
            and isinstance(node.value[0][0], yaml.ScalarNode):
        text = node.value[0][0].value
        body = node.value[0][1]
        if not isinstance(body, yaml.MappingNode):
            raise FlowFileError(where, line, f"the checks of {text!r} must be a mapping "
                                             f"(headers, sdp, at, from, method)")
        opts = {k.value: v for k, v in body.value}
    else:
        raise FlowFileError(where, line, "a flow item is a string like INVITE, 200, '183?' "
                                         "or a one-key mapping {200: {checks}}")
    try:
        pattern = parse_pattern(text)
    except ValueError as exc:
        raise FlowFileError(where, line, str(exc)) from None
    for key, v in opts.items():
        if key not in ("headers", "sdp", "at", "from", "method"):
            raise FlowFileError(where, _line(v), f"unknown check {key!r} "
                                                 f"(headers, sdp, at, from, method)")
    headers: dict[str, str | None] = {}
    if "headers" in opts:
        hnode = opts["headers"]
        if not isinstance(hnode, yaml.MappingNode):
            raise FlowFileError(where, _line(hnode), "headers must be a mapping Name: value")
        for k, v in hnode.value:
            value = None if v.tag.endswith(":null") else str(v.value)
            headers[k.value.lower()] = (normalise_header(k.value, [value])
                                        if value is not None else None)
    sdp = None
    if "sdp" in opts:
        sdp = _parse_sdp_check(opts["sdp"], where)
    at = _bounds(opts["at"], where, _line(opts["at"]), "at") if "at" in opts else None
    side = None
    if "from" in opts:
        side = str(opts["from"].value).upper()
        if side not in ("A", "B"):
            raise FlowFileError(where, _line(opts["from"]),
                                "from must be A (the dialog's first sender) or B")
    method = str(opts["method"].value).upper() if "method" in opts else None
    return Expected(pattern, method=method, side=side, headers=headers, sdp=sdp, at=at,
                    line=line)


def _parse_sdp_check(node: Any, where: str) -> tuple[MediaView, ...]:
    import yaml

    nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out = []
    for n in nodes:
        if not isinstance(n, yaml.MappingNode):
            raise FlowFileError(where, _line(n), "sdp is {codecs: [..], direction: ..} "
                                                 "or a list of them (one per m= line)")
        d = {k.value: v for k, v in n.value}
        for key in d:
            if key not in ("media", "codecs", "direction", "telephone_event"):
                raise FlowFileError(where, _line(n), f"unknown sdp key {key!r} "
                                                     f"(media, codecs, direction, telephone_event)")
        codecs: tuple[str, ...] = ()
        if "codecs" in d:
            if not isinstance(d["codecs"], yaml.SequenceNode):
                raise FlowFileError(where, _line(d["codecs"]), "codecs must be a list")
            codecs = tuple(str(c.value).upper() for c in d["codecs"].value)
        events = None
        if "telephone_event" in d:
            value = str(d["telephone_event"].value).lower()
            if value not in ("true", "false"):
                raise FlowFileError(where, _line(d["telephone_event"]),
                                    "telephone_event must be true or false")
            events = value == "true"
        direction = str(d["direction"].value) if "direction" in d else ""
        if direction and direction not in ("sendrecv", "sendonly", "recvonly", "inactive"):
            raise FlowFileError(where, _line(d["direction"]), f"unknown direction {direction!r}")
        out.append(MediaView(str(d["media"].value) if "media" in d else "audio", codecs,
                             direction, events))
    return tuple(out)


def flow_to_yaml(flows: Sequence[DialogFlow], *, answer_tolerance: float = 1.0) -> str:
    """A flow description file for ``flows`` (e.g. a golden capture's), to edit by hand."""
    import yaml

    dialogs = []
    for flow in flows:
        items: list[Any] = []
        for m in flow.messages:
            checks: dict[str, Any] = {}
            if m.status is not None and m.method != flow.kind:
                checks["method"] = m.method
            if m.headers:
                checks["headers"] = {k.title().replace("Www-", "WWW-"): v
                                     for k, v in m.headers.items()}
            if m.sdp is not None:
                checks["sdp"] = [{"media": v.media, "codecs": list(v.codecs),
                                  "direction": v.direction,
                                  "telephone_event": bool(v.telephone_event)} for v in m.sdp]
            items.append({m.kind: checks} if checks else m.kind)
        d: dict[str, Any] = {"kind": flow.kind}
        if flow.answer_delay is not None:
            d["answer_delay"] = [round(max(0.0, flow.answer_delay - answer_tolerance), 3),
                                 round(flow.answer_delay + answer_tolerance, 3)]
        d["flow"] = items
        dialogs.append(d)
    return yaml.safe_dump({"dialogs": dialogs}, sort_keys=False, default_flow_style=None,
                          width=100)
