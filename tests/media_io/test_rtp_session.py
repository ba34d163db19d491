"""RTP sessions and media sessions on loopback, no PBX: ports, offer/answer with hold and
the recording, on real sockets. What a stream does (tones through each codec, pacing, DTMF
both ways, RTCP, new SSRCs) is tested without sockets or sleeps in tests/media/test_stream.py,
the media clock in tests/media_io/test_media_clock.py."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from sipclient.agent.media import RealMedia
from sipclient.io.rtp_session import RtpSession


def near(value, target: float, share: float) -> bool:
    return value is not None and abs(value - target) <= target * share


@pytest.mark.asyncio
async def test_ports_are_an_even_rtp_port_and_the_next_odd_one() -> None:
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
    await asyncio.wait_for(main(), 30)


@pytest.mark.asyncio
async def test_a_taken_port_is_skipped() -> None:
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
    await asyncio.wait_for(main(), 30)


@pytest.mark.asyncio
async def test_media_sessions_offer_answer_hold_resume() -> None:
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
    a, b, since = await asyncio.wait_for(main(), 30)
    assert a["codec"] == b["codec"] == "PCMA"  # the offerer's order (RFC 3264 6.1)
    assert near(a["dominant_hz"], 600, 0.01) and near(b["dominant_hz"], 1000, 0.01)
    assert near(since, 600, 0.01)
    assert a["lost"] == 0 and b["lost"] == 0 and 1 <= a["mos"] <= 4.5


@pytest.mark.asyncio
async def test_record_writes_what_was_received(tmp_path) -> None:
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
    await asyncio.wait_for(main(), 30)
    samples = read_wav(tmp_path / "bob.wav")
    assert samples.size >= 6000 and near(dominant_frequency(samples), 1000, 0.01)
    assert np.abs(samples).max() > 1000
