"""The run recorder's capture opens in tshark, which sees every message as SIP: UDP and TCP
as IP packets on their real ports, TLS/WS/WSS as Wireshark exported PDUs carrying the
plaintext SIP on their real addresses and ports; RTP still decodes through the SDP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import AsyncIterator

import pytest

from sipclient.agent import Agent, AgentConfig, Secret
from sipclient.pcap.writer import PcapWriter, _checksum

MESSAGES = Path(__file__).resolve().parent.parent / "data" / "messages"


def tshark(*args: str) -> str:
    assert shutil.which("tshark"), "tshark is missing: run `make lab-deps`"
    done = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # opened without complaint: nothing on stderr but tshark's running-as-root notice
    complaints = [line for line in done.stderr.splitlines()
                  if line.strip() and "Running as user" not in line]
    assert complaints == [], complaints
    return done.stdout


def tshark_fields(path: Path, *fields: str, filter: str = "sip") -> list[list[str]]:
    args = ["-r", str(path), "-Y", filter, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    return [line.split("\t") for line in tshark(*args).splitlines()]


def test_udp_tcp_tls_ws_wss_and_ipv6_records_decode_as_sip_on_their_real_ports(tmp_path):
    register = (MESSAGES / "seed001_register.sip").read_bytes()
    ok = (MESSAGES / "asterisk_200_register.sip").read_bytes()
    path = tmp_path / "run.pcap"
    with path.open("wb") as f:
        w = PcapWriter(f)
        w.write(100.25, "udp", ("127.0.0.5", 5070), ("127.0.0.1", 7048), register)
        w.write(100.50, "UDP", ("127.0.0.1", 7048), ("127.0.0.5", 5070), ok)
        w.write(101.00, "tcp", ("127.0.0.1", 40001), ("127.0.0.1", 7048), register)
        w.write(101.10, "tcp", ("127.0.0.1", 40001), ("127.0.0.1", 7048), register)
        w.write(102.00, "wss", ("::1", 40002), ("::1", 8089), register)
        w.write(102.50, "WSS", ("::1", 8089), ("::1", 40002), ok)
        w.write(103.00, "tls", ("10.1.2.3", 40003), ("10.9.8.7", 5061), register)
        w.write(104.00, "ws", ("127.0.0.1", 40004), ("127.0.0.1", 8088), register)
    rows = tshark_fields(path, "frame.time_epoch", "ip.src", "ipv6.src", "udp.srcport",
                         "tcp.srcport", "sip.CSeq.method", "sip.Status-Code",
                         "exported_pdu.ipv4_src", "exported_pdu.ipv4_dst",
                         "exported_pdu.ipv6_src", "exported_pdu.src_port",
                         "exported_pdu.dst_port", "frame.comment")
    assert len(rows) == 8
    assert rows[0][1:4] == ["127.0.0.5", "", "5070"] and rows[0][5] == "REGISTER"
    assert rows[1][6] == "200"
    assert rows[2][4] == rows[3][4] == "40001"  # two messages on one TCP stream, both read
    # WSS over IPv6, both ways: exported PDUs with the real addresses and ports
    assert rows[4][9:12] == ["::1", "40002", "8089"] and rows[4][5] == "REGISTER"
    assert rows[5][9:12] == ["::1", "8089", "40002"] and rows[5][6] == "200"
    assert rows[6][7:9] == ["10.1.2.3", "10.9.8.7"] and rows[6][10:12] == ["40003", "5061"]
    assert [r[12] for r in rows[4:]] == ["sipclient transport=wss"] * 2 + [
        "sipclient transport=tls", "sipclient transport=ws"]
    assert not any(r[4] for r in rows[4:])  # no invented TCP segments there...
    # ...yet the usual address filters work: Wireshark fills ip.src/ipv6.src from the tags
    assert [r[1] or r[2] for r in rows[4:]] == ["::1", "::1", "10.1.2.3", "127.0.0.1"]
    assert float(rows[0][0]) == pytest.approx(100.25, abs=1e-6)
    assert float(rows[6][0]) == pytest.approx(103.0, abs=1e-6)
    # Wireshark's Source/Destination columns show the real endpoints for every message
    cols = tshark_fields(path, "_ws.col.Source", "_ws.col.Destination", "_ws.col.Protocol")
    assert cols[6] == ["10.1.2.3", "10.9.8.7", "SIP"]
    assert all(c[2] == "SIP" for c in cols)
    # nothing malformed anywhere
    assert tshark("-r", str(path), "-Y", "_ws.malformed || _ws.expert.severity >= error") == ""


def test_every_packet_is_flushed_so_an_interrupted_run_leaves_a_readable_capture(tmp_path):
    path = tmp_path / "cut.pcap"
    f = path.open("wb")
    w = PcapWriter(f)
    w.write(1.0, "udp", ("127.0.0.1", 5060), ("127.0.0.1", 7048),
            (MESSAGES / "seed001_register.sip").read_bytes())
    w.write(2.0, "wss", ("127.0.0.1", 40000), ("127.0.0.1", 8089),
            (MESSAGES / "seed001_register.sip").read_bytes())
    # the file object is never closed, as when a process is killed
    assert len(tshark_fields(path, "sip.Method")) == 2
    f.close()


def test_checksums_are_valid():
    buf = io.BytesIO()
    PcapWriter(buf).write(1.0, "udp", ("10.0.0.1", 1), ("10.0.0.2", 2), b"x" * 31)
    data = buf.getvalue()
    # skip the section header and both interface descriptions to the packet block
    pos = 0
    while struct.unpack_from("<I", data, pos)[0] != 6:
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    captured = struct.unpack_from("<I", data, pos + 20)[0]
    packet = data[pos + 28:pos + 28 + captured]
    assert _checksum(packet[:20]) == 0  # IPv4 header checksum verifies to zero
    pseudo = packet[12:20] + struct.pack("!xBH", 17, len(packet) - 20)
    assert _checksum(pseudo + packet[20:]) == 0  # and the UDP checksum


# ----------------------------------------------------------------------------- the lab


def addr(a: tuple[str, int]) -> tuple[str, str]:
    return a[0], str(a[1])


def check_every_traced_message_is_sip_in_tshark(pcap: Path, agents: list[Agent]) -> None:
    """tshark -Y sip lists exactly the traced messages, in order, with their addresses."""
    rows = tshark_fields(pcap, "exported_pdu.ipv4_src", "exported_pdu.src_port",
                         "exported_pdu.ipv4_dst", "exported_pdu.dst_port", "ip.src",
                         "udp.srcport", "ip.dst", "udp.dstport", "sip.Method",
                         "sip.Status-Code", "sip.Call-ID", "frame.comment")
    entries = sorted((e for a in agents for e in a.trace), key=lambda e: e.time)
    assert len(rows) == len(entries) > 0
    for row, e in zip(rows, entries):
        src, dst = (e.local, e.remote) if e.direction == "out" else (e.remote, e.local)
        if e.transport.lower() in ("tls", "ws", "wss"):
            assert (row[0], row[1]) == addr(src) and (row[2], row[3]) == addr(dst), (row, str(e))
            assert row[11] == f"sipclient transport={e.transport.lower()}"
        else:
            assert (row[4], row[5]) == addr(src) and (row[6], row[7]) == addr(dst), (row, str(e))
        assert (row[8] or row[9]) == e.label
        assert row[10] == e.message.call_id


@contextlib.asynccontextmanager
async def recording_agent(lab, pcap: Path, user: str, server: str,
                          **extra) -> AsyncIterator[Agent]:
    """Lab account ``user`` on ``server`` (the lab's self-signed certificate accepted),
    registered, recording every SIP message and RTP/RTCP packet into ``pcap``."""
    with pcap.open("wb") as f:
        config = AgentConfig(user=user, server=server, insecure=True, capture=PcapWriter(f),
                             password=Secret(lab.account(user).password), **extra)
        async with Agent(config) as agent:
            assert (await agent.register()).ok
            yield agent


@pytest.mark.lab
@pytest.mark.asyncio
async def test_a_wss_registration_shows_every_message_as_sip(lab, tmp_path):
    c = lab.config
    pcap = tmp_path / "wss.pcap"

    async def main():
        async with recording_agent(lab, pcap, "2001",
                                   f"wss://{c.probe_host}:{c.wss_port}/ws") as agent:
            assert (await agent.options()).status == 200
        return agent

    agent = await asyncio.wait_for(main(), 60)
    register = ["REGISTER", "401", "REGISTER", "200"]
    assert agent.flow() == [*register, "OPTIONS", "401", "OPTIONS", "200", *register]
    check_every_traced_message_is_sip_in_tshark(pcap, [agent])
    rows = tshark_fields(pcap, "exported_pdu.dst_port", filter="sip.Method == REGISTER")
    assert {r[0] for r in rows} == {str(c.wss_port)}  # the real WSS port
    assert lab.account("2001").password.encode() not in pcap.read_bytes()  # only digests


@pytest.mark.lab
@pytest.mark.asyncio
async def test_a_tls_call_shows_every_message_as_sip_and_its_rtp_still_decodes(lab, tmp_path):
    c = lab.config
    pcap = tmp_path / "tls.pcap"

    async def main():
        async with recording_agent(lab, pcap, "1011", f"tls:{c.probe_host}:{c.tls_port}",
                                   codecs=("PCMU",), play="tone:1000") as agent:
            call = await agent.call("600")
            assert (await call.wait_final(timeout=10)).status == 200
            await asyncio.sleep(1.0)
            await call.hangup()
            await call.media.close()
            [stats] = call.media.stats()
        return agent, stats

    agent, stats = await asyncio.wait_for(main(), 60)
    assert {e.transport.lower() for e in agent.trace} == {"tls"}
    check_every_traced_message_is_sip_in_tshark(pcap, [agent])
    rows = tshark_fields(pcap, "exported_pdu.dst_port", filter="sip.Method == INVITE")
    assert {r[0] for r in rows} == {str(c.tls_port)}
    # RTP: found by tshark through the SDP carried in the exported PDUs, both ways
    streams = {}
    for line in tshark("-r", str(pcap), "-q", "-z", "rtp,streams").splitlines():
        m = re.match(r"\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-Fa-f]+)\s+(.*?)"
                     r"\s+(\d+)\s+(-?\d+)\s+\(", line)
        if m:
            streams[(f"{m[1]}:{m[2]}", f"{m[3]}:{m[4]}")] = (m[6], int(m[7]))
    local, remote = stats["local_rtp"], stats["remote_rtp"]
    assert streams[(local, remote)] == ("g711U", stats["packets_sent"])
    assert streams[(remote, local)] == ("g711U", stats["packets_received"])
    assert stats["packets_sent"] > 30 and stats["packets_received"] > 30
