"""Jitter across RTP timestamp jumps without a new SSRC agrees with tshark 4.0.

Asterisk keeps the SSRC and the sequence numbers when early media turns into the answered
call but restarts the RTP timestamp (captures/invite-early-media.pcap, frame 311: 24000 ->
3377621432, no marker). Wireshark's RTP analysis (ui/tap-rtp-analysis.c) takes a packet
whose timestamp is before the first packet's, or 2**31 or more after it, as out of time
sequence: it is left out of the jitter and of max delta, and the references (arrival,
timestamp) stay at the last packet in sequence. ``sipclient.media.stats`` documents it.

A capture is built here with :class:`~sipclient.pcap.writer.PcapWriter`, one RTP stream
per scenario (forward and backward jumps, with and without marker, below the first
timestamp and back, the Asterisk jump), and tshark is run on it at test time
(``-o rtp.heuristic_rtp:TRUE``: there is no SDP). ``sipclient pcap summary`` (the numpy
form) and :class:`~sipclient.media.stats.StreamStats` (packet by packet) must both give
tshark's packets, lost, max delta, mean and max jitter to its printed precision.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sipclient.cli import Env, main
from sipclient.media.rtp import RtpPacket
from sipclient.media.stats import ReceiveStatistics
from sipclient.pcap.rtp_stats import stream_figures
from sipclient.pcap.writer import PcapWriter

GOLDEN = Path(__file__).resolve().parent.parent.parent / "captures" / "invite-early-media.pcap"

# name -> (first timestamp, segments: (packets, timestamp jump at its first packet, marker))
SCENARIOS: dict[str, tuple[int, list[tuple[int, int, bool]]]] = {
    "forward": (1000, [(60, 0, False), (60, 80_000, False), (60, 16_000, True)]),
    # back by 0.5 s and 1 s, still after the first timestamp: in sequence, a jitter spike
    "backward-above-first": (500_000, [(60, 0, False), (60, -4_000, False),
                                       (60, -8_000, True), (40, 0, False)]),
    # back below the first timestamp: out of sequence for good
    "backward-below-first": (500_000, [(60, 0, False), (60, -40_000, False),
                                       (60, -8_000, True)]),
    # jumps back below the first timestamp: out of sequence until it climbs past it again
    "below-first-and-back": (5000, [(60, 0, False), (60, -13_600, False), (40, 0, False),
                                    (60, -12_000, True), (40, 0, False)]),
    # Asterisk's early media -> answer: 24000 -> 3377621432, with and without marker
    "asterisk": (0, [(151, 0, False), (80, 3_377_621_432 - 24_160, False)]),
    "asterisk-marker": (0, [(151, 0, False), (80, 3_377_621_432 - 24_160, True)]),
    # just under 2**31 ahead of the first packet: still in sequence for Wireshark
    "forward-almost-half": (1000, [(50, 0, False), (50, 2**31 - 100_000, True),
                                   (30, 0, False)]),
}
SSRC0 = 0x5EED0000


def tshark(*args: str) -> str:
    assert shutil.which("tshark"), "tshark is missing (apt-get install tshark)"
    done = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tshark_streams(pcap: Path) -> dict[int, dict]:
    """``tshark -q -z rtp,streams`` with heuristic RTP, by SSRC."""
    out = {}
    for line in tshark("-r", str(pcap), "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z",
                       "rtp,streams").splitlines():
        t = line.split()
        lost_at = next((i for i, x in enumerate(t) if re.fullmatch(r"\(.*%\)", x)), None)
        if lost_at is None or len(t) < lost_at + 7:
            continue
        out[int(t[6], 16)] = {
            "packets": int(t[lost_at - 2]), "lost": int(t[lost_at - 1]),
            "max_delta_ms": float(t[lost_at + 3]), "mean_jitter_ms": float(t[lost_at + 5]),
            "max_jitter_ms": float(t[lost_at + 6])}
    return out


def build(path: Path) -> dict[int, list[tuple[RtpPacket, float]]]:
    """One stream per scenario on its own ports, 20 ms packets with arrival noise."""
    rng = np.random.default_rng(20240611)
    streams: dict[int, list[tuple[RtpPacket, float]]] = {}
    for k, (name, (ts0, segments)) in enumerate(SCENARIOS.items()):
        ssrc, seq, ts, t = SSRC0 + k, 1000, ts0 - 160, 1_700_000_000.0 + k
        packets = streams[ssrc] = []
        for count, jump, marker in segments:
            for i in range(count):
                ts = (ts + 160 + (jump if i == 0 else 0)) % 2**32
                t += 0.020 + float(np.clip(rng.normal(0.0, 0.002), -0.015, 0.015))
                pkt = RtpPacket(0, seq, ts, ssrc, bytes([0xFF]) * 160, marker and i == 0)
                packets.append((pkt, round(t, 6)))
                seq += 1
    records = sorted(((t, k, pkt) for k, (ssrc, pkts) in enumerate(streams.items())
                      for pkt, t in pkts), key=lambda r: (r[0], r[1]))
    with path.open("wb") as f:
        w = PcapWriter(f)
        for t, k, pkt in records:
            w.write(t, "udp", ("127.0.0.1", 40000 + 2 * k), ("127.0.0.1", 50000 + 2 * k),
                    bytes(pkt))
    return streams


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Path, dict[int, list[tuple[RtpPacket, float]]]]:
    path = tmp_path_factory.mktemp("jumps") / "jumps.pcapng"
    return path, build(path)


def summary_streams(path: Path, *extra: str) -> dict[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    assert main(["pcap", "summary", str(path), "--json", *extra],
                Env(stdout=out, stderr=err)) == 0, err.getvalue()
    return {int(s["ssrc"], 16): s for s in json.loads(out.getvalue())["rtp"]["streams"]}


def close(ours: float, theirs: float) -> bool:
    """Equal to tshark's 3 printed decimals (relative for the huge jitter of a big jump)."""
    return ours == pytest.approx(theirs, abs=0.0011, rel=1e-9)


@pytest.mark.parametrize("k, name", list(enumerate(SCENARIOS)), ids=list(SCENARIOS))
def test_timestamp_jumps_match_tshark(capture, k, name):
    path, streams = capture
    ssrc = SSRC0 + k
    theirs = tshark_streams(path)[ssrc]
    # the capture analysis (numpy form), through the CLI
    fast = summary_streams(path, "--heuristic-rtp")[ssrc]
    # the live statistics, packet by packet
    r = ReceiveStatistics()
    for pkt, t in streams[ssrc]:
        r.on_packet(pkt, t)
    ref = r.streams[ssrc].summary()
    print(f"\n{name}: tshark {theirs}\n  summary {[fast[x] for x in theirs]}"
          f"\n  StreamStats {ref.max_delta_ms:.3f} {ref.mean_jitter_ms:.3f} "
          f"{ref.max_jitter_ms:.3f}")
    for figure in ("packets", "lost"):
        assert fast[figure] == theirs[figure] == getattr(ref, figure), figure
    for figure in ("max_delta_ms", "mean_jitter_ms", "max_jitter_ms"):
        assert close(fast[figure], theirs[figure]), (figure, fast[figure], theirs[figure])
        assert close(getattr(ref, figure), theirs[figure]), (figure, getattr(ref, figure))
    # and the two forms are equal, not close
    pkts = [p for p, _ in streams[ssrc]]
    rates = np.zeros(128, dtype=np.int64)
    rates[0] = 8000
    got = stream_figures(ssrc, np.array([p.sequence_number for p in pkts], dtype=np.uint16),
                         np.array([p.timestamp for p in pkts], dtype=np.uint32),
                         np.array([t for _, t in streams[ssrc]]),
                         np.zeros(len(pkts), dtype=np.int64),
                         np.array([p.marker for p in pkts]), rates)
    assert got is not None
    assert got[0] == dataclasses.replace(ref, bytes=0)      # the CLI adds the bytes


def test_golden_early_media_capture():
    """captures/invite-early-media.pcap: tshark 4.0 gives 0x14C3E6F6 mean/max jitter
    0.334/1.054 ms (the answered call's packets are out of time sequence)."""
    assert GOLDEN.is_file()
    theirs = {}
    for line in tshark("-r", str(GOLDEN), "-q", "-z", "rtp,streams").splitlines():
        t = line.split()
        lost_at = next((i for i, x in enumerate(t) if re.fullmatch(r"\(.*%\)", x)), None)
        if lost_at is not None and len(t) >= lost_at + 7:
            theirs[int(t[6], 16)] = (float(t[lost_at + 3]), float(t[lost_at + 5]),
                                     float(t[lost_at + 6]))
    assert theirs[0x14C3E6F6] == (24.834, 0.334, 1.054)
    ours = summary_streams(GOLDEN)
    assert sorted(ours) == sorted(theirs)
    for ssrc, (max_delta, mean, top) in theirs.items():
        s = ours[ssrc]
        assert (s["max_delta_ms"], s["mean_jitter_ms"], s["max_jitter_ms"]) == \
            (max_delta, mean, top)
