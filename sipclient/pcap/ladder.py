"""Ladder (sequence) diagrams of SIP messages, drawn as text like sngrep's call flow.

The model is a list of :class:`LadderMessage` values (one per SIP message on the wire, in
capture or trace order); :func:`from_trace` builds it from agents' traces
(``sipclient.agent.trace.TraceEntry``, read by duck typing: this layer sits below the agent)
and :func:`from_capture` from a capture read by :mod:`sipclient.pcap.read`.
:func:`render_text` draws it: one column per participant, an arrow per message with its
label above and its time offset on the left, retransmissions marked, RTP streams as ``=``
bands with their statistics. Pure: no I/O, no clock, the same input gives the same text.

                         alice                 asterisk
                    127.0.0.1:40000         127.0.0.1:7048
                           |                       |
                           | INVITE sip:600@lab    |
       +0.000              |---------------------->|
                           | 401 Unauthorized      |
       +0.004              |<----------------------|

A retransmission is a message that repeats an earlier one between the same two parties in
the same transaction (start line, top Via, CSeq, From, To and body alike: RFC 3261 17.1.1.2,
17.2.1; :mod:`sipclient.pcap.retransmissions`). That marks a repeated CANCEL too, which tshark's ``sip.resend`` (and the summary,
which follows tshark) does not count: tshark compares a CSeq with the previous one of that
direction only, and a CANCEL carries its INVITE's number. Control characters in labels and
names are drawn as ``?``: a capture cannot send escape sequences to the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response, parse_message
from sipclient.pcap import retransmissions

__all__ = ["LadderMessage", "Layout", "addr_text", "from_capture", "from_trace", "label_of",
           "layout", "mark_retransmissions", "render_text", "stream_label"]

RETRANSMISSION = " (retransmission)"
_TIME_WIDTH = 11  # "  +123.456 "
_MIN_CELL = 16


@dataclass(frozen=True)
class LadderMessage:
    """One SIP message: ``src``/``dst`` as ``"ip:port"`` (``"[v6]:port"`` for IPv6),
    ``label`` its start line without the version (``"INVITE sip:600@lab"``,
    ``"401 Unauthorized"``), ``text`` the whole message as sent."""

    time: float
    src: str
    dst: str
    label: str
    text: str
    call_id: str | None
    transport: str
    #: the parsed message (parsed once, by the capture reader or the live stack)
    message: Request | Response | None = field(default=None, compare=False, repr=False)


# -- building ------------------------------------------------------------------------------
def addr_text(addr: Any) -> str:
    """``("10.0.0.1", 5060)`` -> ``"10.0.0.1:5060"``, IPv6 in brackets; text kept as is."""
    if isinstance(addr, str):
        return addr
    host, port = addr[0], addr[1]
    host = str(host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _host(addr: str) -> str:
    host = addr.rsplit(":", 1)[0] if addr.count(":") == 1 or addr.startswith("[") else addr
    return host.strip("[]")


def label_of(message: Request | Response | None, data: bytes = b"") -> str:
    """The arrow's label: the start line without ``SIP/2.0``."""
    if isinstance(message, Response):
        return f"{message.status} {message.reason}".rstrip()
    if isinstance(message, Request):
        return f"{message.method} {message.uri}"
    first = data.split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    return first[:60] if first else f"<{len(data)} bytes>"


def _message_of(data: bytes) -> Request | Response | None:
    try:
        return parse_message(data)
    except ParseError:
        return None


def _call_id(message: Request | Response | None) -> str | None:
    if message is None:
        return None
    try:
        return message.call_id
    except ParseError:
        return None


def _ladder_message(time: float, src: Any, dst: Any, data: bytes,
                    message: Request | Response | None, transport: str) -> LadderMessage:
    if message is None:
        message = _message_of(data)
    return LadderMessage(time=float(time), src=addr_text(src), dst=addr_text(dst),
                         label=label_of(message, data),
                         text=data.decode("utf-8", "replace"), call_id=_call_id(message),
                         transport=str(transport).upper(), message=message)


def from_trace(entries: Iterable[Any] | Mapping[str, Iterable[Any]],
               names: dict[str, str] | None = None) -> list[LadderMessage]:
    """Ladder messages from ``TraceEntry`` objects (``time, direction, transport, local,
    remote, data, message``), in time order.

    ``entries`` is one trace, or a mapping ``{agent name: trace}`` for several agents of one
    run: a message from one of them to another appears in both traces (sent and received)
    and is drawn once, at its sending time. With a mapping, ``names`` (when given) is filled
    with each agent's local ``"ip:port"`` -> agent name, ready for :func:`render_text`.
    """
    if isinstance(entries, Mapping):
        tagged = [(name, e) for name, trace in entries.items() for e in trace]
    else:
        tagged = [(None, e) for e in entries]
    tagged.sort(key=lambda item: item[1].time)  # stable: equal times keep trace order
    sent: dict[tuple[str, str, bytes], list[int]] = {}
    out: list[tuple[float, int, LadderMessage]] = []
    for index, (agent, e) in enumerate(tagged):
        if e.direction == "out":
            src, dst = addr_text(e.local), addr_text(e.remote)
        else:
            src, dst = addr_text(e.remote), addr_text(e.local)
        if agent is not None and names is not None:
            names.setdefault(addr_text(e.local), agent)
        key = (src, dst, bytes(e.data))
        if e.direction == "in" and sent.get(key):
            sent[key].pop(0)  # the receiving side of a message already drawn
            continue
        if e.direction == "out":
            sent.setdefault(key, []).append(index)
        out.append((e.time, index, _ladder_message(e.time, src, dst, bytes(e.data),
                                                   e.message, e.transport)))
    return [m for _, _, m in out]


def from_capture(capture: Any, call_id: str | None = None) -> list[LadderMessage]:
    """Ladder messages of a capture read by :func:`sipclient.pcap.read.read_capture`
    (its ``sip`` packets: ``time, src, dst, transport, message, raw``), only those of
    ``call_id`` when given."""
    out = []
    for p in capture.sip:
        m = _ladder_message(p.time, p.src, p.dst, bytes(p.raw), p.message, p.transport)
        if call_id is None or m.call_id == call_id:
            out.append(m)
    return out


# -- retransmissions ------------------------------------------------------------------------
def mark_retransmissions(messages: Iterable[LadderMessage]) -> list[bool]:
    """For each message, whether it repeats an earlier one between the same two parties:
    same start line, top Via (branch), CSeq, From, To and body (RFC 3261 17.1.1.2, 17.2.1;
    the rule of :mod:`sipclient.pcap.retransmissions`)."""
    return retransmissions.mark_retransmissions(
        (m.src, m.dst, m.transport, m.message if m.message is not None else
         _message_of(m.text.encode("utf-8", "surrogateescape")), m.text) for m in messages)


# -- streams --------------------------------------------------------------------------------
def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj and obj[name] is not None:
                return obj[name]
        else:
            value = getattr(obj, name, None)
            if value is not None:
                return value
    return default


def _stream_time(stream: Any) -> float | None:
    t = _get(stream, "first_time", "start_time", "first", "start", "time")
    return float(t) if t is not None else None


def stream_label(stream: Any) -> str:
    """``"RTP PCMU ssrc=0x1234abcd 250 pkts, 0 lost, jitter 0.31/1.20 ms, MOS 4.40"``."""
    codec = _get(stream, "codec", default=None)
    pt = _get(stream, "payload_type", default=None)
    what = codec or (f"PT {pt}" if pt is not None else "?")
    parts = [f"RTP {what}"]
    ssrc = _get(stream, "ssrc")
    if ssrc is not None:
        parts[0] += f" ssrc={ssrc:#010x}" if isinstance(ssrc, int) else f" ssrc={ssrc}"
    stats = []
    packets = _get(stream, "packets")
    if packets is not None:
        stats.append(f"{packets} pkts")
    lost = _get(stream, "lost")
    if lost is not None:
        stats.append(f"{lost} lost")
    mean, peak = _get(stream, "mean_jitter_ms"), _get(stream, "max_jitter_ms")
    if mean is not None or peak is not None:
        text = "/".join(f"{v:.2f}" for v in (mean, peak) if v is not None)
        stats.append(f"jitter {text} ms")
    mos = _get(stream, "mos")
    if mos is not None:
        stats.append(f"MOS {mos:.2f}")
    return parts[0] + (" " + ", ".join(stats) if stats else "")


# -- drawing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Event:
    time: float | None
    src: str
    dst: str
    label: str
    band: bool  # an RTP stream


def _participants(events: list[_Event]) -> list[str]:
    order: list[str] = []
    for e in events:
        if e.band:
            continue
        for a in (e.src, e.dst):
            if a not in order:
                order.append(a)
    return order


def _column_of(addr: str, columns: list[str]) -> str:
    """An RTP address goes to the SIP participant at that address, else on that host."""
    if addr in columns:
        return addr
    host = _host(addr)
    for c in columns:
        if _host(c) == host:
            return c
    columns.append(addr)
    return addr


def _name(addr: str, names: Mapping[str, str] | None) -> str:
    if not names:
        return addr
    return names.get(addr) or names.get(_host(addr)) or addr


# control characters (C0, DEL, C1) shown as "?": a capture must not drive the terminal
_CONTROLS = {c: "?" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def _printable(text: str) -> str:
    return text.translate(_CONTROLS)


def _fit(text: str, room: int) -> str:
    if room <= 0:
        return ""
    if len(text) <= room:
        return text
    return text[: max(room - 2, 0)] + ".." if room > 2 else text[:room]


def _place(line: list[str], start: int, text: str) -> None:
    for i, ch in enumerate(text):
        if 0 <= start + i < len(line):
            line[start + i] = ch


@dataclass(frozen=True)
class Layout:
    """What both drawings need: participants (columns, in order of appearance; an RTP
    stream's address joins the SIP participant on that host), and the rows in time order:
    ``(event, message index or None, stream or None)``; ``t0`` the earliest time."""

    columns: list[str]
    rows: list[tuple[_Event, int | None, Any]]
    t0: float


def layout(messages: list[LadderMessage], streams: Iterable[Any] = ()) -> Layout:
    retrans = mark_retransmissions(messages)
    rows: list[tuple[_Event, int | None, Any]] = [
        (_Event(m.time, m.src, m.dst, m.label + (RETRANSMISSION if r else ""), False), i, None)
        for i, (m, r) in enumerate(zip(messages, retrans))]
    columns = _participants([e for e, _, _ in rows])
    for s in streams:
        src = _column_of(addr_text(_get(s, "src", default="?")), columns)
        dst = _column_of(addr_text(_get(s, "dst", default="?")), columns)
        rows.append((_Event(_stream_time(s), src, dst, stream_label(s), True), None, s))
    times = [e.time for e, _, _ in rows if e.time is not None]
    t0 = min(times) if times else 0.0
    last = max(times) if times else 0.0
    # stable: equal times keep their order; a stream without times goes after everything
    rows.sort(key=lambda row: last + 1 if row[0].time is None else row[0].time)
    return Layout(columns, rows, t0)


def render_text(messages: Iterable[LadderMessage], names: dict[str, str] | None = None,
                width: int = 100, streams: Iterable[Any] = ()) -> str:
    """The ladder as text, ``width`` columns wide (wider when there are too many
    participants to fit: each gets at least 16 columns).

    ``names`` maps ``"ip:port"`` (or a bare ip) to a participant's name. ``streams`` are RTP
    streams (objects or dicts with ``src``, ``dst``, ``codec``, ``payload_type``, ``ssrc``,
    ``packets``, ``lost``, ``mean_jitter_ms``, ``max_jitter_ms``, ``mos``, ``first_time``):
    each is drawn as a ``=`` band between the participants at those addresses (or hosts),
    at its first packet's time.
    """
    plan = layout(list(messages), streams)
    columns, t0 = plan.columns, plan.t0
    events = [e for e, _, _ in plan.rows]
    if not events:
        return "(no SIP messages)\n"

    n = len(columns)
    cell = max(_MIN_CELL, (width - _TIME_WIDTH) // max(n, 1))
    total = _TIME_WIDTH + cell * n
    x = {addr: _TIME_WIDTH + cell * i + cell // 2 for i, addr in enumerate(columns)}

    def blank() -> list[str]:
        line = [" "] * total
        for pos in x.values():
            line[pos] = "|"
        return line

    def header(texts: list[str]) -> str:
        line = [" "] * total
        for addr, text in zip(columns, texts):
            text = _fit(_printable(text), cell - 1)
            _place(line, x[addr] - len(text) // 2, text)
        return "".join(line).rstrip()

    lines = []
    shown = [_name(a, names) for a in columns]
    named = any(s != a for s, a in zip(shown, columns))
    if max(len(a) for a in columns) < cell:
        lines.append(header(shown))
        if named:
            lines.append(header(columns))
    else:  # addresses too wide for their column: host on one line, ":port" below
        hosts = [a.rsplit(":", 1)[0] if ":" in a else a for a in columns]
        ports = [":" + a.rsplit(":", 1)[1] if ":" in a else "" for a in columns]
        if named:
            lines.append(header([s if s != a else "" for s, a in zip(shown, columns)]))
        lines.append(header(hosts))
        lines.append(header(ports))
    lines.append("".join(blank()).rstrip())
    for e in events:
        a, b = x[e.src], x[e.dst]
        label_line, arrow = blank(), blank()
        fill = "=" if e.band else "-"
        if a == b:  # to itself: a short loop to the right
            _place(arrow, a + 1, fill * 3 + "+")
            _place(label_line, a + 2, _fit(_printable(e.label), cell * 2))
        else:
            lo, hi = min(a, b), max(a, b)
            _place(arrow, lo + 1, fill * (hi - lo - 1))
            if b > a:
                arrow[hi - 1] = ">"
            else:
                arrow[lo + 1] = "<"
            # a long label runs on over the lifelines to its right, or starts further left
            text = _printable(e.label)
            start = max(_TIME_WIDTH, min(lo + 2, total - len(text)))
            room = total - start
            if text.endswith(RETRANSMISSION) and len(text) > room:
                base = text[: -len(RETRANSMISSION)]
                mark = RETRANSMISSION if room >= len(RETRANSMISSION) + 8 else " (rtx)"
                text = _fit(base, room - len(mark)) + mark
            _place(label_line, start, _fit(text, room))
        stamp = "" if e.time is None else f"{e.time - t0:+.3f}"
        _place(arrow, 0, stamp.rjust(_TIME_WIDTH - 2)[: _TIME_WIDTH - 2])
        lines.append("".join(label_line).rstrip())
        lines.append("".join(arrow).rstrip())
    return "\n".join(lines) + "\n"
