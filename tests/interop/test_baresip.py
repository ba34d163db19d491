"""Interoperability with baresip 1.0 (Debian ``baresip``, headless: tests/interop/baresip.py).

baresip plays a 1500 Hz tone from a WAV file (``aufile``) and records what it receives
(``sndfile``); we play 1000 Hz. Each call is checked both ways: our tone analysis hears
1500 Hz, baresip's recording holds 1000 Hz. DTMF: ours (RFC 4733) reaches baresip (its
``CALL_DTMF_START`` events), baresip's reaches us. Straight (no proxy) over UDP and TCP,
both directions, G.711 u-law and a-law; and through Kamailio, both registered with digest.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.lab.kamailio import KamailioLab, lab_accounts
from sipclient.lab.probe import free_udp_port
from sipclient.media.audio import dominant_frequency, read_wav, tone, write_wav

from .baresip import Baresip, version

ACCOUNTS = lab_accounts()
THEIR_HZ, OUR_HZ = 1500, 1000


def near(value, target: float, share: float = 0.02) -> bool:
    return value is not None and abs(value - target) <= target * share


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("baresip-audio") / "tone1500.wav"
    write_wav(path, tone(THEIR_HZ, duration=30.0))
    return path


@pytest.fixture(scope="module")
def baresip_version() -> str:
    return version()


def their_dtmf(b: Baresip) -> str:
    return "".join(str(e.get("param", "")) for e in b.events
                   if e.get("type") == "CALL_DTMF_START")


async def talk_and_check(b: Baresip, call, *, hangup_by_us: bool) -> dict:
    """Both directions of audio and DTMF on an answered call, then the hang-up."""
    await asyncio.sleep(1.5)
    heard = call.media.dominant_hz()
    await call.send_dtmf("19#")
    await asyncio.to_thread(b.send_dtmf, "73")
    await asyncio.sleep(1.0)
    got = call.media.dtmf_received
    if hangup_by_us:
        await call.hangup()
    else:
        b.hangup()
    reason = await call.wait_ended(5)
    await asyncio.to_thread(b.wait_event, "CALL_CLOSED", 5)
    return {"heard": heard, "dtmf_from_them": got, "reason": reason}


def check(b: Baresip, result: dict) -> None:
    assert near(result["heard"], THEIR_HZ), result
    recorded = dominant_frequency(read_wav(b.recording("dec")))
    assert near(recorded, OUR_HZ), (recorded, b.log_tail())
    assert their_dtmf(b) == "19#", (b.event_types(), b.log_tail())
    assert result["dtmf_from_them"] == "73", result


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.asyncio
async def test_we_call_baresip(tmp_path, tone_wav, baresip_version, matrix, transport: str,
                         codec: str) -> None:
    cell = matrix.cell("baresip", "us -> peer", transport, codec, version=baresip_version)
    with Baresip(tmp_path / "b", play=tone_wav, codecs=codec,
                 account="<sip:baresip@127.0.0.1>;regint=0;answermode=auto") as b:
        async def main() -> dict:
            cfg = AgentConfig(user="1001", server=f"{transport}:127.0.0.1:{b.port}",
                              play=f"tone:{OUR_HZ}", codecs=(codec,))
            async with Agent(cfg) as agent:
                call = await agent.call(f"{b.uri};transport={transport}")
                assert (await call.wait_final(5)).status == 200
                assert call.media.stats()[0]["codec"] == codec
                return await talk_and_check(b, call, hangup_by_us=True)
        result = await asyncio.wait_for(main(), 40)
        assert result["reason"] == "local BYE"
        check(b, result)
    cell.checked(audio="both ways", dtmf="both ways (RFC 4733)")


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.asyncio
async def test_baresip_calls_us(tmp_path, tone_wav, baresip_version, matrix, transport: str,
                          codec: str) -> None:
    cell = matrix.cell("baresip", "peer -> us", transport, codec, version=baresip_version)
    port = free_udp_port()
    with Baresip(tmp_path / "b", play=tone_wav, codecs=codec,
                 account="<sip:baresip@127.0.0.1>;regint=0") as b:
        async def main() -> dict:
            cfg = AgentConfig(user="1002", server=f"{transport}:127.0.0.1:{port}",
                              play=f"tone:{OUR_HZ}", codecs=(codec,), listen=True)
            async with Agent(cfg) as agent:
                agent.auto_answer = 0.1
                b.dial(f"sip:1002@127.0.0.1:{port};transport={transport}")
                incoming = await agent.next_incoming(timeout=5)
                await asyncio.wait_for(incoming.acked.wait(), 5)
                return await talk_and_check(b, incoming, hangup_by_us=False)
        result = await asyncio.wait_for(main(), 40)
        assert result["reason"] == "remote BYE"
        check(b, result)
    cell.checked(audio="both ways", dtmf="both ways (RFC 4733)")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("direction", ["us -> peer", "peer -> us"])
@pytest.mark.asyncio
async def test_baresip_and_us_through_kamailio(tmp_path, tone_wav, baresip_version, matrix,
                                         kamailio: KamailioLab, transport: str,
                                         direction: str) -> None:
    cell = matrix.cell("baresip", direction, transport, "PCMU", version=baresip_version,
                       via="Kamailio (registrar, record-route)")
    theirs, ours = "1004", "1005"
    account = (f"<sip:{theirs}@{kamailio.hostport};transport={transport}>;"
               f"auth_pass={ACCOUNTS[theirs]};regint=300"
               + (";answermode=auto" if direction == "us -> peer" else ""))
    before = len(kamailio.registrations(theirs))
    with Baresip(tmp_path / "b", play=tone_wav, codecs="PCMU", account=account) as b:
        kamailio.wait_registered(theirs, before + 1)

        async def main() -> dict:
            cfg = AgentConfig(user=ours, password=Secret(ACCOUNTS[ours]),
                              server=kamailio.server(transport), play=f"tone:{OUR_HZ}",
                              codecs=("PCMU",))
            async with Agent(cfg) as agent:
                assert (await agent.register()).ok
                if direction == "us -> peer":
                    call = await agent.call(theirs)
                    assert (await call.wait_final(5)).status == 200
                else:
                    agent.auto_answer = 0.1
                    b.dial(f"sip:{ours}@{kamailio.hostport};transport={transport}")
                    call = await agent.next_incoming(timeout=5)
                    await asyncio.wait_for(call.acked.wait(), 5)
                result = await talk_and_check(b, call, hangup_by_us=direction == "us -> peer")
                result["call_id"] = call.call_id
                return result
        result = await asyncio.wait_for(main(), 40)
        check(b, result)
    routed = kamailio.routed(result["call_id"])
    assert "ACK" in routed and "BYE" in routed, (routed, kamailio.log_tail())
    cell.checked(audio="both ways", dtmf="both ways (RFC 4733)")
