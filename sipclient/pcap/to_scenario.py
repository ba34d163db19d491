"""A recorded dialog as a scenario that replays it against a target (``pcap to-scenario``).

    text = to_scenario(capture.sip, "abc@host", side="caller", dtmf=capture.dtmf,
                       source="customer.pcap")

The scenario (docs/scenarios.md) plays one side of the dialog with a sipclient agent and
lets the target play the other: the same number called, the same codecs offered, DTMF sent
(RFC 4733 events from that side's media, or INFO with ``application/dtmf-relay``), hold and
resume where that side sent re-INVITEs with ``sendonly``/``inactive`` and then ``sendrecv``,
the hang-up (BYE or CANCEL) by the same side at about the same moment, and the response
codes expected as recorded. It ends with an ``expect_flow`` of the recorded flow as that side
saw it, made tolerant where a PBX legitimately differs: ``100`` optional, an authentication
challenge optional (``INVITE, "401|407?", "ACK?", "INVITE?"``), retransmissions left out.

Agents use ``account:`` placeholders (a comment says which user the capture had); waits are
the recorded ones, rounded to 0.1 s and capped at ``max_wait`` seconds each.

``side="callee"``: our agent registers and answers (or rejects with the recorded status); a
second agent calls it through the target.

Pure: takes SIP packets (``frame``, ``time``, ``src``, ``dst``, ``message``) and DTMF events
(``src``, ``digit``, ``start``), returns the YAML text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sipclient.media.codecs.registry import default_names, playable_names
from sipclient.media.sdp import parse_sdp
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

__all__ = ["ToScenarioError", "dialog_call_ids", "to_scenario"]

_HOLD = ("sendonly", "inactive")


class ToScenarioError(ValueError):
    """The capture cannot become a scenario (unknown Call-ID, not an INVITE dialog ...)."""


@dataclass
class _Event:
    time: float
    kind: str  # call, cancel, hold, unhold, dtmf, hangup, remote_hangup, answer, reject
    value: Any = None


def _q(value: Any) -> str:
    """A YAML scalar: JSON strings are valid YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(str(value))


def dialog_call_ids(packets: Iterable[Any]) -> list[tuple[str, str]]:
    """(Call-ID, first method) of every dialog, in order of appearance."""
    out: dict[str, str] = {}
    for p in packets:
        try:
            cid = p.message.call_id
        except (ParseError, AttributeError):
            continue
        if cid not in out:
            msg = p.message
            out[cid] = msg.method if isinstance(msg, Request) else msg.cseq.method
    return list(out.items())


def _sdp_of(msg: Request | Response):
    ctype = (msg.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if not msg.body or ctype != "application/sdp":
        return None
    try:
        return parse_sdp(msg.body, lenient=True)
    except (ValueError, IndexError):
        return None


def _codecs(sdp) -> list[str]:
    names = []
    for m in sdp.media[:1]:
        for pt in m.payload_types:
            rm = m.rtpmap(pt)
            if rm is not None:
                names.append(rm.encoding.upper())
    return names


def _media_addresses(sdp) -> set[tuple[str, int]]:
    out = set()
    for i, m in enumerate(sdp.media):
        conn = sdp.media_connection(i)
        if conn is not None and m.port:
            out.add((conn.address, m.port))
    return out


def _user(uri_text: str) -> str:
    text = uri_text.strip()
    if "<" in text:
        text = text[text.index("<") + 1:text.index(">")] if ">" in text else text[1:]
    text = text.split(":", 1)[1] if ":" in text else text
    return text.split("@", 1)[0].split(";", 1)[0] if "@" in text else ""


def _is_retransmission(msg: Request | Response, side: str, seen: set) -> bool:
    try:
        if isinstance(msg, Request):
            key = (side, msg.method, msg.cseq.seq, msg.top_via.branch)
        else:
            key = (side, msg.status, msg.cseq.seq, msg.cseq.method, msg.top_via.branch,
                   msg.to.tag)
    except (ParseError, IndexError, AttributeError):
        return False
    if key in seen:
        return True
    seen.add(key)
    return False


def _tolerant_flow(flow: list[str]) -> list[str]:
    """The recorded flow with what a PBX may legitimately do otherwise made optional."""
    out: list[str] = []
    i = 0
    while i < len(flow):
        item = flow[i]
        if item in ("401", "407") and out and not out[-1][0].isdigit():
            method = out[-1]
            out.append("401|407?")
            if method == "INVITE" and i + 1 < len(flow) and flow[i + 1] == "ACK":
                out.append("ACK?")
                i += 1
            if i + 1 < len(flow) and flow[i + 1] == method:
                out.append(f"{method}?")
                i += 1
            i += 1
            continue
        out.append("100?" if item == "100" else item)
        i += 1
    return out


def to_scenario(packets: Sequence[Any], call_id: str, *, side: str = "caller",
                dtmf: Iterable[Any] = (), source: str = "capture", account: str = "1001",
                peer_account: str = "1002", max_wait: float = 30.0) -> str:
    """The scenario text replaying ``call_id`` from ``side`` (``caller`` or ``callee``)."""
    if side not in ("caller", "callee"):
        raise ToScenarioError(f"side must be caller or callee, not {side!r}")
    pkts = []
    for p in packets:
        try:
            if p.message.call_id == call_id:
                pkts.append(p)
        except (ParseError, AttributeError):
            continue
    if not pkts:
        known = ", ".join(cid for cid, _ in dialog_call_ids(packets)[:10])
        raise ToScenarioError(f"no SIP message with Call-ID {call_id!r} in {source} "
                              f"(Call-IDs: {known or 'none'})")
    invite = next((p for p in pkts if isinstance(p.message, Request)
                   and p.message.method == "INVITE"), None)
    if invite is None:
        if any(isinstance(p.message, Request) and p.message.method == "REGISTER"
               for p in pkts):
            from sipclient.pcap.register_scenario import register_scenario

            return register_scenario(packets, call_id, source=source, account=account,
                                     max_wait=max_wait)
        raise ToScenarioError(f"Call-ID {call_id!r} is not a call (no INVITE) nor a "
                              f"registration: only calls and registrations can be replayed")
    caller_addr = tuple(invite.src)
    ours = "A" if side == "caller" else "B"

    def side_of(p: Any) -> str:
        return "A" if tuple(p.src) == caller_addr else "B"

    first = invite.message
    to_user = _user(first.uri) or _user(first.headers.get("To") or "")
    from_text = first.headers.get("From") or ""
    to_text = first.headers.get("To") or ""
    user_agent = first.headers.get("User-Agent")
    t0 = invite.time

    # --- what the recorded side did, in time order ------------------------------------
    offer_sdp = _sdp_of(first)
    offered = _codecs(offer_sdp) if offer_sdp is not None else []
    events: list[_Event] = []
    flow: list[str] = []
    seen: set = set()
    our_media: set[tuple[str, int]] = set()
    held = False
    final_status: int | None = None
    initial_branches = set()
    for p in pkts:
        msg = p.message
        s = side_of(p)
        if _is_retransmission(msg, s, seen):
            continue
        flow.append(msg.method if isinstance(msg, Request) else str(msg.status))
        sdp = _sdp_of(msg)
        if sdp is not None and s == ours:
            our_media |= _media_addresses(sdp)
        t = p.time - t0
        if isinstance(msg, Request):
            if msg.method == "INVITE" and final_status is None:
                initial_branches.add(msg.cseq.seq)
                continue
            if s != ours:
                if msg.method == "BYE":
                    events.append(_Event(t, "remote_hangup"))
                continue
            if msg.method == "CANCEL":
                events.append(_Event(t, "cancel"))
            elif msg.method == "BYE":
                events.append(_Event(t, "hangup"))
            elif msg.method == "INVITE" and sdp is not None:
                direction = sdp.media_direction(0) if sdp.media else "sendrecv"
                conn = sdp.media_connection(0) if sdp.media else None
                if direction in _HOLD or (conn is not None and conn.address == "0.0.0.0"):
                    if not held:
                        events.append(_Event(t, "hold"))
                        held = True
                elif held:
                    events.append(_Event(t, "unhold"))
                    held = False
            elif msg.method == "INFO" and b"Signal" in msg.body:
                for line in msg.body.decode("utf-8", "replace").splitlines():
                    key, _, value = line.partition("=")
                    if key.strip().lower() == "signal" and value.strip():
                        events.append(_Event(t, "dtmf", (value.strip()[:1], "info")))
        else:
            cseq = msg.cseq
            if cseq.method == "INVITE" and cseq.seq in initial_branches and msg.status >= 200 \
                    and msg.status not in (401, 407) and final_status is None:
                final_status = msg.status
                events.append(_Event(t, "answer" if msg.status < 300 else "reject",
                                     msg.status))
            elif cseq.method == "INVITE" and cseq.seq in initial_branches \
                    and msg.status in (180, 183) and final_status is None:
                events.append(_Event(t, "ringing", msg.status))
    for ev in dtmf:
        if tuple(ev.src) in our_media and getattr(ev, "digit", None):
            events.append(_Event(ev.start - t0, "dtmf", (ev.digit, "rfc4733")))
    events.sort(key=lambda e: e.time)
    events = _merge_digits(events)

    playable = {n.upper() for n in playable_names()}  # what an agent can send and receive
    codecs = [c for c in offered if c in playable]
    dropped = [c for c in offered if c not in playable and c not in ("TELEPHONE-EVENT", "CN")]
    if not codecs:
        codecs = [c.upper() for c in default_names()]

    lines = [
        f"# Written by `sipclient pcap to-scenario` from {source}, Call-ID {call_id},",
        f"# replaying the {side}'s side against a target (docs/scenarios.md).",
        f"# The capture's caller: {from_text}" + (f" ({user_agent})" if user_agent else ""),
        f"# The capture's callee: {to_text} (Request-URI {first.uri})",
        f"# Recorded flow: {', '.join(flow)}",
    ]
    if dropped:
        lines.append(f"# Codecs offered in the capture that sipclient cannot send: "
                     f"{', '.join(dropped)} (left out)")
    lines += [f"name: {_q(f'replay of {call_id} ({side})')}",
              "tags: [replay, pcap]"]
    timeout = min(600, max(60, int(pkts[-1].time - t0) + 60))
    lines.append(f"timeout: {timeout}")
    lines.append("agents:")
    codec_list = "[" + ", ".join(codecs) + "]"
    if side == "caller":
        lines += ["  caller:",
                  f"    account: {_q(account)}    # the capture's caller: "
                  f"{_user(from_text) or '?'}",
                  f"    codecs: {codec_list}"]
    else:
        lines += ["  callee:",
                  f"    account: {_q(account)}    # the capture's callee: "
                  f"{_user(to_text) or to_user or '?'}",
                  f"    codecs: {codec_list}",
                  "  caller:",
                  f"    account: {_q(peer_account)}    # places the call through the target"]
    lines.append("steps:")
    if side == "caller":
        steps, agent, call = _caller_steps(events, to_user, final_status, max_wait), \
            "caller", "c1"
    else:
        steps, call = _callee_steps(events, final_status, max_wait)
        agent = "callee"
    lines += steps
    our_flow = _tolerant_flow(flow)
    lines += ["  - expect_flow:", f"      agent: {agent}"]
    if call is not None:
        lines.append(f"      call: {call}")
    else:
        lines.append("      exact: false    # the call was never named on this side")
    lines.append(f"      flow: [{', '.join(_q(i) if not i.isalpha() else i for i in our_flow)}]")
    return "\n".join(lines) + "\n"


def _merge_digits(events: list[_Event]) -> list[_Event]:
    """Consecutive digits of one mode (nothing else between) become one ``dtmf`` step."""
    out: list[_Event] = []
    for ev in events:
        if ev.kind == "dtmf" and out and out[-1].kind == "dtmf" \
                and out[-1].value[1] == ev.value[1]:
            out[-1].value = (out[-1].value[0] + ev.value[0], ev.value[1])
            continue
        out.append(_Event(ev.time, ev.kind, ev.value))
    return out


def _wait(seconds: float, max_wait: float) -> list[str]:
    seconds = round(seconds, 1)
    if seconds < 0.1:
        return []
    if seconds > max_wait:
        return [f"  - wait: {max_wait:g}    # {seconds:g} s in the capture, capped"]
    return [f"  - wait: {seconds:g}"]


def _caller_steps(events: list[_Event], number: str, final: int | None,
                  max_wait: float) -> list[str]:
    cancelled = any(e.kind == "cancel" for e in events)
    out = []
    call = f"  - call: {{from: caller, to: {_q(number)}, as: c1"
    if cancelled or final is None:
        out.append(call + ", expect: none}")
    else:
        out.append(call + f", expect: {final}}}")
    now = next((e.time for e in events if e.kind in ("answer", "reject")), 0.0)
    if cancelled or final is None:
        now = 0.0
    for ev in events:
        if ev.kind in ("answer", "reject", "ringing"):
            continue
        if ev.time < now - 1e-9 and ev.kind != "cancel":
            continue
        out += _wait(ev.time - now, max_wait)
        now = max(now, ev.time)
        if ev.kind == "cancel":
            expect = f", expect: {final}" if final is not None and final != 487 else ""
            out.append(f"  - cancel: {{call: c1{expect}}}")
        elif ev.kind == "hangup":
            out.append("  - hangup: c1")
        elif ev.kind == "remote_hangup":
            out.append("  - wait: {for: ended, call: c1, timeout: "
                       f"{max(10, int(max_wait) + 10)}}}")
        elif ev.kind in ("hold", "unhold"):
            out.append(f"  - {ev.kind}: c1")
        elif ev.kind == "dtmf":
            digits, mode = ev.value
            out.append(f"  - dtmf: {{call: c1, digits: {_q(digits)}, mode: {mode}}}")
    return out


def _callee_steps(events: list[_Event], final: int | None, max_wait: float
                  ) -> tuple[list[str], str | None]:
    out = ["  - register: callee",
           "  - call: {from: caller, to: \"${callee.user}\", as: c1, expect: none}"]
    ring = next((e for e in events if e.kind == "ringing"), None)
    decided = next((e for e in events if e.kind in ("answer", "reject")), None)
    cancelled = any(e.kind == "cancel" for e in events)
    now = 0.0
    if decided is not None and decided.kind == "reject":
        out.append(f"  - reject: {{agent: callee, status: {final}, as: in1}}")
        return out, "in1"
    if decided is None:
        # never answered here: ring until the caller gives up
        out.append("  - wait: {for: incoming, agent: callee, timeout: 30}")
        cancel = next((e for e in events if e.kind in ("cancel",)), None)
        if cancel is not None or cancelled:
            # the caller's CANCEL reaches us as a CANCEL: we only ring
            out += _wait(cancel.time if cancel else 1.0, max_wait)
            out.append("  - cancel: c1")
        return out, None
    after = round(max(0.0, decided.time - (ring.time if ring else 0.0)), 1)
    ring_flag = "" if ring is not None else ", ring: false"
    out.append(f"  - answer: {{agent: callee, as: in1, after: {min(after, max_wait):g}"
               f"{ring_flag}}}")
    now = decided.time
    for ev in events:
        if ev.time < now - 1e-9 or ev.kind in ("answer", "reject", "ringing", "cancel"):
            continue
        out += _wait(ev.time - now, max_wait)
        now = ev.time
        if ev.kind == "hangup":
            out.append("  - hangup: in1")
        elif ev.kind == "remote_hangup":
            out.append("  - hangup: c1    # the caller hung up in the capture")
        elif ev.kind in ("hold", "unhold"):
            out.append(f"  - {ev.kind}: in1")
        elif ev.kind == "dtmf":
            digits, mode = ev.value
            out.append(f"  - dtmf: {{call: in1, digits: {_q(digits)}, mode: {mode}}}")
    return out, "in1"
