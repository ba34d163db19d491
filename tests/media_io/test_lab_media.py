"""Real media against the Asterisk lab (``lab`` fixture): tones through the echo, codecs,
G.729 pass-through, transcoding, RFC 4733 DTMF both ways, hold/resume, sipp's DTMF capture,
and the CLI's ``--json`` media report.

Extensions 1006-1009 are used here (one test at a time; every agent leaves clean). Numbers
(frequency, loss, jitter, send-time error) are printed: ``pytest -s`` shows them.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.cli import EXIT_OK, Env, main

pytestmark = pytest.mark.lab

HERE = Path(__file__).parent
RTP_RANGE = (10000, 20000)


def cfg(lab, ext: str, **kw) -> AgentConfig:
    c = lab.config
    kw.setdefault("password", Secret(lab.account(ext).password))
    return AgentConfig(user=ext, server=f"udp:{c.probe_host}:{c.sip_port}", **kw)


def near(value, target: float, share: float) -> bool:
    return value is not None and abs(value - target) <= target * share


def show(label: str, s: dict) -> None:
    print(f"\n{label}: codec {s['codec']} {s['local_rtp']} <-> {s['remote_rtp']}, sent "
          f"{s['packets_sent']} received {s['packets_received']} lost {s['lost']}, jitter "
          f"{s['jitter_ms']} ms, MOS {s['mos']}, dominant {s['dominant_hz']} Hz, DTMF "
          f"{s['dtmf_received']!r}, send-time error p99 {s.get('send_late_p99_ms')} ms")


def check_port(s: dict) -> None:
    port = int(s["local_rtp"].rsplit(":", 1)[1])
    assert RTP_RANGE[0] <= port <= RTP_RANGE[1] and port % 2 == 0, s["local_rtp"]


async def talk(call, seconds: float) -> dict:
    """Stay ``seconds`` on an answered call, hang up, close the media: its stats."""
    await asyncio.sleep(seconds)
    await call.hangup()
    await call.media.close()
    [stats] = call.media.stats()
    return stats


@pytest.mark.parametrize("codec", ["PCMU", "PCMA", "GSM"])
@pytest.mark.asyncio
async def test_echo_returns_the_tone_per_codec(lab, codec: str) -> None:
    async def main() -> dict:
        async with Agent(cfg(lab, "1006", codecs=(codec,), play="tone:1000")) as agent:
            call = await agent.call("600")
            final = await call.wait_final(timeout=10)
            assert final.status == 200, final
            return await talk(call, 3.0)
    s = await asyncio.wait_for(main(), 60)
    show(f"600 echo {codec}", s)
    assert s["codec"] == codec
    check_port(s)
    assert s["packets_received"] > 100 and s["lost"] == 0
    assert near(s["dominant_hz"], 1000, 0.01), s


async def call_between_agents(lab, caller: tuple[str, str], callee: tuple[str, str]
                        ) -> tuple[dict, dict]:
    """``caller`` (extension, codec) plays 1000 Hz and calls ``callee`` (extension, codec),
    which answers at once and plays 600 Hz; 3 s of talk: both sides' stats."""
    async def main() -> tuple[dict, dict]:
        async with Agent(cfg(lab, callee[0], codecs=(callee[1],), play="tone:600")) as b, \
                Agent(cfg(lab, caller[0], codecs=(caller[1],), play="tone:1000")) as a:
            assert (await b.register()).ok
            b.auto_answer = 0.0
            call = await a.call(callee[0])
            assert (await call.wait_final(timeout=10)).status == 200
            incoming = await b.next_incoming(timeout=5)
            stats = await talk(call, 3.0)
            await incoming.wait_ended(timeout=5)
            await incoming.media.close()
            return stats, incoming.media.stats()[0]
    return await asyncio.wait_for(main(), 60)


@pytest.mark.asyncio
async def test_g729_between_two_agents(lab) -> None:
    """Asterisk has no G.729 transcoder: both legs G.729, passed through."""
    caller, callee = await call_between_agents(lab, ("1008", "G729"), ("1007", "G729"))
    show("G.729 caller", caller)
    show("G.729 callee", callee)
    assert caller["codec"] == callee["codec"] == "G729"
    assert caller["lost"] == 0 and callee["lost"] == 0
    # G.729 is a speech codec, yet steady tones come out at their frequency (measured:
    # 600.0 and 1000.0 Hz): the same 1 % as G.711
    assert near(caller["dominant_hz"], 600, 0.01), caller
    assert near(callee["dominant_hz"], 1000, 0.01), callee


@pytest.mark.asyncio
async def test_transcoding_pcma_to_gsm(lab) -> None:
    caller, callee = await call_between_agents(lab, ("1009", "PCMA"), ("1007", "GSM"))
    show("PCMA caller", caller)
    show("GSM callee", callee)
    assert caller["codec"] == "PCMA" and callee["codec"] == "GSM"
    assert near(caller["dominant_hz"], 600, 0.01), caller
    assert near(callee["dominant_hz"], 1000, 0.01), callee


@pytest.mark.asyncio
async def test_606_sends_our_rfc4733_digits_back(lab) -> None:
    async def main() -> dict:
        async with Agent(cfg(lab, "1006", codecs=("PCMU",))) as agent:
            call = await agent.call("606")
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(1.0)  # 606 waits 0.5 s before it reads
            await call.send_dtmf("4711")
            reason = await call.wait_ended(timeout=20)  # 606 hangs up 2 s after sending
            assert reason == "remote BYE"
            await call.media.close()
            return call.media.stats()[0]
    s = await asyncio.wait_for(main(), 60)
    show("606 DTMF", s)
    assert s["dtmf_received"] == "4711"


def _sdp_direction(body: bytes) -> str | None:
    for line in body.decode().splitlines():
        if line.strip() in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            return line.strip()[2:]
    return None


@pytest.mark.asyncio
async def test_hold_and_resume(lab) -> None:
    async def main() -> tuple[list, dict, dict]:
        async with Agent(cfg(lab, "1006", codecs=("PCMU",), play="tone:1000")) as agent:
            call = await agent.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(1.5)
            before = call.media.stats()[0]
            mark = len(agent.trace)
            await call.hold()
            await asyncio.sleep(1.5)
            await call.unhold()
            loop = asyncio.get_running_loop()
            resumed_at = loop.time()
            at_resume = call.media.stats()[0]["packets_received"]
            await asyncio.sleep(2.0)
            after = call.media.stats()[0]
            after["since_resume_hz"] = call.media.dominant_hz(since=resumed_at + 0.3)
            after["at_resume"] = at_resume
            invites = [(e.direction, e.message) for e in agent.trace[mark:]
                       if e.message is not None and e.message.cseq.method == "INVITE"
                       and e.message.body]
            await call.hangup()
            return invites, before, after
    invites, before, after = await asyncio.wait_for(main(), 60)
    directions = [(d, getattr(m, "method", None) or m.status, _sdp_direction(m.body))
                  for d, m in invites]
    offers = [x for x in directions if x[0] == "out"]
    answers = [x for x in directions if x[0] == "in" and x[1] == 200]
    print("\nhold/resume SDP directions:", directions)
    assert [o[2] for o in offers][-2:] == ["sendonly", "sendrecv"], directions
    assert [a[2] for a in answers] == ["recvonly", "sendrecv"], directions
    show("before hold", before)
    show("after resume", after)
    assert after["packets_received"] > after["at_resume"] + 50
    assert near(after["since_resume_hz"], 1000, 0.01), after
    assert after["lost"] == 0, after  # the hold's silence is not loss


def _sipp_pcap() -> Path:
    try:
        listed = subprocess.run(["dpkg", "-L", "sip-tester"], capture_output=True, text=True,
                                timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    for path in [*listed, "/usr/share/sip-tester/dtmf_2833_1.pcap"]:
        if path.endswith("/dtmf_2833_1.pcap") and os.path.exists(path):
            return Path(path)
    pytest.fail("sipp's dtmf_2833_1.pcap not found: run `make lab-deps` (sip-tester)")


@pytest.mark.asyncio
async def test_sipp_uas_plays_rfc4733_digit_1(lab, tmp_path: Path) -> None:
    """sipp answers our call directly and replays its capture of an RFC 4733 '1'."""
    from sipclient.lab.probe import free_udp_port

    pcap = _sipp_pcap()
    sipp = shutil.which("sipp") or pytest.fail("sipp not found: run `make lab-deps`")
    sip_port, media_port = free_udp_port(), free_udp_port(also=(1, 2, 3))
    cmd = [sipp, "-sf", str(HERE / "sipp" / "uas_dtmf_2833.xml"), "-i", "127.0.0.1",
           "-p", str(sip_port), "-mp", str(media_port), "-m", "1", "-nostdin",
           "-trace_msg", "-message_file", str(tmp_path / "sipp-messages.log"),
           "-timeout", "30s", "-timeout_error"]
    proc = subprocess.Popen(cmd, cwd=pcap.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    async def main() -> dict:
        config = AgentConfig(user="1006", server=f"udp:127.0.0.1:{sip_port}",
                             codecs=("PCMU",))
        await asyncio.sleep(0.5)  # sipp binds its ports
        async with Agent(config) as agent:
            call = await agent.call(f"sip:dtmf@127.0.0.1:{sip_port}")
            final = await call.wait_final(timeout=10)
            assert final.status == 200, final
            return await talk(call, 2.0)
    try:
        s = await asyncio.wait_for(main(), 60)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    show("sipp dtmf_2833_1.pcap", s)
    assert proc.returncode == 0, out
    assert s["dtmf_received"] == "1"


def test_cli_call_600_json_media(lab) -> None:
    acc = lab.account("1009")
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(["call", "600", "--server", acc.transports["udp"], "--user", "1009",
                 "--password", acc.password, "--codec", "PCMA", "--play", "tone:1000",
                 "--duration", "2", "--json"], env)
    obj = json.loads(env.stdout.getvalue())
    assert code == EXIT_OK, obj
    [m] = obj["media"]
    print("\nCLI media:", m)
    assert m["codec"] == "PCMA" and m["lost"] == 0
    assert near(m["dominant_hz"], 1000, 0.01), m
    assert set(m) >= {"codec", "local_rtp", "remote_rtp", "packets_sent", "packets_received",
                      "lost", "jitter_ms", "mos", "dominant_hz", "dtmf_received"}
