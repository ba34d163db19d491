"""One media session interface: every backend implements all of it, and a call's codecs
are chosen per call (``Agent.call(codecs=...)``, ``IncomingCall.answer(codecs=...)``), with
the agent's own setting left as it was."""

from __future__ import annotations

import asyncio

import pytest

from sipclient.agent import Agent, AgentConfig, AgentError, Secret
from sipclient.agent.media import RealMedia, SdpOnlyMedia
from sipclient.agent.media_session import MediaSession

from .fake_pbx import FakePbx
from .util import invite_agent

USERS = {"1001": "correct-horse-42"}


def _members() -> set[str]:
    names = set(MediaSession.__annotations__)
    names |= {n for n in vars(MediaSession) if not n.startswith("_")}
    return names


def _backends() -> list[type]:
    out: list[type] = [RealMedia, SdpOnlyMedia]
    try:
        from webrtc.session import WebRtcMedia
    except ImportError:  # aiortc is a dev dependency: CI has it
        pytest.fail("aiortc missing: pip install -e '.[dev]'")
    return [*out, WebRtcMedia]


@pytest.mark.parametrize("backend", _backends(), ids=lambda b: b.__name__)
def test_every_media_backend_implements_the_whole_interface(backend: type) -> None:
    members = _members()
    assert {"send_dtmf", "dtmf_received", "stats", "remote", "set_codecs", "codecs",
            "info_digits", "set_play", "set_record"} <= members
    instance_attrs = {"codecs", "info_digits"}  # set in __init__
    missing = [m for m in members - instance_attrs if not hasattr(backend, m)]
    assert not missing, f"{backend.__name__} lacks {missing}"


@pytest.mark.asyncio
async def test_call_codecs_apply_to_that_call_only() -> None:
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            cfg = AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]))
            async with Agent(cfg) as agent:
                first = await agent.call("600", codecs=("PCMA",))
                assert (await first.wait_final(timeout=5)).status == 200
                second = await agent.call("600")
                assert (await second.wait_final(timeout=5)).status == 200
                invites = [r for r in pbx.received if r.method == "INVITE" and r.body]
                one = next(r.body for r in invites if r.call_id == first.call_id)
                two = next(r.body for r in invites if r.call_id == second.call_id)
                assert b"m=audio" in one and b"PCMA/8000" in one and b"PCMU" not in one
                assert b"PCMU/8000" in two and b"GSM/8000" in two  # the agent's default
                assert agent.config.codecs == ("PCMU", "PCMA", "GSM")
                await first.hangup()
                await second.hangup()
    await asyncio.wait_for(main(), 60)


@pytest.mark.asyncio
async def test_answer_codecs_choose_the_answer_and_late_changes_are_refused() -> None:
    async def main() -> None:
        async with FakePbx(USERS) as pbx:
            cfg = AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]))
            async with Agent(cfg) as agent:
                _, handle = await invite_agent(pbx, agent)  # offers 8 0 (PCMA, PCMU)
                incoming = await agent.next_incoming(timeout=2)
                await incoming.answer(codecs=("PCMU",))
                final = await handle.final_response(timeout=3)
                assert final.status == 200 and b"RTP/AVP 0" in final.body
                assert b"PCMA" not in final.body
                with pytest.raises(AgentError, match="cannot change"):
                    incoming.media.set_codecs(("PCMA",))
                assert incoming.media.remote is not None
                assert incoming.media.remote.payloads == [8, 0]
                await asyncio.sleep(0)
    await asyncio.wait_for(main(), 60)


@pytest.mark.asyncio
async def test_dtmf_duration_goes_through_the_interface() -> None:
    """``duration_ms`` is part of send_dtmf: real RTP sends RFC 4733 events that long (their
    end packets carry 80 ms = 640 timestamp units at 8 kHz); SIP INFO and WebRTC refuse it
    in words."""
    from sipclient.media.dtmf import TelephoneEvent
    from sipclient.media.rtp import RtpPacket

    sent: list[bytes] = []

    def tap(direction, local, remote, data, when) -> None:
        if direction == "out":
            sent.append(bytes(data))

    async def main() -> str:
        alice = RealMedia("127.0.0.1", ("PCMU",), tap=tap)
        bob = RealMedia("127.0.0.1", ("PCMU",))
        await alice.start()
        await bob.start()
        alice.accept(bob.answer(alice.offer()))
        await alice.send_dtmf("12", "rfc4733", duration_ms=80)
        await asyncio.sleep(0.3)
        await alice.close()
        await bob.close()
        return bob.dtmf_received
    assert await asyncio.wait_for(main(), 60) == "12"
    events = []
    for data in sent:
        try:
            packet = RtpPacket.parse(data)
        except Exception:  # noqa: BLE001 - RTCP goes through the tap too
            continue
        if packet.payload_type == 101:
            events.append(TelephoneEvent.parse(packet.payload))
    ends = {(e.digit, e.duration) for e in events if e.end}
    assert ends == {("1", 640), ("2", 640)}

    async def refusals() -> None:
        from webrtc.session import WebRtcMedia

        with pytest.raises(AgentError, match="WebRTC"):
            await WebRtcMedia(("PCMU",)).send_dtmf("1", duration_ms=100)
        with pytest.raises(AgentError, match="no DTMF but SIP INFO"):
            await SdpOnlyMedia("127.0.0.1").send_dtmf("1", duration_ms=100)
        with pytest.raises(AgentError, match="sends no audio"):
            SdpOnlyMedia("127.0.0.1").set_play("tone:1000")
    await asyncio.wait_for(refusals(), 60)


def test_one_recording_file_per_call(tmp_path) -> None:
    """Every factory numbers the recordings through the agent: out.wav, out-2.wav ..."""
    from sipclient.agent.factories import call_recording

    cfg = AgentConfig(user="1001", server="udp:127.0.0.1:9")
    agent = Agent(cfg)
    out = str(tmp_path / "out.wav")
    assert [call_recording(agent, out) for _ in range(3)] == [
        out, str(tmp_path / "out-2.wav"), str(tmp_path / "out-3.wav")]
    assert call_recording(agent, None) is None and agent.media_count == 4
