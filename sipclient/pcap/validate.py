"""Check a run's capture against a golden capture or a flow description (``pcap validate``).

    result = validate("run.pcap", "captures/invite-early-media.pcap")
    result.ok, result.differences
    # ['dialog 1 (INVITE): message 6: expected 183 Session Progress, got 200 OK',
    #  'dialog 1 (INVITE): message 7, 200 OK answer: expected codecs [PCMU], got [PCMA]',
    #  'dialog 1 (INVITE): missing message 8: ACK']

Both sides become normalised flows (:mod:`sipclient.pcap.flowspec`: Call-IDs, tags,
branches, nonces, addresses, ports, timestamps and absolute CSeq numbers gone). Dialogs are
matched in order of appearance; within a dialog the messages are aligned with the fewest
edits (a message missing, one too many, one of another kind), so one dropped ACK is reported
as exactly that and not as every later message being off by one. Matched messages are then
compared: sender side, CSeq order, chosen headers, SDP codecs and directions per m= line,
and timing within the tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from sipclient.pcap.flowspec import (DEFAULT_HEADERS, DialogFlow, Expected, ExpectedDialog,
                                     Observed, expect_from_observed, load_flow_file, observe)

__all__ = ["Tolerances", "ValidationResult", "compare", "is_capture_file", "load_expected",
           "validate"]


@dataclass(frozen=True)
class Tolerances:
    """How far a run may differ from a golden capture.

    ``answer``: seconds the answer delay (first INVITE to its 2xx) may differ (None: not
    checked); ``message``: seconds each message's time since the dialog start may differ
    (None: not checked); ``optional``: message kinds the run may lack (e.g. ``("100",)``);
    ``headers``: the headers compared; ``compare_headers``/``compare_sdp``: switch those off.
    Flow files carry their own bounds (``at``, ``answer_delay``); these then do not apply.
    """

    answer: float | None = 1.0
    message: float | None = None
    optional: tuple[str, ...] = ()
    headers: tuple[str, ...] = DEFAULT_HEADERS
    compare_headers: bool = True
    compare_sdp: bool = True


@dataclass(frozen=True)
class ValidationResult:
    ok: bool
    differences: list[str] = field(default_factory=list)
    run: list[DialogFlow] = field(default_factory=list, repr=False)

    def __bool__(self) -> bool:
        return self.ok

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "differences": list(self.differences),
                "dialogs": [{"number": d.number, "kind": d.kind, "flow": d.flow,
                             "retransmissions": d.retransmissions} for d in self.run]}


# --------------------------------------------------------------------------- inputs

def is_capture_file(path: str | Path) -> bool:
    """pcap (either byte order, µs or ns) or pcapng, by its magic number."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return False
    return magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                     b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


def _packets(source: Any, heuristic: bool = False) -> list:
    """SIP packets from a path (read with :func:`sipclient.pcap.read.read_capture`), a
    Capture (its ``.sip``) or an iterable of packets."""
    if isinstance(source, (str, Path)):
        from sipclient.pcap.read import read_capture

        return list(read_capture(source).sip)
    if hasattr(source, "sip"):
        return list(source.sip)
    return list(source)


def load_expected(expected: Any, tolerances: Tolerances) -> list[ExpectedDialog]:
    """Expectations from a golden capture (path, Capture or packets), a flow file (path,
    YAML), or already built :class:`ExpectedDialog` values."""
    if isinstance(expected, (str, Path)) and not is_capture_file(expected):
        return load_flow_file(expected)
    if isinstance(expected, list) and expected and isinstance(expected[0], ExpectedDialog):
        return expected
    flows = observe(_packets(expected), tolerances.headers)
    return expect_from_observed(flows, headers=tolerances.compare_headers,
                                answer_tolerance=tolerances.answer,
                                time_tolerance=tolerances.message,
                                optional=tolerances.optional)


def validate(run: Any, expected: Any, tolerances: Tolerances | None = None
             ) -> ValidationResult:
    """Validate ``run`` (a capture path, a Capture or SIP packets) against ``expected`` (a
    golden capture, a flow file, or :class:`ExpectedDialog` values).

    Unreadable input raises the reader's error or :class:`~sipclient.pcap.flowspec.FlowFileError`.
    """
    tol = tolerances or Tolerances()
    want = load_expected(expected, tol)
    got = observe(_packets(run), tol.headers)
    diffs = compare(got, want, tol)
    return ValidationResult(not diffs, diffs, got)


# --------------------------------------------------------------------------- comparing

def compare(run: Sequence[DialogFlow], expected: Sequence[ExpectedDialog],
            tolerances: Tolerances | None = None) -> list[str]:
    tol = tolerances or Tolerances()
    diffs: list[str] = []
    for i in range(max(len(run), len(expected))):
        if i >= len(run):
            exp = expected[i]
            flow = ", ".join(str(e.pattern) for e in exp.items)
            diffs.append(f"dialog {i + 1} ({exp.kind or exp.items[0].label}): missing "
                         f"(expected {flow})")
            continue
        got = run[i]
        if i >= len(expected):
            diffs.append(f"dialog {i + 1} ({got.kind}): unexpected dialog "
                         f"({', '.join(got.flow)})")
            continue
        diffs.extend(_compare_dialog(got, expected[i], tol))
    return diffs


def _align(items: Sequence[Expected], msgs: Sequence[Observed]) -> list[tuple[str, int, int]]:
    """Fewest-edit alignment. Ops: ("match"|"sub", i, j), ("miss", i, j), ("extra", i, j),
    ("skip", i, j) for an optional item not present (j: where the run stood)."""
    n, m = len(items), len(msgs)
    inf = 10**9
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    cost[n][m] = 0
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            best = inf
            if i < n:
                it = items[i]
                best = min(best, cost[i + 1][j] + (0 if it.pattern.optional else 1))
                if j < m:
                    if it.matches(msgs[j]):
                        nxt = cost[i][j + 1] if it.pattern.repeat else inf
                        best = min(best, cost[i + 1][j + 1], nxt)
                    elif not it.pattern.repeat:
                        best = min(best, cost[i + 1][j + 1] + 1)
            if j < m:
                best = min(best, cost[i][j + 1] + 1)
            cost[i][j] = best
    ops: list[tuple[str, int, int]] = []
    i = j = 0
    while i < n or j < m:
        here = cost[i][j]
        if i < n and j < m and items[i].matches(msgs[j]):
            if items[i].pattern.repeat and cost[i][j + 1] == here:
                ops.append(("match", i, j))
                j += 1
                continue
            if cost[i + 1][j + 1] == here:
                ops.append(("match", i, j))
                i, j = i + 1, j + 1
                continue
        if i < n and items[i].pattern.optional and cost[i + 1][j] == here:
            if not items[i].pattern.repeat or not ops or ops[-1][1] != i:
                ops.append(("skip", i, j))
            i += 1
            continue
        if i < n and j < m and not items[i].pattern.repeat \
                and not items[i].matches(msgs[j]) and cost[i + 1][j + 1] + 1 == here:
            ops.append(("sub", i, j))
            i, j = i + 1, j + 1
            continue
        if i < n and cost[i + 1][j] + 1 == here:
            ops.append(("miss", i, j))
            i += 1
            continue
        ops.append(("extra", i, j))
        j += 1
    return ops


def _label(e: Expected, o: Observed) -> tuple[str, str]:
    want, got = e.label, o.label
    if want == got and e.method and e.method != o.method:
        return f"{want} to {e.method}", f"{got} to {o.method}"
    return want, got


def _compare_dialog(got: DialogFlow, exp: ExpectedDialog, tol: Tolerances) -> list[str]:
    head = f"dialog {got.number} ({got.kind})"
    out: list[str] = []
    if exp.kind and exp.kind != got.kind:
        out.append(f"{head}: expected a {exp.kind} dialog, got {got.kind}")
    msgs = got.messages
    shifted = False  # after a missing or extra message CSeq ranks shift: not worth a line each
    for op, i, j in _align(exp.items, msgs):
        shifted = shifted or op in ("sub", "miss", "extra")
        if op == "sub":
            want, have = _label(exp.items[i], msgs[j])
            out.append(f"{head}: message {j + 1}: expected {want}, got {have}")
        elif op == "miss":
            out.append(f"{head}: missing message {j + 1}: {exp.items[i].label}")
        elif op == "extra":
            out.append(f"{head}: message {j + 1}: unexpected {msgs[j].label}")
        elif op == "match":
            out.extend(f"{head}: message {j + 1}, {d}"
                       for d in _compare_message(exp.items[i], msgs[j], tol, shifted))
    if exp.answer_delay is not None:
        delay = got.answer_delay
        lo, hi = exp.answer_delay
        if delay is None:
            if any(e.pattern.matches("200") and (e.method in (None, "INVITE"))
                   for e in exp.items if not e.pattern.optional):
                out.append(f"{head}: no answer (2xx to INVITE), expected one after "
                           f"{lo:.2f}-{hi:.2f} s")
        elif not lo <= delay <= hi:
            out.append(f"{head}: answered after {delay:.2f} s, expected {lo:.2f}-{hi:.2f} s")
    return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _compare_message(e: Expected, o: Observed, tol: Tolerances,
                     shifted: bool = False) -> Iterable[str]:
    label = o.label
    if e.side is not None and e.side != o.side:
        other = "B" if e.side == "A" else "A"
        yield (f"{label}: expected from {e.side} to {other}, got from {o.side} to {e.side} "
               f"(A sent the dialog's first message)")
    if e.cseq_rank is not None and e.cseq_rank != o.cseq_rank and not shifted:
        yield (f"{label}: CSeq: expected the requester's {_ordinal(e.cseq_rank)} CSeq number, "
               f"got its {_ordinal(o.cseq_rank)}")
    if tol.compare_headers:
        for name, want in e.headers.items():
            have = o.headers.get(name)
            title = _title(name)
            if want is None:
                if have is not None:
                    yield f"{label}: unexpected header {title}: {have}"
            elif have is None:
                yield f"{label}: missing header {title} (expected {want})"
            elif have != want:
                yield f"{label}: {title}: expected {want}, got {have}"
        if e.strict_headers:  # golden: the chosen headers it lacks must be absent
            for name, have in o.headers.items():
                if name not in e.headers:
                    yield f"{label}: unexpected header {_title(name)}: {have}"
    if tol.compare_sdp:
        yield from _compare_sdp(e, o, label)
    if e.at is not None:
        lo, hi = e.at
        if not lo - 1e-6 <= o.time <= hi + 1e-6:
            yield (f"{label}: at {o.time:.2f} s, expected {lo:.2f}-{hi:.2f} s after the "
                   f"dialog's first message")


def _title(name: str) -> str:
    special = {"www-authenticate": "WWW-Authenticate", "call-id": "Call-ID", "cseq": "CSeq"}
    return special.get(name, "-".join(p.capitalize() for p in name.split("-")))


def _compare_sdp(e: Expected, o: Observed, label: str) -> Iterable[str]:
    role = o.sdp_role or "SDP"
    if e.sdp is None:
        if e.sdp_absent and o.sdp is not None:
            yield f"{label}: unexpected SDP {role}"
        return
    if o.sdp is None:
        yield f"{label}: expected SDP ({_describe(e.sdp)}), got none"
        return
    where = f"{label} {role}"
    if len(e.sdp) != len(o.sdp):
        yield (f"{where}: expected {len(e.sdp)} media stream(s) ({_describe(e.sdp)}), "
               f"got {len(o.sdp)} ({_describe(o.sdp)})")
    for k, (w, h) in enumerate(zip(e.sdp, o.sdp)):
        stream = f" stream {k + 1}" if len(e.sdp) > 1 else ""
        if w.media != h.media:
            yield f"{where}{stream}: expected media {w.media}, got {h.media}"
        if w.codecs and list(w.codecs) != list(h.codecs):
            yield (f"{where}{stream}: expected codecs [{', '.join(w.codecs)}], "
                   f"got [{', '.join(h.codecs)}]")
        if w.direction and w.direction != h.direction:
            yield f"{where}{stream}: expected direction {w.direction}, got {h.direction}"
        if w.telephone_event is not None and bool(h.telephone_event) != w.telephone_event:
            yield (f"{where}{stream}: expected telephone-event "
                   f"{'present' if w.telephone_event else 'absent'}, got it "
                   f"{'present' if h.telephone_event else 'absent'}")


def _describe(views: Sequence[Any]) -> str:
    return "; ".join(v.describe() for v in views)
