"""The receive jitter buffer: reorder, delay, late drops, concealment, adaptive delay."""

from sipclient.media.jitter import JitterBuffer
from sipclient.media.rtp import RtpPacket


def pkt(i, *, ts0=1000, marker=False):
    return RtpPacket(0, i & 0xFFFF, (ts0 + 160 * i) & 0xFFFFFFFF, 7, bytes([i % 256]), marker)


def payloads(frames):
    return [f.payload[0] if f.payload is not None else None for f in frames]


def test_in_order_stream_played_after_the_delay():
    jb = JitterBuffer(delay=0.06)
    for i in range(5):
        jb.push(pkt(i), i * 0.02)
    assert jb.pop(0.059) == [] and jb.next_time() == 0.06
    frames = jb.pop(0.06 + 0.02 * 4)
    assert payloads(frames) == [0, 1, 2, 3, 4]
    assert [round(f.playout_time, 3) for f in frames] == [0.06, 0.08, 0.1, 0.12, 0.14]
    assert jb.played == 5 and jb.concealed == 0


def test_reordered_packets_fall_into_place_and_missing_ones_are_none():
    jb = JitterBuffer(delay=0.06)
    for i, t in [(0, 0.0), (2, 0.04), (1, 0.05), (4, 0.08)]:        # 3 never comes
        assert jb.push(pkt(i), t)
    assert payloads(jb.pop(0.14)) == [0, 1, 2, None, 4]
    assert jb.concealed == 1 and jb.late == 0


def test_late_packets_are_dropped_and_counted():
    jb = JitterBuffer(delay=0.04)
    jb.push(pkt(0), 0.0)
    jb.push(pkt(2), 0.04)
    assert payloads(jb.pop(0.08)) == [0, None, 2]
    assert not jb.push(pkt(1), 0.09)                              # its frame was played
    assert jb.late == 1 and not jb.push(pkt(2), 0.09)
    assert jb.push(pkt(3), 0.09)
    assert not jb.push(pkt(3), 0.091) and jb.duplicates == 1


def test_playout_continues_with_concealment_when_empty():
    jb = JitterBuffer(delay=0.02)
    assert jb.pop(10.0) == [] and jb.next_time() is None            # nothing before a packet
    jb.push(pkt(0), 0.0)
    assert payloads(jb.pop(0.08)) == [0, None, None, None]


def test_timestamp_wrap():
    jb = JitterBuffer(delay=0.02)
    ts0 = 2**32 - 320
    for i in range(4):
        jb.push(pkt(i, ts0=ts0), i * 0.02)
    frames = jb.pop(0.02 + 0.06)
    assert payloads(frames) == [0, 1, 2, 3] and frames[2].timestamp == 0


def test_adaptive_delay_grows_on_late_packets_and_follows_jitter_at_talkspurts():
    jb = JitterBuffer(delay=0.02, adaptive=True, min_delay=0.02, max_delay=0.2)
    jb.push(pkt(0, marker=True), 0.0)
    assert payloads(jb.pop(0.045)) == [0, None]
    jb.push(pkt(1), 0.05)                                             # its frame is gone
    assert jb.late == 1 and jb.delay > 0.02
    grown = jb.delay
    # a jittery talkspurt, then silence and a new talkspurt: delay from the estimate
    for i in range(2, 40):
        jb.push(pkt(i), i * 0.02 + (0.015 if i % 2 else 0.0))
    jb.pop(2.0)
    assert jb.jitter > 0.005
    jb.push(pkt(100, marker=True), 2.0)
    assert jb.delay == min(0.2, max(0.02, 4 * jb.jitter + 0.02)) and jb.delay != grown


def test_backward_timestamp_jump_restarts_playout_instead_of_dropping_everything():
    # Asterisk's 602: early media, then the answered call's audio with a new timestamp base
    # (same SSRC). Every packet after the jump would be "late" for ever without a resync.
    jb = JitterBuffer(delay=0.04)
    for i in range(50):
        jb.push(pkt(i, ts0=5_000_000), i * 0.02)
    jb.pop(1.0)
    for i in range(50, 60):
        assert jb.push(pkt(i, ts0=1000), i * 0.02)
    frames = jb.pop(60 * 0.02 + 0.04)
    assert [p for p in payloads(frames) if p is not None][-10:] == list(range(50, 60))
    assert jb.resyncs == 1 and jb.late == 0


def test_forward_timestamp_jump_plays_at_once_but_a_long_loss_gap_does_not_resync():
    jb = JitterBuffer(delay=0.04)
    for i in range(10):
        jb.push(pkt(i), i * 0.02)
    jb.pop(0.25)
    jb.push(pkt(10, ts0=1000 + 8000 * 600), 0.22)       # ten minutes ahead, same arrival pace
    assert payloads(jb.pop(0.22 + 0.04)) == [10] and jb.resyncs == 1
    # 2 s of lost packets: arrivals move on with the timestamps, playout just continues
    jb2 = JitterBuffer(delay=0.04)
    jb2.push(pkt(0), 0.0)
    jb2.push(pkt(100), 2.0)
    assert jb2.resyncs == 0 and payloads(jb2.pop(2.04))[-1] == 100
