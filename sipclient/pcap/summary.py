"""What ``sipclient pcap summary`` prints: a JSON-ready dict and a text report.

The JSON (issue 7)::

    {"file": ..., "file_type": "pcap", "packets": N,
     "sip": {"messages": N, "dialogs": [{"call_id", "flow": [...], "retransmissions": [...],
              "setup_time_ms", "answer_time_ms", "duration_s", "disposition", "codecs", ...}]},
     "rtp": {"heuristic": bool, "streams": [{"src": "ip:port", "dst": "ip:port",
             "ssrc": "0x...", "payload_type", "codec", "packets", "lost", "mean_jitter_ms",
             "max_jitter_ms", "mos", ...}]},
     "dtmf": [{"digit", "start", "duration_ms", "ssrc", ...}],
     "problems": {"count": N, "first": [...]}, "truncated": null | "..."}

``call_id`` keeps one dialog, and the media its SDP declared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipclient.proto.errors import ParseError

if TYPE_CHECKING:
    from sipclient.pcap.read import Capture

__all__ = ["summary_dict", "summary_text"]


def _selected(capture: Capture, call_id: str | None):
    dialogs = capture.dialogs
    streams = capture.rtp_streams
    dtmf = capture.dtmf
    if call_id is not None:
        dialogs = [d for d in dialogs if d.call_id == call_id]
        streams = [s for s in streams if s.call_id == call_id]
        dtmf = [e for s in streams for e in s.dtmf]
    return dialogs, streams, dtmf


def summary_dict(capture: Capture, *, call_id: str | None = None) -> dict:
    dialogs, streams, dtmf = _selected(capture, call_id)
    messages = sum(len(d.messages) for d in dialogs) if call_id is not None else len(capture.sip)
    return {
        "file": capture.path, "file_type": capture.file_type, "packets": capture.packets,
        "start_time": capture.start_time,
        "sip": {"messages": messages, "dialogs": [d.as_dict() for d in dialogs]},
        "rtp": {"heuristic": capture.heuristic_rtp, "rtcp_packets": capture.rtcp_packets,
                "streams": [s.as_dict() for s in streams]},
        "dtmf": [e.as_dict() for e in dtmf],
        "registrations": [d.as_dict() for d in _diagnoses(capture, dialogs)],
        "problems": {"count": capture.problem_count, "first": capture.problems[:20]},
        "truncated": capture.truncated,
    }


def _diagnoses(capture: Capture, dialogs) -> list:
    """The verdicts of ``sipclient pcap diagnose`` on the selected dialogs' REGISTERs."""
    from sipclient.pcap.diagnose import diagnose

    ids = {d.call_id for d in dialogs}
    return diagnose(p for p in capture.sip if _call_id(p) in ids)


def _call_id(p) -> str:
    try:
        return p.message.call_id
    except ParseError:
        return "(no Call-ID)"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def summary_text(capture: Capture, *, call_id: str | None = None) -> str:
    dialogs, streams, dtmf = _selected(capture, call_id)
    out = [f"{capture.path}: {capture.file_type}, {capture.packets} packets, "
           f"{len(capture.sip)} SIP messages in {len(capture.dialogs)} dialogs, "
           f"{len(capture.rtp_streams)} RTP streams"
           + (" (heuristic RTP on)" if capture.heuristic_rtp else "")]
    if call_id is not None and not dialogs:
        out.append(f"no dialog with Call-ID {call_id}")
    diagnoses = _diagnoses(capture, dialogs)
    for d in dialogs:
        info = d.as_dict()
        out.append("")
        out.append(f"Call-ID {d.call_id}  [{info['method'] or '-'}]  {info['disposition']}")
        verdicts = [f"{diag.registration.aor} {'/'.join(diag.codes) or diag.verdict}"
                    for diag in diagnoses if d.call_id in diag.registration.call_ids]
        if verdicts:
            out.append(f"  verdicts: {'; '.join(verdicts)}")
        if info["from"] or info["to"]:
            froms = info["from_all"] if len(info["from_all"]) > 1 else [info["from"]]
            out.append(f"  from {', '.join(map(str, froms))}  to {info['to']}")
        flow = []
        for label, resend in zip(d.flow, d.retransmission):
            flow.append(f"{label}(retransmission)" if resend else label)
        out.append(f"  flow: {' '.join(flow)}")
        facts = []
        if d.setup_time is not None:
            facts.append(f"setup {_ms(d.setup_time)}")
        if d.answer_time is not None:
            facts.append(f"answer {_ms(d.answer_time)}")
        if d.duration is not None:
            facts.append(f"duration {d.duration:.1f} s")
        codecs = info["codecs"]
        if codecs.get("offer"):
            facts.append(f"offer {','.join(dict.fromkeys(codecs['offer']))}")
        if codecs.get("answer"):
            facts.append(f"answer {','.join(dict.fromkeys(codecs['answer']))}")
        facts.append(f"frames {info['first_frame']}-{info['last_frame']}")
        out.append("  " + "; ".join(facts))
    if diagnoses:
        from sipclient.pcap.diagnose_text import verdict_line

        out.append("")
        out.append("Registrations (details: sipclient pcap diagnose):")
        for diag in diagnoses:
            out.append(f"  {verdict_line(diag)}")
            for f in diag.findings:
                out.append(f"    {f.code}: {f.summary} (frames "
                           f"{', '.join(map(str, f.frames[:6]))}"
                           f"{' ...' if len(f.frames) > 6 else ''})")
            for note in diag.notes:
                out.append(f"    note: {note}")
    if streams:
        out.append("")
        out.append("RTP streams:")
        out.append(f"  {'source':<22} {'destination':<22} {'SSRC':<10} {'codec':<16} "
                   f"{'pkts':>7} {'lost':>6} {'jit ms':>7} {'max ms':>8} {'MOS':>4}")
        for s in streams:
            mos = "-" if s.mos is None else f"{s.mos:.2f}"
            codec = "/".join(dict.fromkeys(s.codecs))
            out.append(f"  {s.src[0] + ':' + str(s.src[1]):<22} "
                       f"{s.dst[0] + ':' + str(s.dst[1]):<22} 0x{s.ssrc:08X} {codec[:16]:<16} "
                       f"{s.packets:>7} {s.lost:>6} {s.mean_jitter_ms:>7.3f} "
                       f"{s.max_jitter_ms:>8.3f} {mos:>4}")
    start = capture.start_time or 0.0
    if dtmf:
        out.append("")
        out.append("DTMF (RFC 4733): " + "".join(e.digit or "?" for e in dtmf))
        for e in dtmf:
            out.append(f"  {e.digit or e.event!s:>3}  at {e.start - start:.3f} s  "
                       f"{e.duration_ms:.0f} ms  "
                       f"0x{e.ssrc:08X} {e.src[0]}:{e.src[1]} -> {e.dst[0]}:{e.dst[1]}  "
                       f"frame {e.first_frame}")
    if capture.problem_count:
        out.append("")
        out.append(f"{capture.problem_count} packets could not be decoded or parsed; first:")
        out += [f"  {p}" for p in capture.problems[:5]]
    return "\n".join(out) + "\n"
