"""RTP sessions and media sessions on loopback, no PBX: ports, pacing, tones through each
codec, DTMF both ways (RFC 4733 and in-band), RTCP, offer/answer with hold."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from sipclient.agent.media import AudioAnalyser, RealMedia, make_source
from sipclient.io.rtp_session import RtpSession, StreamParams


def run(coro, timeout: float = 30.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def near(value, target: float, share: float) -> bool:
    return value is not None and abs(value - target) <= target * share


async def pair(codec: str = "PCMU", pt: int = 0, tones=(1000, 600), dtmf_pt: int | None = 101,
               ) -> tuple[RtpSession, RtpSession]:
    a = RtpSession("127.0.0.1", source=make_source(f"tone:{tones[0]}"), sink=AudioAnalyser())
    b = RtpSession("127.0.0.1", source=make_source(f"tone:{tones[1]}"), sink=AudioAnalyser())
    await a.bind()
    await b.bind()
    for me, other in ((a, b), (b, a)):
        me.configure(StreamParams(("127.0.0.1", other.port), ("127.0.0.1", other.port + 1),
                                  codec, pt, dtmf_pt=dtmf_pt))
        me.start()
    return a, b


def test_ports_are_an_even_rtp_port_and_the_next_odd_one() -> None:
    async def main() -> None:
        sessions = [RtpSession("127.0.0.1") for _ in range(4)]
        for s in sessions:
            port = await s.bind()
            assert 10000 <= port < 20000 and port % 2 == 0
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with pytest.raises(OSError):  # the RTCP port is ours too
                probe.bind(("127.0.0.1", port + 1))
            probe.close()
        assert len({s.port for s in sessions}) == 4
        for s in sessions:
            await s.stop()
    run(main())


def test_a_taken_port_is_skipped() -> None:
    async def main() -> None:
        blockers = []
        base = None
        for candidate in range(30000, 31000, 4):  # a free block of 4 ports
            try:
                socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
                socks[0].bind(("127.0.0.1", candidate))
                socks[1].bind(("127.0.0.1", candidate + 3))
            except OSError:
                for s in socks:
                    s.close()
                continue
            blockers, base = socks, candidate
            break
        assert base is not None
        # range base..base+3 holds two pairs; the first is taken: the session takes the second
        s = RtpSession("127.0.0.1", port_range=(base, base + 3))
        with pytest.raises(OSError):  # base+3 (the second pair's RTCP) is taken too
            await s.bind()
        blockers[1].close()
        s = RtpSession("127.0.0.1", port_range=(base, base + 3))
        assert await s.bind() == base + 2
        await s.stop()
        blockers[0].close()
    run(main())


@pytest.mark.parametrize("codec,pt,share", [("PCMU", 0, 0.01), ("PCMA", 8, 0.01),
                                            ("GSM", 3, 0.01), ("G729", 18, 0.02)])
def test_tones_cross_in_each_codec(codec: str, pt: int, share: float) -> None:
    async def main():
        a, b = await pair(codec, pt)
        await asyncio.sleep(1.5)
        await a.stop()
        await b.stop()
        return a, b
    a, b = run(main())
    ta, tb = a.receive_totals(), b.receive_totals()
    print(f"\n{codec}: a hears {a.sink.dominant_hz()} Hz, b hears {b.sink.dominant_hz()} Hz; lost "
          f"{ta['lost']}/{tb['lost']}, jitter {ta['jitter_ms']:.3f} ms, send late p50 "
          f"{a.send_late_ms(50):.3f} p99 {a.send_late_ms(99):.3f} ms")
    assert near(a.sink.dominant_hz(), 600, share) and near(b.sink.dominant_hz(), 1000, share)
    assert ta["lost"] == 0 and tb["lost"] == 0 and ta["packets"] >= 70
    assert a.send_late_ms(99) < 10.0  # pacing: even a busy test machine stays within a frame


def test_pacing_has_no_drift() -> None:
    async def main():
        a, b = await pair()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(2.0)
        elapsed = loop.time() - t0
        sent = a.sender.packets_sent
        await a.stop()
        await b.stop()
        return elapsed, sent
    elapsed, sent = run(main())
    assert abs(sent - elapsed / 0.02) <= 2, (sent, elapsed)


def test_rfc4733_digits_cross_once_each() -> None:
    async def main():
        a, b = await pair()
        await asyncio.sleep(0.2)
        await a.send_dtmf("123#*0")
        await asyncio.sleep(0.3)
        await a.stop()
        await b.stop()
        return b
    b = run(main())
    assert b.digits_rfc4733 == list("123#*0")
    assert b.sink.digits == []  # events, no tones


def test_inband_digits_are_heard_by_goertzel() -> None:
    async def main():
        a, b = await pair(tones=(1000, 600))
        a.source = make_source("silence")
        await asyncio.sleep(0.2)
        await a.send_dtmf("59D", mode="inband")
        await asyncio.sleep(0.3)
        await a.stop()
        await b.stop()
        return b
    b = run(main())
    assert b.digits_rfc4733 == [] and b.sink.digits == list("59D")


def test_without_telephone_event_dtmf_goes_inband() -> None:
    async def main():
        a, b = await pair("PCMA", 8, dtmf_pt=None)
        a.source = make_source("silence")
        await asyncio.sleep(0.2)
        await a.send_dtmf("7")
        await asyncio.sleep(0.3)
        await a.stop()
        await b.stop()
        return b
    b = run(main())
    assert b.digits_rfc4733 == [] and b.sink.digits == ["7"]


def test_rtcp_reports_and_bye() -> None:
    async def main():
        a, b = await pair()
        a.RTCP_INTERVAL = b.RTCP_INTERVAL = 0.2
        a._rtcp_handle.cancel()
        a._send_rtcp()
        await asyncio.sleep(1.0)
        await a.stop()
        await asyncio.sleep(0.1)
        await b.stop()
        return a, b
    a, b = run(main())
    assert a.rtcp_sent >= 2 and b.rtcp_received >= 2
    assert b.byes == [a.ssrc]


def test_media_sessions_offer_answer_hold_resume() -> None:
    async def main():
        alice = RealMedia("127.0.0.1", ("PCMA", "PCMU"), play="tone:1000")
        bob = RealMedia("127.0.0.1", ("PCMU", "PCMA", "GSM"), play="tone:600")
        await alice.start()
        await bob.start()
        offer = alice.offer()
        assert b"m=audio " in offer and b"a=rtpmap:101 telephone-event/8000" in offer
        alice.accept(bob.answer(offer))
        await asyncio.sleep(1.0)
        alice.hold()
        hold_offer = alice.offer()
        hold_answer = bob.answer(hold_offer)
        alice.accept(hold_answer)
        assert b"a=sendonly" in hold_offer and b"a=recvonly" in hold_answer
        sent_on_hold = bob.rtp.sender.packets_sent
        await asyncio.sleep(0.5)
        assert bob.rtp.sender.packets_sent == sent_on_hold  # recvonly: bob is silent
        alice.unhold()
        resume = alice.offer()
        alice.accept(bob.answer(resume))
        assert b"a=sendrecv" in resume
        resumed = asyncio.get_running_loop().time()
        await asyncio.sleep(1.0)
        since = alice.dominant_hz(since=resumed + 0.2)
        await alice.close()
        await bob.close()
        return alice.stats()[0], bob.stats()[0], since
    a, b, since = run(main())
    assert a["codec"] == b["codec"] == "PCMA"  # the offerer's order (RFC 3264 6.1)
    assert near(a["dominant_hz"], 600, 0.01) and near(b["dominant_hz"], 1000, 0.01)
    assert near(since, 600, 0.01)
    assert a["lost"] == 0 and b["lost"] == 0 and 1 <= a["mos"] <= 4.5


def test_record_writes_what_was_received(tmp_path) -> None:
    from sipclient.media.audio import dominant_frequency, read_wav

    async def main():
        alice = RealMedia("127.0.0.1", ("PCMU",), play="tone:1000")
        bob = RealMedia("127.0.0.1", ("PCMU",), record=str(tmp_path / "bob.wav"))
        await alice.start()
        await bob.start()
        alice.accept(bob.answer(alice.offer()))
        await asyncio.sleep(1.0)
        await alice.close()
        await bob.close()
    run(main())
    samples = read_wav(tmp_path / "bob.wav")
    assert samples.size >= 6000 and near(dominant_frequency(samples), 1000, 0.01)
    assert np.abs(samples).max() > 1000


def test_new_ssrc_and_off_grid_timestamps_keep_playing() -> None:
    """A transfer brings a new SSRC; a source may jump its timestamps off the 20 ms grid.
    The jitter buffer restarts instead of holding those packets forever, and stop() ends."""
    from sipclient.media.audio import ToneSource
    from sipclient.media.codecs.g711 import ulaw_encode
    from sipclient.media.rtp import RtpPacket

    async def main():
        s = RtpSession("127.0.0.1", sink=AudioAnalyser())
        await s.bind()
        s.configure(StreamParams(None, codec="PCMU", payload_type=0))
        s.start()
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tone = ToneSource(1000)
        loop = asyncio.get_running_loop()
        parts = [(1111, 0, 1000), (2222, 500, 80), (2222, 530, 80 + 30 * 160 + 37)]
        for ssrc, seq, ts in parts:  # 0.6 s each: first source, a new one, an off-grid jump
            for i in range(30):
                pkt = RtpPacket(0, seq + i, ts + 160 * i, ssrc, ulaw_encode(tone.read(160)))
                tx.sendto(bytes(pkt), ("127.0.0.1", s.port))
                await asyncio.sleep(0.02)
        last = loop.time() - 0.4
        await asyncio.sleep(0.1)
        await asyncio.wait_for(s.stop(), 2)
        tx.close()
        return s, s.sink.dominant_hz(since=last)
    s, recent = run(main())
    assert s.jb_resets >= 2
    assert near(recent, 1000, 0.01)
    assert s.receive_totals()["packets"] == 90
