"""WebRTC endpoints against the real Asterisk 16 lab, in test network namespaces.

The WebRTC agents (2001-2010) register over WSS and carry DTLS-SRTP audio through aiortc;
the plain agents (1001-1020) use UDP and RTP. Each side plays its own tone (700 Hz from
WebRTC, 1300 Hz from UDP) and checks the *other* one arrives, so an echo cannot pass.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

import pytest

import webrtc
from sipclient.agent import Agent, TransportFailure
from sipclient.pcap.writer import PcapWriter

from .util import near, run, show, udp_cfg, webrtc_cfg

pytestmark = pytest.mark.lab

WEBRTC_HZ, UDP_HZ = 700, 1300


async def _connected(media, timeout: float = 10.0) -> None:
    wait = getattr(media, "wait_connected", None)
    if wait is not None:
        await wait(timeout)


async def one_call(caller: Agent, callee: Agent, target: str, seconds: float = 1.5
                   ) -> tuple[dict, dict]:
    """``caller`` calls ``target`` (``callee`` answers at once); ``seconds`` of audio; the
    caller hangs up. Returns both sides' media stats."""
    call = await caller.call(target)
    incoming = await callee.next_incoming(timeout=10)
    final = await call.wait_final(timeout=10)
    assert final.status == 200, f"{target}: {final.status} {final.reason}"
    await incoming.acked.wait()
    await _connected(call.media)
    await _connected(incoming.media)
    await asyncio.sleep(seconds)
    a, b = call.media.stats()[0], incoming.media.stats()[0]
    await call.hangup()
    assert await incoming.wait_ended(timeout=5) == "remote BYE"
    return a, b


async def echo_call(agent: Agent, seconds: float) -> dict:
    """``agent`` calls 600 (the echo); ``seconds`` of audio; it hangs up. Returns its media
    stats."""
    call = await agent.call("600")
    assert (await call.wait_final(timeout=10)).status == 200
    await call.media.wait_connected()
    await asyncio.sleep(seconds)
    stats = call.media.stats()[0]
    await call.hangup()
    return stats


def test_webrtc_registers_over_wss_and_calls_udp(wlab) -> None:
    async def main() -> tuple[dict, dict, list, list]:
        async with Agent(webrtc_cfg(wlab, "2001", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=webrtc.media_factory()) as w, \
                Agent(udp_cfg(wlab, "1001", play=f"tone:{UDP_HZ}")) as u:
            assert (await w.register()).ok and (await u.register()).ok
            contacts = [c.uri for c in wlab.contacts("2001")]
            u.auto_answer = 0.0
            a, b = await one_call(w, u, "1001")
            return a, b, contacts, w.flow()
    webrtc_side, udp_side, contacts, flow = run(wlab, main)
    show("WebRTC 2001 (caller)", webrtc_side)
    show("UDP 1001 (callee)", udp_side)
    assert contacts and all("transport=ws" in c for c in contacts), contacts
    assert flow[:4] == ["REGISTER", "401", "REGISTER", "200"]
    assert "BYE" in flow and flow[-1] == "200"  # BYE answered over the same WebSocket
    assert near(webrtc_side["dominant_hz"], UDP_HZ), webrtc_side
    assert near(udp_side["dominant_hz"], WEBRTC_HZ), udp_side
    assert webrtc_side["codec"] in ("PCMU", "PCMA")
    assert webrtc_side["packets_received"] > 40 and webrtc_side["lost"] == 0
    assert webrtc_side["ice_state"] == "completed" and webrtc_side["dtls_state"] == "connected"
    assert webrtc_side["ice_ms"] is not None and webrtc_side["dtls_ms"] is not None
    assert webrtc_side["local_rtp"].startswith(wlab.net.ue_ip + ":")
    assert webrtc_side["remote_rtp"].startswith(wlab.net.pbx_ip + ":")


def test_udp_calls_webrtc(wlab) -> None:
    async def main() -> tuple[dict, dict]:
        async with Agent(webrtc_cfg(wlab, "2002", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=webrtc.media_factory()) as w, \
                Agent(udp_cfg(wlab, "1002", play=f"tone:{UDP_HZ}")) as u:
            assert (await w.register()).ok and (await u.register()).ok
            w.auto_answer = 0.0
            return await one_call(u, w, "2002")
    udp_side, webrtc_side = run(wlab, main)
    show("UDP 1002 (caller)", udp_side)
    show("WebRTC 2002 (callee)", webrtc_side)
    assert near(webrtc_side["dominant_hz"], UDP_HZ), webrtc_side
    assert near(udp_side["dominant_hz"], WEBRTC_HZ), udp_side
    # Asterisk offered actpass: the answerer takes the DTLS client role (RFC 5763 5)
    assert webrtc_side["dtls_role"] == "client"


def test_twenty_calls_in_a_row(wlab) -> None:
    async def main() -> list[tuple[dict, dict]]:
        results = []
        async with Agent(webrtc_cfg(wlab, "2003", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=webrtc.media_factory()) as w, \
                Agent(udp_cfg(wlab, "1003", play=f"tone:{UDP_HZ}")) as u:
            assert (await w.register()).ok and (await u.register()).ok
            u.auto_answer = w.auto_answer = 0.0
            for i in range(20):  # both directions, alternately
                if i % 2 == 0:
                    results.append(await one_call(w, u, "1003", seconds=1.0))
                else:
                    b, a = await one_call(u, w, "2003", seconds=1.0)
                    results.append((a, b))
        return results
    results = run(wlab, main, timeout=240)
    bad = [(i, a["dominant_hz"], b["dominant_hz"], a["error"])
           for i, (a, b) in enumerate(results)
           if not (near(a["dominant_hz"], UDP_HZ) and near(b["dominant_hz"], WEBRTC_HZ))]
    ice = sorted(a["ice_ms"] for a, _ in results)
    print(f"\n20 calls: ICE median {ice[10]} ms, max {ice[-1]} ms")
    assert len(results) == 20 and not bad, bad


def test_echo_600_returns_our_own_tone(wlab) -> None:
    async def main() -> dict:
        async with Agent(webrtc_cfg(wlab, "2004", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=webrtc.media_factory()) as w:
            return await echo_call(w, 1.5)
    s = run(wlab, main)
    show("WebRTC 2004 -> 600", s)
    assert near(s["dominant_hz"], WEBRTC_HZ), s
    assert s["packets_received"] > 40


def test_dtmf_reaches_606_and_comes_back(wlab) -> None:
    async def main() -> tuple[dict, str]:
        async with Agent(webrtc_cfg(wlab, "2005"), media_factory=webrtc.media_factory()) as w:
            call = await w.call("606")
            assert (await call.wait_final(timeout=10)).status == 200
            await call.media.wait_connected()
            await asyncio.sleep(1.0)  # 606 waits 0.5 s before it reads
            await call.send_dtmf("4711")
            reason = await call.wait_ended(timeout=20)  # 606 hangs up 2 s after sending
            return call.media.stats()[0], reason
    s, reason = run(wlab, main)
    show("WebRTC 2005 -> 606", s)
    assert reason == "remote BYE"
    assert s["dtmf_received"] == "4711"


def test_webrtc_to_webrtc(wlab) -> None:
    async def main() -> tuple[dict, dict]:
        async with Agent(webrtc_cfg(wlab, "2006", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=webrtc.media_factory()) as a, \
                Agent(webrtc_cfg(wlab, "2007", play=f"tone:{UDP_HZ}"),
                      media_factory=webrtc.media_factory()) as b:
            assert (await a.register()).ok and (await b.register()).ok
            b.auto_answer = 0.0
            return await one_call(a, b, "2007")
    a, b = run(wlab, main)
    show("WebRTC 2006 (caller)", a)
    show("WebRTC 2007 (callee)", b)
    assert near(a["dominant_hz"], UDP_HZ), a
    assert near(b["dominant_hz"], WEBRTC_HZ), b


def test_webrtc_to_webrtc_with_opus_when_both_ask_for_it(wlab) -> None:
    opus = webrtc.media_factory({"codecs": ["opus"]})

    async def main() -> tuple[dict, dict]:
        async with Agent(webrtc_cfg(wlab, "2006", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=opus) as a, \
                Agent(webrtc_cfg(wlab, "2007", play=f"tone:{UDP_HZ}"), media_factory=opus) as b:
            assert (await a.register()).ok and (await b.register()).ok
            b.auto_answer = 0.0
            return await one_call(a, b, "2007")
    a, b = run(wlab, main)
    show("WebRTC opus 2006", a)
    assert a["codec"] == b["codec"] == "OPUS"  # passed through, no transcoding
    assert near(a["dominant_hz"], UDP_HZ) and near(b["dominant_hz"], WEBRTC_HZ), (a, b)


def test_hold_and_unhold_keep_ice_and_dtls(wlab) -> None:
    async def main() -> tuple[str, str, float | None, int]:
        async with Agent(webrtc_cfg(wlab, "2008", play=f"tone:{WEBRTC_HZ}"),
                         media_factory=webrtc.media_factory()) as w:
            call = await w.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            await call.media.wait_connected()
            await asyncio.sleep(0.5)
            held = await call.hold()
            held_dir = call.media.current_direction
            await asyncio.sleep(0.5)
            await call.unhold()
            loop = asyncio.get_running_loop()
            since, before = loop.time(), call.media.stats()[0]["packets_received"]
            await asyncio.sleep(1.0)
            after = call.media.stats()[0]["packets_received"] - before
            hz = call.media.dominant_hz(since)
            await call.hangup()
            return held.body.decode(), held_dir, hz, after
    held_sdp, held_dir, hz, after = run(wlab, main)
    assert "a=recvonly" in held_sdp and held_dir == "sendonly"  # we hold: we only send
    assert after > 30 and near(hz, WEBRTC_HZ), (after, hz)  # the echo is back after unhold


def test_wss_certificate_is_verified_by_default(wlab) -> None:
    async def main() -> str:
        cfg = webrtc_cfg(wlab, "2008", insecure=False)
        try:
            async with Agent(cfg, media_factory=webrtc.media_factory()) as w:
                await w.register()
        except TransportFailure as exc:
            return str(exc)
        return ""
    message = run(wlab, main)
    assert "certificate" in message.lower(), message


def _tshark(path: str, *args: str) -> list[dict]:
    out = subprocess.run(["tshark", "-r", path, "-T", "json", *args], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return json.loads(out or "[]")


def test_capture_shows_sip_over_wss_and_the_srtp_streams(wlab, tmp_path) -> None:
    if shutil.which("tshark") is None:
        pytest.fail("tshark not found: run `make lab-deps`")
    path = tmp_path / "webrtc.pcap"

    async def main() -> dict:
        with open(path, "wb") as f:
            pcap = PcapWriter(f)
            async with Agent(webrtc_cfg(wlab, "2009", play=f"tone:{WEBRTC_HZ}", capture=pcap),
                             media_factory=webrtc.media_factory()) as w:
                return await echo_call(w, 1.0)
    s = run(wlab, main)
    wss = wlab.config.wss_port
    local_port = int(s["local_rtp"].rsplit(":", 1)[1])
    sip = _tshark(str(path), "-d", f"tcp.port=={wss},sip", "-Y", "sip")
    methods = [p["_source"]["layers"]["sip"].get("sip.Request-Line", "")
               or p["_source"]["layers"]["sip"].get("sip.Status-Line", "") for p in sip]
    assert any(m.startswith("INVITE sip:600@") for m in methods), methods
    assert any(m.startswith("SIP/2.0 200") for m in methods), methods
    # the SRTP packets as tshark's RTP heuristic sees them: headers readable, payload not
    rows = subprocess.run(
        ["tshark", "-r", str(path), "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp.version==2",
         "-T", "fields", "-e", "_ws.col.Protocol", "-e", "rtp.ssrc", "-e", "udp.srcport",
         "-e", "udp.dstport"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    rtp = [r.split("\t") for r in rows if r.strip()]
    assert len(rtp) > 60, rtp[:5]
    assert {r[0] for r in rtp} == {"SRTP"}, {r[0] for r in rtp}
    assert len({r[1] for r in rtp}) == 2, rtp[:5]  # ours and the echo's, both directions
    assert all(str(local_port) in (r[2], r[3]) for r in rtp)
    dtls = _tshark(str(path), "-Y", "dtls.handshake")
    assert dtls, "the DTLS handshake is in the capture"
