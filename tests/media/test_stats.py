"""Receive statistics (RFC 3550 A.1, A.3, A.8): loss, duplicates, reordering, wrap, jitter,
report blocks; and Wireshark's figures on packets taken from public captures."""

import json
import subprocess
from pathlib import Path

import pytest

from sipclient.media.rtcp import ntp_from_unix, ntp_middle32
from sipclient.media.rtp import RtpPacket
from sipclient.media.stats import ReceiveStatistics, StreamStats


def feed(seqs, *, step=160, gap=0.02, start_ts=1000):
    """Packets in the given sequence order, timestamps following the sequence numbers,
    arrivals evenly spaced in arrival order (no jitter for in-order packets)."""
    s = StreamStats(1, 8000)
    first = seqs[0]
    kinds = []
    for i, seq in enumerate(seqs):
        offset = ((seq - first + 0x8000) & 0xFFFF) - 0x8000
        kinds.append(s.update(seq, (start_ts + offset * step) & 0xFFFFFFFF, i * gap))
    return s, kinds


@pytest.mark.parametrize("seqs, packets, expected, lost, dups, ooo", [
    (list(range(100, 110)), 10, 10, 0, 0, 0),
    ([100, 101, 103, 104], 4, 5, 1, 0, 0),                  # 102 lost
    ([100, 101, 101, 102], 4, 3, -1, 1, 0),                 # a duplicate: lost is negative
    ([100, 102, 101, 103], 4, 4, 0, 0, 1),                  # reordered
    ([100, 103, 101, 102, 104], 5, 5, 0, 0, 2),
    ([100, 101, 105, 103, 103], 5, 6, 1, 1, 1),             # late, its duplicate; 2 lost
    ([65534, 65535, 0, 1], 4, 4, 0, 0, 0),                  # wrap
    ([65534, 1], 2, 4, 2, 0, 0),                            # wrap with loss
    ([65535, 0, 65535], 3, 2, -1, 1, 0),                    # duplicate across the wrap
    ([0, 65535, 1], 3, 2, -1, 0, 1),    # older than the first packet: received, not expected (A.1)
    ([100, 101, 20000, 20001, 20002], 5, 5, 0, 0, 0),       # source restarted (A.1)
])
def test_counts(seqs, packets, expected, lost, dups, ooo):
    s, _ = feed(seqs)
    got = (s.packets, s.expected, s.lost, s.duplicates, s.out_of_order)
    assert got == (packets, expected, lost, dups, ooo)


def test_classification_and_extended_seq():
    s, kinds = feed([65534, 65535, 0, 0, 65535, 2, 30000, 100, 30001])
    assert kinds == ["first", "in-order", "in-order", "duplicate", "duplicate", "in-order",
                     "stray", "in-order", "restart"]
    s, _ = feed([(65000 + i * 50) & 0xFFFF for i in range(30)])    # one wrap, gaps of 50
    assert s.cycles == 65536 and s.extended_max == 65536 + (65000 + 29 * 50) % 65536


def test_long_stream_many_wraps():
    s = StreamStats(1)
    seq = 60000
    for i in range(200000):
        if i % 1000 != 999:                                      # one in 1000 lost
            s.update(seq & 0xFFFF, (i * 160) & 0xFFFFFFFF, i * 0.02)
        seq += 1
    assert s.expected == 200000 - 1 and s.lost == 199      # the last one (i=199999) is lost
    assert s.cycles == 3 * 65536 and s.extended_max == 60000 + 199998


def rfc_jitter(ts, arrival, rate):
    """RFC 3550 6.4.1, written out independently."""
    j, out = 0.0, []
    for i in range(1, len(ts)):
        d = (arrival[i] - arrival[i - 1]) * rate - (ts[i] - ts[i - 1])
        j = j + (abs(d) - j) / 16
        out.append(j)
    return out


def test_jitter_by_hand():
    s = StreamStats(1, 8000)
    s.update(1, 0, 0.000)
    s.update(2, 160, 0.030)            # D = 240 - 160 = 80 -> J = 5
    assert s.jitter == pytest.approx(5.0) and s.jitter_ms == pytest.approx(0.625)
    s.update(3, 320, 0.040)            # D = 80 - 160 = -80 -> J = 5 + 75/16
    assert s.jitter == pytest.approx(9.6875)


def test_jitter_matches_an_independent_computation():
    import random
    rng = random.Random(5)
    ts = [(4_294_960_000 + 160 * i) % 2**32 for i in range(500)]          # wraps
    arrival = [0.02 * i + rng.uniform(0, 0.015) for i in range(500)]
    arrival.sort()
    s = StreamStats(1, 8000)
    for i, (t, a) in enumerate(zip(ts, arrival)):
        s.update(i, t, a)
    unwrapped = [4_294_960_000 + 160 * i for i in range(500)]
    expected = rfc_jitter(unwrapped, arrival, 8000)
    assert s.jitter == pytest.approx(expected[-1])
    assert s.max_jitter_ms == pytest.approx(max(expected) / 8)
    # Wireshark's mean: running mean over the packets after the first
    assert s.mean_jitter_ms == pytest.approx(sum(expected) / len(expected) / 8)


def test_timestamp_restart_without_new_ssrc_is_out_of_time_sequence():
    """Asterisk's early media -> answer (captures/invite-early-media.pcap): same SSRC, next
    sequence number, timestamp 24000 -> 3377621432. As in Wireshark, those packets are out of
    time sequence: J, max and mean keep the early media's values (not hours of jitter)."""
    s = StreamStats(1, 8000)
    for i in range(151):
        s.update(i, 160 * i, 0.02 * i + (0.001 if i % 2 else 0.0))
    before = (s.jitter, s.max_jitter, s.mean_jitter_ms, s.max_delta)
    for i in range(151, 200):
        s.update(i, 3_377_621_432 + 160 * (i - 151), 0.02 * i + 0.0005, marker=(i == 151))
    assert (s.jitter, s.max_jitter, s.mean_jitter_ms, s.max_delta) == pytest.approx(before)
    assert s.wrong_timestamps == 49 and (s.packets, s.lost) == (200, 0)
    assert s.max_jitter_ms < 1.0 + 1e-6                   # |D| = 1 ms at most


def test_timestamp_back_below_the_first_then_past_it_again():
    """Out of time sequence until the timestamp passes the first packet's again; then D is
    measured from the last packet in sequence (arrival and timestamp), as Wireshark does."""
    s = StreamStats(1, 8000)
    s.update(0, 1000, 0.00)
    s.update(1, 1160, 0.02)                       # in sequence, D = 0
    s.update(2, 500, 0.04)                        # before the first timestamp: left out
    s.update(3, 660, 0.06)
    assert s.wrong_timestamps == 2 and s.jitter == 0.0 and s.max_delta == pytest.approx(0.02)
    s.update(4, 1320, 0.08)                       # back: R, S from packet 1
    # D = (0.08 - 0.02) * 8000 - (1320 - 1160) = 320; max delta is 60 ms (from packet 1)
    assert s.jitter == pytest.approx(320 / 16)
    assert s.max_delta == pytest.approx(0.06)


def test_timestamp_wrap_stays_in_time_sequence():
    """A real wrap through 2**32 (first timestamp near the top) stays in sequence."""
    s = StreamStats(1, 8000)
    for i in range(100):
        s.update(i, (2**32 - 800 + 160 * i) % 2**32, 0.02 * i)
    assert s.wrong_timestamps == 0 and s.jitter == pytest.approx(0.0, abs=1e-6)


def test_report_block_intervals_and_lsr():
    s, _ = feed([100, 101, 103, 104])
    s.on_sender_report(ntp_from_unix(10.0), arrival=50.0)
    block = s.report_block(now=50.5)
    assert (block.fraction_lost, block.cumulative_lost, block.highest_seq) == (256 // 5, 1, 104)
    assert block.lsr == ntp_middle32(ntp_from_unix(10.0)) and block.dlsr == 32768
    assert s.report_block(now=51).fraction_lost == 0                     # empty interval
    s.update(104, 1000 + 4 * 160, 1.0)                                    # a duplicate
    assert s.report_block(now=52).fraction_lost == 0 and s.lost == 0


def test_cumulative_lost_clamped_to_24_bits():
    s = StreamStats(1)
    s.update(0, 0, 0.0)
    s.cycles = 1 << 24 << 16                                              # absurd, but clamped
    assert s.report_block(0).cumulative_lost == 0x7FFFFF


def test_receive_statistics_per_ssrc_and_events_untimed():
    r = ReceiveStatistics({101: 0})
    for i in range(5):
        r.on_packet(RtpPacket(0, i, i * 160, 0xA, b"x" * 160), i * 0.02)
        r.on_packet(RtpPacket(8, 50 + i, i * 160, 0xB, b"y" * 160), i * 0.02)
    # an RFC 4733 event in stream A: same timestamp, 50 ms later, no jitter from it
    r.on_packet(RtpPacket(101, 5, 4 * 160, 0xA, b"evnt", marker=True), 0.13)
    r.on_packet(RtpPacket(0, 6, 6 * 160, 0xA, b"x" * 160), 0.14)    # arrival after the event
    a, b = r.streams[0xA], r.streams[0xB]
    assert (a.packets, b.packets, a.lost, b.lost) == (7, 5, 0, 0)
    assert a.timed_packets == 6 and a.payload_type_counts == {0: 6, 101: 1}
    assert a.bytes == 6 * 172 + 16 and a.payload_bytes == 6 * 160 + 4
    assert b.jitter == pytest.approx(0.0, abs=1e-9)
    # D for the last packet = (0.14 - 0.13) * 8000 - 320 = -240 (R from the event packet)
    assert a.jitter == pytest.approx(240 / 16)
    assert len(r.report_blocks(now=1.0)) == 2


# Four streams of ../shared/captures-public, read at test time (the captures are never copied
# here): tshark gives each packet's seq, timestamp, arrival, payload type and marker, and
# expected.json there holds what `tshark -z rtp,streams` reports for them: packets, lost, max
# delta, mean and max jitter (ms).
SHARED = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "captures-public"
CAPTURED = [  # capture, SSRC, heuristic RTP needed
    ("aaa.pcap", "0x3796CB71", False),
    ("dtmf_2833_1.pcap", "0x0E05384E", True),
    ("sip_ipv4_tcp.pcap", "0x42F433D4", False),
    ("sip_ipv4_tcp.pcap", "0x5A3361B3", False),
]


def captured_stream(capture: str, ssrc: str, heuristic: bool):
    assert (SHARED / capture).is_file(), f"{SHARED / capture} is missing (../shared beside the clone)"
    args = ["tshark", "-r", str(SHARED / capture), "-Y", f"rtp.ssrc == {ssrc}", "-T", "fields",
            "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "frame.time_epoch", "-e", "rtp.p_type",
            "-e", "rtp.marker"]
    if heuristic:
        args[1:1] = ["--enable-heuristic", "rtp_udp"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    expected = json.loads((SHARED / "expected.json").read_text())["files"][capture]["rtp_streams"]
    streams = expected["heuristic" if heuristic else "default"]["streams"]
    (stream,) = [x for x in streams if x["ssrc"].lower() == ssrc.lower()]
    return rows, stream


@pytest.mark.parametrize("capture, ssrc, heuristic", CAPTURED, ids=[f"{c[0]}-{c[1]}" for c in CAPTURED])
def test_matches_tshark_rtp_streams(capture, ssrc, heuristic):
    rows, want = captured_stream(capture, ssrc, heuristic)
    r = ReceiveStatistics({101: 0})
    first = float(rows[0][2])
    for seq, ts, arrival, pt, marker in rows:
        marked = marker in ("1", "True", "true")
        r.on_packet(RtpPacket(int(pt), int(seq), int(ts), 1, b"", marked), float(arrival) - first)
    s = r.streams[1].summary()
    assert (s.packets, s.lost) == (want["packets"], want["lost"])
    assert s.max_delta_ms == pytest.approx(want["max_delta_ms"], abs=0.0006)
    assert s.mean_jitter_ms == pytest.approx(want["mean_jitter_ms"], abs=0.0006)
    assert s.max_jitter_ms == pytest.approx(want["max_jitter_ms"], abs=0.0006)


@pytest.mark.parametrize("seed", range(6))
def test_count_short_path_gives_the_figures_of_update(seed):
    """``count`` (the receive path of level "packets") and ``update`` agree on every figure,
    through loss, reordering, duplicates, sequence wraps, timestamp jumps, comfort noise and
    payload type changes."""
    import random

    rng = random.Random(seed)
    a, b = StreamStats(1), StreamStats(1)
    seq, ts, t = rng.getrandbits(16), rng.getrandbits(32), 10.0
    for _ in range(3000):
        r = rng.random()
        if r < 0.03:
            seq += rng.choice((2, 5, -1, -3, 0, 4000))  # loss, reorder, duplicate, jump
        elif r < 0.04:
            ts += rng.choice((1 << 31, 160 * 50, -8000))
        pt = 13 if r > 0.995 else (8 if 0.98 < r <= 0.99 else 0)
        seq, ts = seq & 0xFFFF, ts & 0xFFFFFFFF
        t += 0.02 + rng.uniform(-0.004, 0.004)
        a.update(seq, ts, t, size=172, payload_size=160, payload_type=pt)
        b.count(seq, ts, t, 172, pt)
        seq, ts = seq + 1, ts + 160
    assert vars(a) == vars(b)
