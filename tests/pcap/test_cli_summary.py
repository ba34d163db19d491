"""`sipclient pcap summary`: text and JSON, --call-id, errors as one line with exit 65/2,
subcommand discovery of sipclient/cli/pcap_*.py; and what our own writer records reads back
with the transports the application used."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path


import sipclient.cli as cli
from sipclient.cli import Env, main
from sipclient.pcap.read import read_capture
from sipclient.pcap.writer import PcapWriter

from tests.pcap import frames as f
from tests.pcap.test_read import call_capture

from tests.pcap.public import PUBLIC as SHARED


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), Env(stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


def test_text_summary_shows_dialogs_streams_and_dtmf():
    status, out, err = run("pcap", "summary", str(SHARED / "SIP_DTMF2.pcap"))
    assert status == 0 and err == ""
    assert "29 SIP messages in 5 dialogs, 2 RTP streams" in out
    assert "Call-ID 5514@192.168.105.110  [INVITE]  declined (603)" in out
    assert "flow: INVITE 100 INVITE 100 180 180 200 200 ACK ACK" in out
    assert "0x9A7B5382" in out and "DTMF (RFC 4733): 6789123" in out


def test_call_id_keeps_one_dialog_and_its_media(tmp_path):
    path = tmp_path / "call.pcap"
    path.write_bytes(call_capture() + f.pcap([(300.0, f.ether(f.ipv4("10.0.0.1", "10.0.0.2", 17,
                                               f.udp(5060, 5060, f.REGISTER))))])[24:])
    status, out, _ = run("pcap", "summary", str(path), "--json", "--call-id", "call@x")
    data = json.loads(out)
    assert status == 0 and [d["call_id"] for d in data["sip"]["dialogs"]] == ["call@x"]
    assert data["sip"]["messages"] == 6 and len(data["rtp"]["streams"]) == 2
    assert [e["digit"] for e in data["dtmf"]] == ["5"]
    status, out, _ = run("pcap", "summary", str(path), "--json", "--call-id", "reg-1@test")
    data = json.loads(out)
    assert data["sip"]["dialogs"][0]["flow"] == ["REGISTER"] and data["rtp"]["streams"] == []
    status, out, err = run("pcap", "summary", str(path), "--call-id", "nope@x")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "no SIP message with Call-ID 'nope@x'" in err and "call@x" in err


def test_errors_are_one_line_without_traceback(tmp_path):
    status, out, err = run("pcap", "summary", str(tmp_path / "missing.pcap"))
    assert status == 2 and out == "" and err.count("\n") == 1 and "cannot read" in err
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"GIF89a not a capture")
    status, out, err = run("pcap", "summary", str(junk))
    assert status == 65 and out == "" and err.count("\n") == 1
    assert "junk.pcap: offset 0: not a pcap or pcapng file" in err
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((SHARED / "aaa.pcap").read_bytes()[:5000])
    status, out, err = run("pcap", "summary", str(cut), "--json")
    assert status == 65 and err.count("\n") == 1 and "cut short in the middle of packet 32" in err
    assert json.loads(out)["truncated"]          # what could be read is still reported


def test_pcap_subcommands_are_discovered_from_pcap_modules(tmp_path, monkeypatch):
    pkg = tmp_path / "extra"
    pkg.mkdir()
    (pkg / "pcap_zzhello.py").write_text(textwrap.dedent("""
        def register_pcap(subparsers):
            p = subparsers.add_parser("zzhello")
            p.set_defaults(func=lambda args, env: print("hello from a plugin", file=env.stdout) or 7)
    """))
    monkeypatch.setattr(cli, "__path__", [*cli.__path__, str(pkg)])
    try:
        status, out, _ = run("pcap", "zzhello")
    finally:
        sys.modules.pop("sipclient.cli.pcap_zzhello", None)
    assert (status, out) == (7, "hello from a plugin\n")


def test_what_our_writer_records_reads_back_with_its_transports(tmp_path):
    path = tmp_path / "run.pcap"
    invite = f.sip_request("INVITE", "w@x", 1, f.sdp("127.0.0.1", 4000))
    ok = f.sip_response(200, "OK", "w@x", 1, "INVITE", f.sdp("127.0.0.2", 6000, "8"))
    with path.open("wb") as fh:
        w = PcapWriter(fh)
        w.write(1.0, "udp", ("127.0.0.1", 5070), ("127.0.0.2", 5060), invite)
        w.write(1.5, "tcp", ("127.0.0.2", 5060), ("127.0.0.1", 5070), ok)
        w.write(2.0, "tls", ("127.0.0.1", 40001), ("127.0.0.2", 5061), f.REGISTER)
        w.write(2.5, "wss", ("::1", 40002), ("::1", 8089), f.REGISTER)
        for i in range(20):
            w.write(3 + i * 0.02, "udp", ("127.0.0.2", 6000), ("127.0.0.1", 4000),
                    f.rtp(i, i * 160, 0x1234, 8))
    cap = read_capture(str(path))
    assert [(p.label, p.transport) for p in cap.sip] == [
        ("INVITE", "udp"), ("200", "tcp"), ("REGISTER", "tls"), ("REGISTER", "wss")]
    assert cap.sip[3].src == ("::1", 40002)
    (stream,) = cap.rtp_streams
    assert (stream.ssrc, stream.codec, stream.packets, stream.lost) == (0x1234, "PCMA", 20, 0)
