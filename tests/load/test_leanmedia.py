"""The lean engine's media (sipclient.load.leanmedia) with a fake clock: the grid, the
packets, the RFC 3550 counts. Packets are read back with the project's RTP parser."""

from __future__ import annotations

import random

import pytest

from sipclient.load.leanmedia import LeanMedia, sdp_remote
from sipclient.load.media import TONE_HZ, tone_payload
from sipclient.media.audio import dominant_frequency
from sipclient.media.codecs.g711 import ulaw_decode
from sipclient.media.rtp import RtpPacket

FAR = ("127.0.0.1", 7000)


def media() -> LeanMedia:
    return LeanMedia(tone_payload(), rng=random.Random(7))


def run(m: LeanMedia, until: float, step: float = 0.001, echo: bool = False,
        drop: set[int] | None = None) -> list[bytes]:
    sent, now, n = [], -step, 0
    while now < until - 1e-9:
        now = round(now + step, 6)
        m.tick(now)
        for packet, addr in m.out:
            sent.append(packet)
            n += 1
            if echo and n not in (drop or set()):
                m.receive(packet, addr, now + 0.0002)
        m.out.clear()
    return sent


def test_the_payload_is_20ms_of_the_tone_in_pcmu():
    payload = tone_payload()
    assert len(payload) == 160
    assert abs(dominant_frequency(ulaw_decode(payload * 10)) - TONE_HZ) < 20


def test_each_stream_sends_every_20ms_with_its_own_ssrc_sequence_and_timestamp():
    m = media()
    m.start(b"a", FAR, 0.0)
    m.start(b"b", ("127.0.0.1", 7002), 0.0)
    packets = [RtpPacket.parse(p) for p in run(m, 0.099)]
    by_ssrc: dict[int, list[RtpPacket]] = {}
    for p in packets:
        by_ssrc.setdefault(p.ssrc, []).append(p)
    assert len(by_ssrc) == 2
    for stream in by_ssrc.values():
        assert len(stream) == 5  # 0, 20, 40, 60, 80 ms
        assert all(p.payload_type == 0 and len(p.payload) == 160 for p in stream)
        assert [(q.sequence_number - p.sequence_number) & 0xFFFF
                for p, q in zip(stream, stream[1:])] == [1] * 4
        assert [(q.timestamp - p.timestamp) & 0xFFFFFFFF
                for p, q in zip(stream, stream[1:])] == [160] * 4
        assert stream[0].marker and not any(p.marker for p in stream[1:])


def test_streams_take_the_least_busy_slots_of_the_grid():
    m = media()
    for k in range(40):
        m.start(b"c%d" % k, FAR, 0.0)
    m.tick(0.0)
    assert len(m.out) == 2  # 40 streams over 20 slots: 2 a millisecond, not 40 at once
    m.out.clear()
    assert m.next_time() == pytest.approx(0.001)


def test_echo_counts_no_loss_and_jitter_from_arrival_times():
    m = media()
    m.start(b"a", FAR, 0.0)
    sent = run(m, 0.999, echo=True)
    figures = m.stop(b"a")
    assert figures["packets_sent"] == len(sent) == 50
    assert figures["packets_received"] == 50 and figures["expected"] == 50
    assert figures["lost"] == 0
    assert figures["jitter_ms"] == pytest.approx(0.0, abs=0.01)
    assert figures["send_error_p99_ms"] == 0.0 and figures["tone_heard"] is False


def test_missing_packets_are_lost_as_rfc3550_counts_them():
    m = media()
    m.start(b"a", FAR, 0.0)
    run(m, 0.999, echo=True, drop={5, 6, 30})
    figures = m.stop(b"a")
    assert (figures["expected"], figures["packets_received"], figures["lost"]) == (50, 47, 3)


def test_a_late_clock_sends_every_due_packet_with_its_error():
    m = media()
    m.start(b"a", FAR, 0.0)
    m.tick(0.0)
    m.out.clear()
    m.tick(0.105)  # 105 ms late: the packets of 20, 40, 60, 80, 100 ms leave now
    assert len(m.out) == 5
    m.out.clear()
    figures = m.stop(b"a")
    assert figures["packets_sent"] == 6
    assert figures["send_error_p99_ms"] == pytest.approx(85.0)  # the 20 ms packet's


def test_a_peer_with_its_own_ssrc_is_matched_by_its_address():
    m = media()
    m.start(b"a", FAR, 0.0)
    own = bytes(RtpPacket(payload_type=0, sequence_number=1, timestamp=0,
                          ssrc=0xDEADBEEF, payload=b"\xff" * 160))
    m.receive(own, FAR, 0.01)
    m.receive(own, ("127.0.0.1", 9999), 0.01)  # nobody's
    m.receive(b"\x00" * 5, FAR, 0.01)  # not RTP
    assert m.strays == 2
    assert m.stop(b"a")["packets_received"] == 1


def test_sdp_remote_reads_the_answer_address():
    answer = (b"SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\n"
              b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
              b"m=audio 6000 RTP/AVP 0\r\nc=IN IP4 10.0.0.3\r\n")
    assert sdp_remote(answer) == ("10.0.0.3", 6000)  # the media-level c= wins
    assert sdp_remote(answer.replace(b"\r\nc=IN IP4 10.0.0.3", b"")) == ("10.0.0.2", 6000)
    assert sdp_remote(answer.replace(b"m=audio 6000", b"m=audio 0")) is None
    assert sdp_remote(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n") is None
