"""The run recorder's pcap opens in tshark, which sees every message as SIP."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from sipclient.pcap.writer import PcapWriter

MESSAGES = Path(__file__).resolve().parent.parent / "data" / "messages"


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    assert shutil.which("tshark"), "tshark is missing: run `make lab-deps`"
    args = ["tshark", "-r", str(path), "-Y", "sip", "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_udp_tcp_and_ipv6_records_decode_as_sip_on_their_real_ports(tmp_path):
    register = (MESSAGES / "seed001_register.sip").read_bytes()
    ok = (MESSAGES / "asterisk_200_register.sip").read_bytes()
    path = tmp_path / "run.pcap"
    with path.open("wb") as f:
        w = PcapWriter(f)
        w.write(100.25, "udp", ("127.0.0.5", 5070), ("127.0.0.1", 7048), register)
        w.write(100.50, "udp", ("127.0.0.1", 7048), ("127.0.0.5", 5070), ok)
        w.write(101.00, "tcp", ("127.0.0.1", 40001), ("127.0.0.1", 7048), register)
        w.write(101.10, "tcp", ("127.0.0.1", 40001), ("127.0.0.1", 7048), register)
        w.write(102.00, "wss", ("::1", 40002), ("::1", 8089), register)
    rows = tshark_fields(path, "frame.time_epoch", "ip.src", "ipv6.src", "udp.srcport",
                         "tcp.srcport", "sip.CSeq.method", "sip.Status-Code")
    assert len(rows) == 5
    assert rows[0][1:4] == ["127.0.0.5", "", "5070"] and rows[0][5] == "REGISTER"
    assert rows[1][6] == "200"
    assert rows[2][4] == rows[3][4] == "40001"  # two messages on one TCP stream, both read
    assert rows[4][2] == "::1" and rows[4][4] == "40002"
    assert float(rows[0][0]) == pytest.approx(100.25, abs=1e-6)


def test_every_packet_is_flushed_so_an_interrupted_run_leaves_a_readable_capture(tmp_path):
    path = tmp_path / "cut.pcap"
    f = path.open("wb")
    w = PcapWriter(f)
    w.write(1.0, "udp", ("127.0.0.1", 5060), ("127.0.0.1", 7048),
            (MESSAGES / "seed001_register.sip").read_bytes())
    # the file object is never closed, as when a process is killed
    assert len(tshark_fields(path, "sip.Method")) == 1
    f.close()


def test_checksums_are_valid():
    buf = io.BytesIO()
    PcapWriter(buf).write(1.0, "udp", ("10.0.0.1", 1), ("10.0.0.2", 2), b"x" * 31)
    packet = buf.getvalue()[24 + 16:]
    from sipclient.pcap.writer import _checksum

    assert _checksum(packet[:20]) == 0  # IPv4 header checksum verifies to zero
