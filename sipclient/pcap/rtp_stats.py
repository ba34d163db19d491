"""The figures of :class:`sipclient.media.stats.StreamStats` for a whole captured stream at
once, with numpy, for the capture reader's hot path.

:class:`~sipclient.media.stats.StreamStats` is the reference (RFC 3550 A.1/A.3/A.8 with
tshark's conventions, one packet at a time, as a live session needs). A capture gives the
whole stream up front, so here the sequence numbers are extended, classified and counted
as arrays, and the jitter runs as one tight ``itertools.accumulate`` over the arrival and
timestamp differences computed by numpy. Packets out of time sequence (an extended
timestamp before the first packet's or 2**31 or more after it, Wireshark's rule, see
:mod:`sipclient.media.stats`) are masked out of the jitter, max delta and the references,
as the reference skips them. The arithmetic of each step is the reference's (same
operations, same order, IEEE doubles), so the results are equal, not close:
``tests/pcap/test_rtp_stats.py`` checks that on random streams.

:func:`stream_figures` returns ``None`` when the sequence numbers do something the array
form does not model (a jump of 3000 or more, a packet more than 100 behind: RFC 3550 A.1's
restart and stray-packet logic); the caller then runs the reference packet by packet.
"""

from __future__ import annotations

from itertools import accumulate

import numpy as np

from sipclient.media.stats import MAX_DROPOUT, MAX_MISORDER, StreamSummary

__all__ = ["HEADER_DTYPE", "stream_figures"]

#: The fixed RTP header (RFC 3550 5.1) as a numpy record.
HEADER_DTYPE = np.dtype([("b0", "u1"), ("b1", "u1"), ("seq", ">u2"), ("ts", ">u4"),
                         ("ssrc", ">u4")])
_CN = (13, 19)


def _jitter_step(j: float, x: float) -> float:
    return j + (x - j) / 16.0          # RFC 3550 A.8, as StreamStats computes it


def stream_figures(ssrc: int, seq: np.ndarray, ts: np.ndarray, arrival: np.ndarray,
                   pt: np.ndarray, marker: np.ndarray, rates: np.ndarray
                   ) -> tuple[StreamSummary, int, dict[int, int]] | None:
    """``(summary, clock_rate, packets per payload type)`` of a stream given per packet, in arrival order: 16-bit
    sequence numbers, 32-bit timestamps, arrival seconds, payload types, marker bits;
    ``rates[pt]`` is the clock rate of each payload type (0: not in the jitter)."""
    n = len(seq)
    if n == 0:
        return None
    s = seq.astype(np.int64)
    # -- sequence numbers (A.1, A.3) -------------------------------------------------------
    step = ((np.diff(s) + 0x8000) & 0xFFFF) - 0x8000
    ext = np.empty(n, dtype=np.int64)
    ext[0] = s[0]
    np.cumsum(step, out=ext[1:])
    ext[1:] += s[0]
    runmax = np.maximum.accumulate(ext)
    if n > 1:
        ahead = ext[1:] - runmax[:-1]
        if ((ahead >= MAX_DROPOUT) | (ahead <= -MAX_MISORDER)).any():
            return None
        behind = int((ahead <= 0).sum())
    else:
        behind = 0
    duplicates = n - len(np.unique(ext))
    out_of_order = behind - duplicates
    expected = int(runmax[-1] - ext[0] + 1)
    lost = expected - n
    # -- timing (A.8 and tshark's max delta / mean and max jitter) -------------------------
    rate_of = rates[pt]
    timed = rate_of != 0
    timed_idx = np.flatnonzero(timed)
    clock = int(rate_of[timed_idx[0]]) if len(timed_idx) else 8000
    # timestamps extended by their signed steps; in time sequence: not before the first
    # packet's timestamp nor 2**31 or more after it (the rest stay out of the timing)
    ts64 = ts.astype(np.int64)
    ext = np.empty(n, dtype=np.int64)
    ext[0] = 0
    np.cumsum(((np.diff(ts64) + 0x80000000) & 0xFFFFFFFF) - 0x80000000, out=ext[1:])
    in_seq = (ext >= 0) & (ext < 0x80000000)
    # R_{i-1}: the last packet in time sequence (of any kind) before packet i
    index = np.arange(n)
    ref = np.maximum.accumulate(np.where(in_seq, index, 0))
    delta = np.zeros(n)
    delta[1:] = arrival[1:] - arrival[ref[:-1]]
    cn = (pt == _CN[0]) | (pt == _CN[1])
    regular = np.zeros(n, dtype=bool)
    regular[1:] = in_seq[1:] & ~(marker[1:] | cn[1:] | cn[:-1])
    max_delta = float(delta[regular].max()) if regular.any() else 0.0
    # J is updated at every timed packet in time sequence but the first one (no S_{i-1})
    timed_idx = np.flatnonzero(timed & in_seq)
    upd = timed_idx[1:]
    jitter_at = np.zeros(n)
    if len(upd):
        ts_diff = ext[upd] - ext[timed_idx[:-1]]
        d = delta[upd] * clock - ts_diff
        j_values = list(accumulate(np.abs(d).tolist(), _jitter_step, initial=0.0))[1:]
        jitter_at[upd] = j_values
        # J stays the same between updates: carry it forward to every packet
        last = np.zeros(n, dtype=np.int64)
        last[upd] = upd
        np.maximum.accumulate(last, out=last)
        jitter_at = jitter_at[last]
    counted = np.flatnonzero(regular & timed)         # indices i >= 1 in max and mean
    max_j = float(jitter_at[counted].max()) if len(counted) else 0.0
    mean = 0.0
    for i, j in zip(counted.tolist(), jitter_at[counted].tolist()):
        mean = (mean * (i - 1) + j) / i               # tshark's running mean, n = i - 1
    pts, first = np.unique(pt, return_index=True)
    order = np.argsort(first)
    counts = np.bincount(pt, minlength=128)
    payload_types = tuple(int(pts[k]) for k in order)
    summary = StreamSummary(
        ssrc, payload_types, n, expected, lost, 100.0 * lost / expected if expected else 0.0,
        duplicates, out_of_order, float(arrival[0]), float(arrival[-1]), max_delta * 1000.0,
        mean * 1000.0 / clock, max_j * 1000.0 / clock, 0)
    return summary, clock, {p: int(counts[p]) for p in payload_types}
