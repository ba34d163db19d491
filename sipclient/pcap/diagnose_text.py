"""The diagnosis of registrations as text a support engineer pastes into a ticket.

Each registration leads with its verdict (``AOR: VERDICT (state)``), then the codes, who
registered (Call-IDs, From users, User-Agent, source and registrar), and per finding what
happened, the evidence (frames and header values) and what to change.
"""

from __future__ import annotations

from typing import Iterable

from sipclient.pcap.diagnose import Diagnosis

__all__ = ["diagnosis_lines", "diagnosis_text", "verdict_line"]


def verdict_line(d: Diagnosis) -> str:
    """``sip:1001@host: ok (registered)`` / ``...: FORBIDDEN (not registered): codes``."""
    r = d.registration
    codes = d.codes
    head = d.verdict if d.verdict == "ok" else d.verdict.upper()
    tail = f"; also {', '.join(codes[1:])}" if len(codes) > 1 else ""
    return f"{r.aor}: {head} ({r.state}){tail}"


def diagnosis_lines(d: Diagnosis, *, indent: str = "  ") -> list[str]:
    r = d.registration
    first, last = r.frames
    a = r.attempts[0]
    out = [verdict_line(d)]
    out.append(f"{indent}Call-ID {', '.join(r.call_ids)}")
    who = [f"From user {', '.join(r.from_users) or '-'}"]
    if r.user_agents:
        who.append(f"User-Agent {', '.join(r.user_agents)}")
    who.append(f"{'/'.join(r.transports)} {a.request.src[0]}:{a.request.src[1]} -> "
               f"{a.request.dst[0]}:{a.request.dst[1]}")
    who.append(f"{len(r.attempts)} REGISTER{'s' if len(r.attempts) != 1 else ''}, "
               f"frames {first}-{last}")
    out.append(indent + "; ".join(who))
    for f in d.findings:
        out.append(f"{indent}{f.code}: {f.summary}")
        for line in f.evidence:
            out.append(f"{indent}    {line}")
        out.append(f"{indent}    change: {f.change}")
    for note in d.notes:
        out.append(f"{indent}note: {note}")
    return out


def diagnosis_text(diagnoses: Iterable[Diagnosis], source: str = "") -> str:
    ds = list(diagnoses)
    if not ds:
        return f"{source + ': ' if source else ''}no REGISTER in the capture\n"
    registered = sum(d.registration.state == "registered" for d in ds)
    out = [f"{source + ': ' if source else ''}{len(ds)} registration{'s' if len(ds) != 1 else ''}"
           f" ({registered} registered at the end of the capture)"]
    for d in ds:
        out.append("")
        out += diagnosis_lines(d)
    return "\n".join(out) + "\n"

