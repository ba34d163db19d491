"""The pure RTP/RTCP stream (sipclient.media.stream) on a fake clock: two streams wired to
each other in memory, time advanced by hand, no socket and no sleep."""

from __future__ import annotations

import pytest

from sipclient.agent.media import AudioAnalyser, make_source
from sipclient.media.codecs.g711 import ulaw_encode
from sipclient.media.audio import ToneSource
from sipclient.media.rtp import RtpPacket
from sipclient.media.stream import RtpStream, StreamParams

A = ("10.0.0.1", 4000)
B = ("10.0.0.2", 5000)


def near(value, target, share):
    return value is not None and abs(value - target) <= target * share


def pair(codec="PCMU", pt=0, tones=(1000, 600), dtmf_pt=101, level="full"):
    a = RtpStream(source=make_source(f"tone:{tones[0]}"), sink=AudioAnalyser(), level=level)
    b = RtpStream(source=make_source(f"tone:{tones[1]}"), sink=AudioAnalyser(), level=level)
    a.configure(StreamParams(B, (B[0], B[1] + 1), codec, pt, dtmf_pt=dtmf_pt))
    b.configure(StreamParams(A, (A[0], A[1] + 1), codec, pt, dtmf_pt=dtmf_pt))
    return a, b


def run(a: RtpStream, b: RtpStream, seconds: float, *, t0: float = 0.0, delay: float = 0.005,
        late: float = 0.0) -> float:
    """Frames every 20 ms (b 7 ms after a), each packet delivered ``delay`` later; returns
    the time reached."""
    peers = {B: b, (B[0], B[1] + 1): b, A: a, (A[0], A[1] + 1): a}
    pending: list[tuple[float, RtpStream, bytes, bool]] = []
    t = t0
    for n in range(round(seconds / 0.02)):
        for stream, offset in ((a, 0.0), (b, 0.007)):
            deadline = t0 + n * 0.02 + offset
            for when, dest, data, is_rtcp in sorted(p for p in pending if p[0] <= deadline):
                (dest.receive_rtcp if is_rtcp else dest.receive_rtp)(data, when)
            pending = [p for p in pending if p[0] > deadline]
            stream.send_due(deadline + late, deadline)
            stream.after_send(deadline + late)
            for data, addr, now in stream.outbox:
                pending.append((now + delay, peers[addr], data, addr[1] % 2 == 1))
            stream.outbox.clear()
        t = t0 + (n + 1) * 0.02
    for when, dest, data, is_rtcp in sorted(pending, key=lambda p: p[0]):
        (dest.receive_rtcp if is_rtcp else dest.receive_rtp)(data, when)
    return t


@pytest.mark.parametrize("codec,pt,share", [("PCMU", 0, 0.01), ("PCMA", 8, 0.01),
                                            ("GSM", 3, 0.01), ("G729", 18, 0.02)])
def test_tones_cross_in_each_codec(codec: str, pt: int, share: float) -> None:
    a, b = pair(codec, pt)
    run(a, b, 1.5)
    ta, tb = a.receive_totals(), b.receive_totals()
    assert near(a.sink.dominant_hz(), 600, share) and near(b.sink.dominant_hz(), 1000, share)
    assert ta["lost"] == 0 and tb["lost"] == 0 and ta["packets"] == 75
    assert ta["jitter_ms"] == pytest.approx(0.0, abs=1e-6)  # a fixed delay has no jitter


def test_frames_follow_the_deadlines_and_the_send_error_is_measured() -> None:
    a, b = pair()
    run(a, b, 1.0, late=0.0013)
    assert a.sender.packets_sent == 50
    assert a.send_late == [pytest.approx(0.0013)] * 50
    c = RtpStream(source=make_source("silence"))
    c.configure(StreamParams(B))
    for n in range(5):
        c.send_due(n * 0.02, n * 0.02)
    ts = [RtpPacket.parse(d).timestamp for d, _, _ in c.outbox]
    assert [x - ts[0] for x in ts] == [0, 160, 320, 480, 640]  # no drift, no gap


def test_rfc4733_digits_cross_once_each_and_the_token_says_when() -> None:
    a, b = pair()
    done: list[object] = []
    a.dtmf_done = done.append  # type: ignore[method-assign]
    t = run(a, b, 0.2)
    a.queue_dtmf("123#*0", token="all sent")
    t = run(a, b, 6 * 0.28, t0=t)
    assert done == ["all sent"]
    run(a, b, 0.3, t0=t)
    assert b.digits_rfc4733 == list("123#*0")
    assert b.sink.digits == []  # events, no tones


def test_inband_digits_are_heard_by_goertzel() -> None:
    a, b = pair()
    a.source = make_source("silence")
    t = run(a, b, 0.2)
    a.queue_dtmf("59D", mode="inband")
    run(a, b, 1.2, t0=t)
    assert b.digits_rfc4733 == [] and b.sink.digits == list("59D")


def test_without_telephone_event_dtmf_goes_inband() -> None:
    a, b = pair("PCMA", 8, dtmf_pt=None)
    a.source = make_source("silence")
    t = run(a, b, 0.2)
    a.queue_dtmf("7")
    run(a, b, 0.6, t0=t)
    assert b.digits_rfc4733 == [] and b.sink.digits == ["7"]


def test_rtcp_reports_and_bye() -> None:
    a, b = pair()
    t = run(a, b, 0.5)
    a.rtcp_report(t)
    a.rtcp_report(t + 0.1, bye=True)
    for data, addr, now in a.outbox:
        b.receive_rtcp(data, now + 0.005)
    assert a.rtcp_sent == 2 and b.rtcp_received == 2 and b.byes == [a.ssrc]


def test_packets_level_counts_without_decoding() -> None:
    a, b = pair(level="packets")
    run(a, b, 1.0)
    assert len(a._payloads) == 50
    assert b.receive_totals()["packets"] == 50 and b.receive_totals()["lost"] == 0
    assert b.sink.received_audio().size == 0


def test_new_ssrc_and_off_grid_timestamps_keep_playing() -> None:
    """A transfer brings a new SSRC; a source may jump its timestamps off the 20 ms grid.
    The jitter buffer restarts instead of holding those packets forever."""
    s = RtpStream(sink=AudioAnalyser())
    s.configure(StreamParams(None, codec="PCMU", payload_type=0))
    tone = ToneSource(1000)
    parts = [(1111, 0, 1000), (2222, 500, 80), (2222, 530, 80 + 30 * 160 + 37)]
    t = 0.0
    for ssrc, seq, ts in parts:  # 0.6 s each: first source, a new one, an off-grid jump
        for i in range(30):
            pkt = RtpPacket(0, seq + i, ts + 160 * i, ssrc, ulaw_encode(tone.read(160)))
            s.receive_rtp(bytes(pkt), t)
            s.send_due(t + 0.01, t + 0.01)
            s.after_send(t + 0.01)
            t += 0.02
    assert s.jb_resets >= 2
    assert near(s.sink.dominant_hz(since=t - 0.4), 1000, 0.01)
    assert s.receive_totals()["packets"] == 90


def test_packet_bytes_is_the_packet_the_object_path_builds() -> None:
    import random

    from sipclient.media.rtp import RtpSender

    fast = RtpSender(0, 160, rng=random.Random(4))
    slow = RtpSender(0, 160, rng=random.Random(4))
    for _ in range(3):
        ts = slow.timestamp
        assert fast.packet_bytes(b"\xff" * 160, ts) == bytes(slow.packet(b"\xff" * 160))
    assert (fast.sequence_number, fast.packets_sent, fast.octets_sent) == (
        slow.sequence_number, slow.packets_sent, slow.octets_sent)
