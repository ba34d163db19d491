"""Captures of a call (``AgentConfig.capture``, ``--pcap``): every SIP message and every
RTP/RTCP packet in one pcap, and tshark's ``rtp,streams`` figures on it equal ours (issue 5).

The RTP session's tap sees each datagram with the very loop time the statistics use for its
arrival, so packets, loss, mean and max jitter agree to tshark's printed precision (3
decimals in ms). tshark finds the SIP on the lab port by its heuristics and the RTP through
the SDP of the capture: no ``-d`` and no heuristic RTP are needed. Numbers are printed:
``pytest -s`` shows them.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.agent.media import AudioAnalyser, make_source
from sipclient.cli import EXIT_OK, Env, main
from sipclient.io.rtp_session import RtpSession, StreamParams

EXPECTED_CALL_600 = ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"]


def tshark(*args: str) -> str:
    assert shutil.which("tshark"), "tshark is missing (apt-get install tshark)"
    done = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rtp_streams(pcap: Path) -> list[dict]:
    """``tshark -q -z rtp,streams``, one dict per stream."""
    out = []
    for line in tshark("-r", str(pcap), "-q", "-z", "rtp,streams").splitlines():
        t = line.split()
        lost_at = next((i for i, x in enumerate(t) if re.fullmatch(r"\(.*%\)", x)), None)
        if lost_at is None or len(t) < lost_at + 7:
            continue
        out.append({
            "src": f"{t[2]}:{t[3]}", "dst": f"{t[4]}:{t[5]}", "ssrc": int(t[6], 16),
            "payload": " ".join(t[7:lost_at - 2]), "packets": int(t[lost_at - 2]),
            "lost": int(t[lost_at - 1]), "max_delta_ms": float(t[lost_at + 3]),
            "mean_jitter_ms": float(t[lost_at + 5]), "max_jitter_ms": float(t[lost_at + 6])})
    return out


def sip_flow(pcap: Path) -> list[str]:
    """Requests by method, responses by status, in capture order (as ``agent.flow()``)."""
    rows = tshark("-r", str(pcap), "-Y", "sip", "-T", "fields", "-e", "sip.Method",
                  "-e", "sip.Status-Code").splitlines()
    return [next(x for x in row.split("\t") if x) for row in rows if row.strip()]


def udp_packets(pcap: Path, what: str) -> Counter:
    """(source port, destination port) -> packets that tshark decodes as ``what``."""
    rows = tshark("-r", str(pcap), "-Y", what, "-T", "fields", "-e", "udp.srcport",
                  "-e", "udp.dstport").splitlines()
    return Counter(tuple(int(p) for p in row.split("\t")) for row in rows if row.strip())


def cfg(lab, ext: str, **kw) -> AgentConfig:
    c = lab.config
    kw.setdefault("password", Secret(lab.account(ext).password))
    return AgentConfig(user=ext, server=f"udp:{c.probe_host}:{c.sip_port}", **kw)


# ----------------------------------------------------------------------------- no PBX


@pytest.mark.asyncio
async def test_the_tap_sees_every_datagram_at_the_arrival_time_of_the_statistics() -> None:
    async def main() -> None:
        taps: dict[str, list] = {"a": [], "b": []}
        a = RtpSession("127.0.0.1", source=make_source("tone:1000"), sink=AudioAnalyser(),
                       tap=lambda *x: taps["a"].append(x))
        b = RtpSession("127.0.0.1", source=make_source("tone:600"), sink=AudioAnalyser(),
                       tap=lambda *x: taps["b"].append(x))
        for s in (a, b):
            await s.bind()
        for me, other in ((a, b), (b, a)):
            me.configure(StreamParams(("127.0.0.1", other.port), ("127.0.0.1", other.port + 1),
                                      "PCMU", 0))
            me.start()
        await asyncio.sleep(0.6)
        await a.stop()
        await b.stop()
        for me, other, tapped in ((a, b, taps["a"]), (b, a, taps["b"])):
            rtp_port, rtcp_port = ("127.0.0.1", me.port), ("127.0.0.1", me.port + 1)
            sent = [t for t in tapped if t[0] == "out" and t[1] == rtp_port]
            assert len(sent) == me.sender.packets_sent > 20
            assert all(t[2] == ("127.0.0.1", other.port) for t in sent)
            rtcp_out = [t for t in tapped if t[0] == "out" and t[1] == rtcp_port]
            assert len(rtcp_out) == me.rtcp_sent >= 1  # the BYE at least
            assert rtcp_out[-1][2] == ("127.0.0.1", other.port + 1)
            arrived = [t for t in tapped if t[0] == "in" and t[1] == rtp_port]
            [stream] = me.stats.streams.values()
            assert len(arrived) == stream.packets
            assert all(t[2] == ("127.0.0.1", other.port) for t in arrived)
            # the very same clock readings: a capture from the tap gives tshark our jitter
            assert (arrived[0][4], arrived[-1][4]) == (stream.first_arrival, stream.last_arrival)
            assert all(isinstance(t[3], bytes) for t in tapped)
    await asyncio.wait_for(main(), 60)


@pytest.mark.asyncio
async def test_a_failing_tap_is_dropped_and_the_media_goes_on() -> None:
    async def main() -> None:
        calls = []

        def broken(*args) -> None:
            calls.append(args)
            raise OSError("disk full")

        a = RtpSession("127.0.0.1", tap=broken)
        b = RtpSession("127.0.0.1")
        for s in (a, b):
            await s.bind()
        for me, other in ((a, b), (b, a)):
            me.configure(StreamParams(("127.0.0.1", other.port), ("127.0.0.1", other.port + 1)))
            me.start()
        await asyncio.sleep(0.3)
        await a.stop()
        await b.stop()
        assert len(calls) == 1 and a.tap is None
        assert a.sender.packets_sent > 10 and b.receive_totals()["packets"] > 10
    await asyncio.wait_for(main(), 60)


# ----------------------------------------------------------------------------- the lab


@pytest.mark.lab
@pytest.mark.asyncio
async def test_tshark_rtp_streams_equal_our_statistics(lab, tmp_path) -> None:
    pcap = tmp_path / "call.pcap"

    async def main():
        config = cfg(lab, "1008", codecs=("PCMA",), play="tone:1000", capture=str(pcap))
        async with Agent(config) as agent:
            call = await agent.call("600")
            final = await call.wait_final(timeout=10)
            assert final.status == 200, final
            await asyncio.sleep(3.0)
            await call.hangup()
            await call.media.close()
            [stats] = call.media.stats()
            [stream] = call.media.rtp.stats.streams.values()
            return stats, stream.summary(), call.media.rtp.ssrc, agent.flow()

    stats, ours, our_ssrc, flow = await asyncio.wait_for(main(), 60)
    streams = rtp_streams(pcap)
    [theirs] = [s for s in streams if s["dst"] == stats["local_rtp"]]
    [sent] = [s for s in streams if s["src"] == stats["local_rtp"]]
    print(f"\nthe stream Asterisk sent us, ours vs tshark:\n"
          f"  SSRC {ours.ssrc:#010x} vs {theirs['ssrc']:#010x}, PT {ours.payload_types} vs "
          f"{theirs['payload']}\n"
          f"  packets {stats['packets_received']} vs {theirs['packets']}, lost {stats['lost']} "
          f"vs {theirs['lost']}\n"
          f"  max delta {ours.max_delta_ms:.4f} vs {theirs['max_delta_ms']} ms\n"
          f"  mean jitter {ours.mean_jitter_ms:.4f} vs {theirs['mean_jitter_ms']} ms\n"
          f"  max jitter {ours.max_jitter_ms:.4f} vs {theirs['max_jitter_ms']} ms "
          f"(last jitter {stats['jitter_ms']} ms)\n"
          f"the stream we sent: {stats['packets_sent']} packets vs {sent['packets']}")
    assert flow == EXPECTED_CALL_600
    assert stats["codec"] == "PCMA" and ours.payload_types == (8,) and theirs["payload"] == "g711A"
    assert theirs["ssrc"] == ours.ssrc and stats["remote_rtp"] == theirs["src"]
    assert stats["packets_received"] == ours.packets == theirs["packets"] > 100
    assert stats["lost"] == ours.lost == theirs["lost"]
    # tshark prints 3 decimals and the pcap keeps microseconds: equal up to those roundings
    assert ours.mean_jitter_ms == pytest.approx(theirs["mean_jitter_ms"], abs=0.002)
    assert ours.max_jitter_ms == pytest.approx(theirs["max_jitter_ms"], abs=0.002)
    assert ours.max_delta_ms == pytest.approx(theirs["max_delta_ms"], abs=0.002)
    # and what a user reads in --json says the same
    assert stats["remote_ssrc"] == f"0x{theirs['ssrc']:08X}"
    assert stats["mean_jitter_ms"] == pytest.approx(theirs["mean_jitter_ms"], abs=0.002)
    assert stats["max_jitter_ms"] == pytest.approx(theirs["max_jitter_ms"], abs=0.002)
    assert sent["ssrc"] == our_ssrc and sent["packets"] == stats["packets_sent"]
    assert sent["payload"] == "g711A"


@pytest.mark.lab
@pytest.mark.asyncio
async def test_the_capture_holds_every_sip_message_and_rtp_both_ways(lab, tmp_path) -> None:
    pcap = tmp_path / "call.pcap"

    async def main():
        async with Agent(cfg(lab, "1008", codecs=("PCMA",), play="tone:1000",
                             capture=str(pcap))) as agent:
            await agent.register()
            call = await agent.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(1.0)
            await call.hangup()
            await call.media.close()
            [stats] = call.media.stats()
            return agent, stats

    agent, stats = await asyncio.wait_for(main(), 60)
    local = int(stats["local_rtp"].rsplit(":", 1)[1])
    remote = int(stats["remote_rtp"].rsplit(":", 1)[1])
    # the whole life of the agent, un-REGISTER on close included, in order
    register = ["REGISTER", "401", "REGISTER", "200"]
    assert sip_flow(pcap) == agent.flow() == [*register, *EXPECTED_CALL_600, *register]
    rtp = udp_packets(pcap, "rtp")
    assert rtp[(local, remote)] == stats["packets_sent"] > 40
    assert rtp[(remote, local)] == stats["packets_received"] > 40
    rtcp = udp_packets(pcap, "rtcp")
    assert rtcp[(local + 1, remote + 1)] == stats["rtcp_sent"] >= 1  # the BYE at least
    assert sum(rtcp.values()) == stats["rtcp_sent"] + stats["rtcp_received"]
    # wall-clock times: the first packet is from this run, not from 1970
    first = float(tshark("-r", str(pcap), "-c", "1", "-T", "fields", "-e",
                         "frame.time_epoch").strip())
    assert abs(first - pcap.stat().st_mtime) < 60


@pytest.mark.lab
@pytest.mark.parametrize("how", ["exception", "cancel"])
@pytest.mark.asyncio
async def test_an_interrupted_call_leaves_a_readable_capture(lab, tmp_path, how: str) -> None:
    pcap = tmp_path / "call.pcap"
    agent = Agent(cfg(lab, "1008", codecs=("PCMA",), play="tone:1000", capture=str(pcap)))
    seen_during: list[str] = []

    async def during() -> None:
        """tshark reads the file while the call runs: every packet is already on disk."""
        proc = await asyncio.create_subprocess_exec(
            "tshark", "-r", str(pcap), "-Y", "sip", "-T", "fields", "-e", "sip.Method",
            "-e", "sip.Status-Code", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        seen_during.extend(next(x for x in r.split("\t") if x)
                           for r in out.decode().splitlines() if r.strip())

    async def body() -> None:
        async with agent:
            call = await agent.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(0.5)
            await during()
            if how == "exception":
                raise RuntimeError("the test failed here")
            await asyncio.sleep(30)

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(body())
        if how == "cancel":
            while not seen_during:
                await asyncio.sleep(0.05)
            task.cancel()
        await task

    with pytest.raises(RuntimeError if how == "exception" else asyncio.CancelledError):
        await asyncio.wait_for(main(), 60)
    assert seen_during == EXPECTED_CALL_600[:7]
    # the cleanup hung up (BYE, 200) and the file was closed with everything in it
    assert sip_flow(pcap) == agent.flow() == EXPECTED_CALL_600
    rtp = udp_packets(pcap, "rtp")
    assert len(rtp) == 2 and min(rtp.values()) > 20, rtp
    assert agent._pcap is None and agent._pcap_file is None


@pytest.mark.lab
def test_cli_call_pcap(lab, tmp_path) -> None:
    acc = lab.account("1009")
    pcap = tmp_path / "out.pcap"
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(["call", "600", "--server", acc.transports["udp"], "--user", "1009",
                 "--password", acc.password, "--codec", "PCMA", "--play", "tone:1000",
                 "--duration", "2", "--json", "--pcap", str(pcap)], env)
    obj = json.loads(env.stdout.getvalue())
    assert code == EXIT_OK, obj
    [m] = obj["media"]
    assert sip_flow(pcap) == obj["flow"] == EXPECTED_CALL_600
    [theirs] = [s for s in rtp_streams(pcap) if s["dst"] == m["local_rtp"]]
    print(f"\nCLI --pcap: received {m['packets_received']} vs tshark {theirs['packets']}, "
          f"lost {m['lost']} vs {theirs['lost']}")
    assert (theirs["packets"], theirs["lost"]) == (m["packets_received"], m["lost"])
