"""Interoperability with an independent SIP stack: pjsua2 (PJSIP 2.15) through the lab.

A pjsua2 user agent (tests/interop/pj.py: its own UDP port on 127.0.0.5, null audio, no SIP
threads of its own) registers extension 1014 at the lab's Asterisk; our Agent is extension
1015 on 127.0.0.1. Both directions are checked, and the hang-up from either side:

* our Agent calls pjsua2: our flow is INVITE, 401, ACK, INVITE, 100, (180,) 200, ACK ...
  BYE, 200 and pjsua2 reports the call CONFIRMED, then DISCONNECTED;
* pjsua2 calls our Agent (registered; it answers): pjsua2 sees the call CONFIRMED, the
  hang-up is clean on both sides.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.agent import StubMedia

from .pj import PjCall, PjUA, until

pytestmark = pytest.mark.lab

PJ_EXT, OUR_EXT = "1014", "1015"


def in_order(flow: list[str], expected: list[str]) -> bool:
    """``expected`` appears in ``flow`` in this order (other messages may come between)."""
    it = iter(flow)
    return all(any(name == got for got in it) for name in expected)


@pytest.fixture
def pjua(lab, tmp_path):
    """A started pjsua2 UA registered as 1014; libDestroy runs whatever the test did."""
    ua = PjUA("127.0.0.5", log_file=tmp_path / "pjsua2.log")
    try:
        ua.start()
        acc = lab.account(PJ_EXT)
        code = ua.register(acc.extension, acc.password,
                           (lab.config.probe_host, lab.config.sip_port), acc.domain)
        assert code == 200, f"pjsua2 REGISTER answered {code}\n{ua.log_tail()}"
        contacts = lab.contacts(PJ_EXT)
        assert contacts and f"127.0.0.5:{ua.port}" in contacts[0].uri, contacts
        yield ua
    finally:
        ua.stop()  # libDestroy in the pj thread, then joined: nothing of pjsua2 stays
    assert not ua.running
    assert not lab.contacts(PJ_EXT), "pjsua2 did not unregister at libDestroy"


def pj_version() -> str:
    try:
        import pjsua2

        return "PJSIP " + pjsua2.Endpoint.instance().libVersion().full
    except Exception:  # noqa: BLE001 - the version is informative only
        return "PJSIP (pjsua2)"


def stub_media(agent: Agent) -> StubMedia:
    """SDP offer/answer on a real RTP port that discards what arrives: signalling is what
    is checked here (and the default media may need audio libraries)."""
    return StubMedia(agent.local_ip, agent.config.codecs)


def our_config(lab, **kw) -> AgentConfig:
    c = lab.config
    # G.711 only: the lab prefers G.729, which pjsua2 lacks and Asterisk cannot transcode
    kw.setdefault("codecs", ("PCMU", "PCMA"))
    return AgentConfig(user=OUR_EXT, password=Secret(lab.account(OUR_EXT).password),
                       server=f"udp:{c.probe_host}:{c.sip_port}", **kw)


@pytest.mark.parametrize("hangup_by", ["us", "pjsua2"])
@pytest.mark.asyncio
async def test_agent_calls_pjsua2(lab, pjua: PjUA, hangup_by: str, matrix) -> None:
    cell = matrix.cell("pjsua2", "us -> peer", "udp", "PCMU/PCMA", version=pj_version(),
                       via=f"Asterisk lab; hang-up by {hangup_by}")
    cell.checked(note="signalling only (stub media, pjsua2 null audio)")

    async def main() -> None:
        async with Agent(our_config(lab), media_factory=stub_media) as agent:
            call = await agent.call(PJ_EXT)
            final = await call.wait_final(timeout=10)
            assert final.status == 200, (final, pjua.log_tail())
            theirs = await pjua.next_incoming(timeout=5)
            await theirs.wait_state("CONFIRMED", timeout=5)
            await asyncio.sleep(0.3)  # a little talk time: RTP flows through Asterisk
            if hangup_by == "us":
                await call.hangup()
                assert call.end_reason == "local BYE"
            else:
                await theirs.hangup()
                assert await call.wait_ended(timeout=5) == "remote BYE"
            await theirs.wait_state("DISCONNECTED", timeout=5)
            flow = agent.flow(call.call_id)
            assert in_order(flow, ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK",
                                   "BYE", "200"]), flow
            assert flow[:4] == ["INVITE", "401", "ACK", "INVITE"], flow
            assert flow[-2:] == ["BYE", "200"], flow
            assert "180" in flow, flow  # pjsua2 rang first (we answer 180 then 200)
            states = theirs.states
            assert states.index("CONFIRMED") < states.index("DISCONNECTED"), states
            assert theirs.remote_uri and OUR_EXT in theirs.remote_uri
        assert call.state == "ended"
    await asyncio.wait_for(main(), 60)


@pytest.mark.parametrize("hangup_by", ["us", "pjsua2"])
@pytest.mark.asyncio
async def test_pjsua2_calls_agent(lab, pjua: PjUA, hangup_by: str, matrix) -> None:
    cell = matrix.cell("pjsua2", "peer -> us", "udp", "PCMU/PCMA", version=pj_version(),
                       via=f"Asterisk lab; hang-up by {hangup_by}")
    cell.checked(note="signalling only (stub media, pjsua2 null audio)")

    async def main() -> None:
        async with Agent(our_config(lab), media_factory=stub_media) as agent:
            reg = await agent.register()
            assert reg.ok, reg
            uri = f"sip:{OUR_EXT}@{lab.config.probe_host}:{lab.config.sip_port}"
            theirs = await pjua.call(uri)
            incoming = await agent.next_incoming(timeout=10)
            assert PJ_EXT in incoming.caller
            await incoming.ringing()
            await incoming.answer()
            await theirs.wait_state("CONFIRMED", timeout=10)
            await asyncio.wait_for(incoming.acked.wait(), 5)
            assert theirs.last_status == 200
            await asyncio.sleep(0.3)
            if hangup_by == "us":
                await incoming.hangup()
                assert incoming.end_reason == "local BYE"
            else:
                await theirs.hangup()
                assert await incoming.wait_ended(timeout=5) == "remote BYE"
            await theirs.wait_state("DISCONNECTED", timeout=5)
            assert theirs.states[-1] == "DISCONNECTED"
            assert theirs.last_status == 200, theirs.last_status  # the BYE's 200 (either way)
            flow = agent.flow(incoming.call_id)
            assert flow[0] == "INVITE" and in_order(flow, ["INVITE", "180", "200", "ACK",
                                                           "BYE", "200"]), flow
            await until(lambda: not agent.sessions or all(
                s.is_ended for s in agent.sessions.values()), 2, "ended sessions")
        assert agent.flow()[-4:] == ["REGISTER", "401", "REGISTER", "200"]  # un-REGISTER
    await asyncio.wait_for(main(), 60)


@pytest.mark.parametrize("direction", ["us -> peer", "peer -> us"])
@pytest.mark.asyncio
async def test_audio_both_ways_with_pjsua2(lab, pjua: PjUA, direction: str, matrix,
                                     tmp_path) -> None:
    """pjsua2 plays a 1500 Hz WAV into the call and records what it hears; we play 1000 Hz
    (G.711 through Asterisk): each side hears the other's tone."""
    from sipclient.media.audio import dominant_frequency, read_wav, tone, write_wav

    cell = matrix.cell("pjsua2", direction, "udp", "PCMU", version=pj_version(),
                       via="Asterisk lab; audio")
    wav = tmp_path / "tone1500.wav"
    write_wav(wav, tone(1500, duration=20.0))
    pjua.play, pjua.record = wav, tmp_path / "pjsua2-heard"

    async def main() -> tuple[float | None, PjCall]:
        async with Agent(our_config(lab, play="tone:1000")) as agent:
            if direction == "us -> peer":
                call = await agent.call(PJ_EXT)
                assert (await call.wait_final(timeout=10)).status == 200
                theirs = await pjua.next_incoming(timeout=5)
            else:
                assert (await agent.register()).ok
                agent.auto_answer = 0.1
                theirs = await pjua.call(f"sip:{OUR_EXT}@{lab.config.probe_host}:"
                                         f"{lab.config.sip_port}")
                call = await agent.next_incoming(timeout=10)
                await asyncio.wait_for(call.acked.wait(), 5)
            await theirs.wait_state("CONFIRMED", timeout=10)
            await asyncio.sleep(2.0)
            heard = call.media.dominant_hz()
            await call.hangup()
            await theirs.wait_state("DISCONNECTED", timeout=5)
            return heard, theirs

    heard, theirs = await asyncio.wait_for(main(), 60)
    assert heard is not None and abs(heard - 1500) <= 30, heard
    assert theirs.recording, "pjsua2 recorded nothing"
    for _ in range(40):  # the recorder's WAV header is written when pjsua2 closes it
        try:
            samples = read_wav(Path(theirs.recording))
            break
        except Exception:  # noqa: BLE001 - not closed yet
            time.sleep(0.05)
    else:
        raise AssertionError(f"pjsua2's recording {theirs.recording} stayed unreadable")
    recorded = dominant_frequency(samples)
    assert abs(recorded - 1000) <= 20, (recorded, pjua.log_tail())
    cell.checked(audio="both ways (ours: tone analysis; theirs: its WAV recording)")
