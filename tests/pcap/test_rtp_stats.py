"""The array form of the stream statistics gives exactly what the reference
(sipclient.media.stats.StreamStats, packet by packet) gives, on random streams with loss,
reordering, duplicates, sequence and timestamp wraps, timestamp jumps (packets out of time
sequence), markers, comfort noise and RFC 4733 events; and steps aside (None) where it does
not model A.1's restart logic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipclient.media.stats import StreamStats
from sipclient.pcap.rtp_stats import stream_figures

RATES = np.zeros(128, dtype=np.int64)
RATES[[0, 8, 13, 18]] = 8000
RATES[9] = 8000
RATES[101] = 0                               # telephone-event: not in the jitter


def reference(seq, ts, arrival, pt, marker):
    s = StreamStats(7, 8000)
    first = True
    for q, t, a, p, m in zip(seq, ts, arrival, pt, marker):
        if RATES[p] and first:
            s.clock_rate, first = int(RATES[p]), False
        s.update(q, t, a, marker=m, timed=bool(RATES[p]), payload_type=p)
    return s.summary(), s.payload_type_counts


@st.composite
def streams(draw):
    n = draw(st.integers(1, 300))
    seq0 = draw(st.integers(0, 65535))
    ts0 = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    loss = draw(st.sampled_from([0.0, 0.05, 0.3]))
    swap = draw(st.sampled_from([0.0, 0.05]))
    dup = draw(st.sampled_from([0.0, 0.05]))
    order = [i for i in range(n) if rng.random() >= loss] or [0]
    for k in range(len(order) - 1):
        if rng.random() < swap:
            order[k], order[k + 1] = order[k + 1], order[k]
    packets = []
    for i in order:
        packets.append(i)
        if rng.random() < dup:
            packets.append(i)
    pts = draw(st.sampled_from([[8], [0, 13], [8, 101], [101], [96, 8]]))
    # an RTP timestamp jump without a new SSRC (forward, back, back below the first
    # timestamp, 2**31 or more ahead as Asterisk's early media -> answer) from packet `at` on
    jump = draw(st.sampled_from([0, 0, 80_000, -4_000, -10**6, 2**31 - 5_000, 3_377_597_432]))
    at = draw(st.integers(1, n))
    seq, ts, arrival, pt, marker = [], [], [], [], []
    t = 1000.0
    for i in packets:
        p = pts[int(rng.integers(len(pts)))] if len(pts) > 1 else pts[0]
        seq.append((seq0 + i) % 65536)
        ts.append((ts0 + 160 * i + (jump if i >= at else 0)) % 2**32)
        t += 0.02 + float(rng.normal(0, 0.004))
        arrival.append(t)
        pt.append(p)
        marker.append(bool(rng.random() < 0.03))
    return seq, ts, arrival, pt, marker


@settings(max_examples=300, deadline=None)
@given(streams())
def test_array_form_equals_the_reference(stream):
    seq, ts, arrival, pt, marker = stream
    fast = stream_figures(7, np.array(seq, dtype=np.uint16), np.array(ts, dtype=np.uint32),
                          np.array(arrival), np.array(pt, dtype=np.int64),
                          np.array(marker), RATES)
    ref, counts = reference(seq, ts, arrival, pt, marker)
    assert fast is not None
    summary, _clock, fast_counts = fast
    assert summary == ref
    assert fast_counts == counts


def test_restart_and_stray_packets_are_left_to_the_reference():
    seq = [100, 101, 20000, 20001, 20002]           # A.1 restart
    args = (np.array(seq, dtype=np.uint16), np.array([160 * i for i in range(5)], dtype=np.uint32),
            np.arange(5) * 0.02, np.zeros(5, dtype=np.int64), np.zeros(5, dtype=bool), RATES)
    assert stream_figures(7, *args) is None
    late = [500, 501, 502, 300]                     # 200 behind: a stray for A.1
    assert stream_figures(7, np.array(late, dtype=np.uint16), np.zeros(4, dtype=np.uint32),
                          np.arange(4.0), np.zeros(4, dtype=np.int64), np.zeros(4, dtype=bool),
                          RATES) is None


@pytest.mark.parametrize("seq", [[65534, 65535, 0, 1], [65535, 0, 65535], [0, 65535, 1]])
def test_wraps_and_packets_older_than_the_first(seq):
    n = len(seq)
    fast = stream_figures(7, np.array(seq, dtype=np.uint16),
                          np.array([160 * i for i in range(n)], dtype=np.uint32),
                          np.arange(n) * 0.02, np.full(n, 8), np.zeros(n, dtype=bool), RATES)
    ref, _ = reference(seq, [160 * i for i in range(n)], list(np.arange(n) * 0.02), [8] * n,
                       [False] * n)
    assert fast is not None and fast[0] == ref
