"""Media levels per call: full (decode, analyse), packets (pre-encoded payloads, counting
only), none (SDP only, no socket)."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest

from sipclient.agent import AgentConfig
from sipclient.agent.media import AudioAnalyser, RealMedia, SdpOnlyMedia, make_media, make_source
from sipclient.io.rtp_session import RtpSession, StreamParams



async def _pair(level: str) -> tuple[RtpSession, RtpSession]:
    a = RtpSession("127.0.0.1", source=make_source("tone:1000"), sink=AudioAnalyser(),
                   level=level)
    b = RtpSession("127.0.0.1", source=make_source("tone:600"), sink=AudioAnalyser(),
                   level=level)
    await a.bind()
    await b.bind()
    for me, other in ((a, b), (b, a)):
        me.configure(StreamParams(("127.0.0.1", other.port), ("127.0.0.1", other.port + 1)))
        me.start()
    return a, b


@pytest.mark.asyncio
async def test_packets_level_sends_preencoded_payloads_and_only_counts() -> None:
    async def main() -> tuple[RtpSession, RtpSession]:
        a, b = await _pair("packets")
        for s in (a, b):  # from here on, an encode or a decode would be a failure
            s.encoder = mock.Mock(side_effect=AssertionError("encoded on the send path"))
            s.decoders = {pt: mock.Mock(side_effect=AssertionError("decoded"))
                          for pt in s.decoders}
        await asyncio.sleep(0.6)
        await a.stop()
        await b.stop()
        return a, b

    a, b = await asyncio.wait_for(main(), 60)
    assert len(a._payloads) == 50  # one second of 20 ms frames, encoded once
    ta = a.receive_totals()
    assert ta["packets"] >= 20 and ta["lost"] == 0 and ta["jitter_ms"] is not None
    assert a.sink.dominant_hz() is None and not a.sink.received_audio().size
    assert a.sender.packets_sent >= 20 and a.send_late


@pytest.mark.asyncio
async def test_full_level_decodes_what_arrives() -> None:
    async def main() -> tuple[RtpSession, RtpSession]:
        a, b = await _pair("full")
        await asyncio.sleep(0.6)
        await a.stop()
        await b.stop()
        return a, b

    a, b = await asyncio.wait_for(main(), 60)
    assert a.sink.received_audio().size > 0 and a.receive_totals()["lost"] == 0


@pytest.mark.asyncio
async def test_none_level_binds_nothing_and_still_negotiates() -> None:
    async def main() -> None:
        media = make_media("none", "127.0.0.1", ("PCMU", "PCMA"))
        assert isinstance(media, SdpOnlyMedia)
        await media.start()
        offer = media.offer()
        assert b"m=audio 9 RTP/AVP 0 8 101" in offer
        other = make_media("none", "127.0.0.1", ("PCMA",))
        await other.start()
        answer = other.answer(offer)
        assert b"m=audio 9 RTP/AVP 8" in answer
        media.accept(answer)
        assert media.stream is not None and media.stream.codec.name.upper() == "PCMA"
        assert media.stats() == [] and media.port == 9
        # the remote summary comes from the SDP the session parsed (no second parser)
        assert (media.remote.codec, media.remote.port, media.remote.direction) == (
            "PCMA", 9, "sendrecv")
        await media.close()
    await asyncio.wait_for(main(), 60)


def test_level_is_a_config_and_per_call_choice() -> None:
    assert AgentConfig(user="a").media_level == "full"
    assert AgentConfig(user="a", media_level="packets").media_level == "packets"
    with pytest.raises(ValueError, match="media_level 'loud'"):
        AgentConfig(user="a", media_level="loud")
    with pytest.raises(ValueError, match="trace_limit"):
        AgentConfig(user="a", trace_limit=0)
    assert isinstance(make_media("packets", "127.0.0.1", ("PCMU",)), RealMedia)
    with pytest.raises(ValueError, match="media level"):
        make_media("loud", "127.0.0.1", ("PCMU",))
