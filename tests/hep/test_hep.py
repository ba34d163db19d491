"""HEP3 without a PBX (issue 21): the encoder read back by tshark (scripts/wireshark/hep3.lua),
what the encoder sends and leaves out, the key kept secret, and ``sipclient pcap export-hep``
sending the golden captures' SIP with their own addresses, order and times."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest

from sipclient.cli import EXIT_OK, EXIT_USAGE, Env, main
from sipclient.media.rtcp import ReceiverReport, ReportBlock, SourceDescription, build_compound
from sipclient.pcap.hep import (HepEncoder, HepError, HepSettings, decode, encode,
                                parse_hep_target)
from sipclient.pcap.read import iter_packets, read_capture
from sipclient.pcap.writer import PcapWriter
from tests.hep.collector import LUA, Collector

REPO = Path(__file__).resolve().parents[2]
INVITE = (b"INVITE sip:600@lab SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n"
          b"From: <sip:1001@lab>;tag=a\r\nTo: <sip:600@lab>\r\nCall-ID: c1@test\r\n"
          b"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n")
SDP = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def invite() -> bytes:
    return INVITE + f"Content-Length: {len(SDP)}\r\n\r\n".encode() + SDP


def run(argv: list[str], environ: dict | None = None) -> tuple[int, str, str]:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_tshark_reads_our_hep3_ipv4_and_ipv6(tmp_path):
    path = tmp_path / "hep.pcap"
    with open(path, "wb") as fh:
        w = PcapWriter(fh)
        w.write(1.0, "udp", ("127.0.0.1", 4000), ("127.0.0.1", 9060),
                encode(("10.0.0.1", 5060), ("10.0.0.2", 5070), 1700000000.123456, invite(),
                       capture_id=77, auth_key="k3y", correlation_id="c1@test"))
        w.write(2.0, "udp", ("127.0.0.1", 4000), ("127.0.0.1", 9060),
                encode(("2001:db8::1", 5061), ("2001:db8::2", 443), 1700000001.5, invite(),
                       transport="wss"))
    import subprocess

    out = subprocess.run(
        ["tshark", "-n", "-X", f"lua_script:{LUA}", "-d", "udp.port==9060,hep", "-r", str(path),
         "-T", "fields", "-e", "hep.src_ip", "-e", "hep.src_port", "-e", "hep.dst_ip",
         "-e", "hep.dst_port", "-e", "hep.ts_sec", "-e", "hep.ts_usec", "-e", "hep.ip_proto",
         "-e", "hep.capture_id", "-e", "hep.auth_key", "-e", "hep.correlation_id",
         "-e", "sip.Method", "-e", "sip.Call-ID", "-e", "sdp.media.port"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert [line.split("\t") for line in out] == [
        ["10.0.0.1", "5060", "10.0.0.2", "5070", "1700000000", "123456", "17", "77", "k3y",
         "c1@test", "INVITE", "c1@test", "4000"],
        ["2001:db8::1", "5061", "2001:db8::2", "443", "1700000001", "500000", "6", "2001", "",
         "", "INVITE", "c1@test", "4000"]]


def test_encoder_sends_sip_and_rtcp_with_the_call_id_and_leaves_rtp_out():
    enc = HepEncoder(HepSettings("udp:127.0.0.1:9060"))
    sip = enc.packet(10.0, "udp", ("10.0.0.1", 5060), ("10.0.0.2", 5060), invite())
    assert decode(sip)["proto_type"] == 1 and decode(sip)["correlation_id"] == "c1@test"
    rtp = bytes([0x80, 0]) + b"\x00" * 10 + b"\xff" * 160
    assert enc.packet(10.1, "udp", ("10.0.0.1", 4000), ("10.0.0.2", 5000), rtp) is None
    rr = build_compound([ReceiverReport(0x1234, (ReportBlock(0x99, 12, 3, 1000, 80),)),
                         SourceDescription.cname(0x1234, "me@x")])
    got = decode(enc.packet(10.2, "udp", ("10.0.0.1", 4001), ("10.0.0.2", 5001), rr))
    assert got["proto_type"] == 5 and got["correlation_id"] == "c1@test"  # 4000 + 1: the SDP's
    report = json.loads(got["payload"])
    assert report["type"] == 201 and report["ssrc"] == 0x1234
    assert report["report_blocks"][0]["packets_lost"] == 3
    assert report["report_blocks"][0]["ia_jitter"] == 80 and report["sdes_cname"] == "me@x"
    # SIP over a stream transport is always SIP, whatever its first bytes
    assert enc.packet(11.0, "wss", ("10.0.0.1", 1), ("10.0.0.2", 2), b"OPTIONS x SIP/2.0\r\n\r\n")


def test_key_is_secret_and_targets_are_checked():
    s = HepSettings("tcp:[::1]:9061", capture_id=5, auth_key="s3cret-hep")
    assert "s3cret" not in repr(s) and "s3cret" not in s.describe()
    assert s.describe() == "tcp:[::1]:9061 (capture id 5, auth key set)"
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(s)
    for bad in ("9060", "http:h:1", "udp:host", "udp:host:0", "udp:host:99999"):
        with pytest.raises(HepError, match="expected"):
            parse_hep_target(bad)
    with pytest.raises(HepError, match="at most 65535"):
        encode(("1.2.3.4", 1), ("1.2.3.5", 2), 0.0, b"x" * 70000)


@pytest.mark.parametrize("name", ["invite-early-media.pcap", "register-wss.pcap",
                                  "register-tcp.pcap", "hold.pcap"])
def test_export_hep_sends_the_captures_sip_in_order_with_its_addresses(tmp_path, name):
    path = REPO / "captures" / name
    with Collector() as c:
        code, out, err = run(["pcap", "export-hep", str(path), "--hep",
                              f"udp:127.0.0.1:{c.port}", "--hep-id", "42", "--rtcp", "--json"],
                             {"SIPCLIENT_HEP_KEY": "s3cret-hep"})
    assert code == EXIT_OK, err
    capture = read_capture(str(path))
    got = c.tshark(tmp_path / "hep.pcap")
    sip = [g for g in got if g["hep.proto_type"] == "1"]
    assert [(g["hep.src_ip"], int(g["hep.src_port"]), g["hep.dst_ip"], int(g["hep.dst_port"]),
             g["sip.Method"] or g["sip.Status-Code"], g["sip.Call-ID"]) for g in sip] == [
        (p.src[0], p.src[1], p.dst[0], p.dst[1], p.label, p.message.call_id)
        for p in capture.sip]
    for g, p in zip(sip, capture.sip):
        assert abs(int(g["hep.ts_sec"]) + int(g["hep.ts_usec"]) / 1e6 - p.time) < 2e-6
        assert g["hep.capture_id"] == "42" and g["hep.auth_key"] == "s3cret-hep"
    report = json.loads(out)
    assert report["sip"] == len(capture.sip) and "s3cret" not in out + err
    rtcp = [g for g in got if g["hep.proto_type"] == "5"]
    expected_rtcp = sum(1 for p in iter_packets(str(path)) if p.transport == "udp"
                        and len(p.payload) > 1 and 200 <= p.payload[1] <= 204)
    assert report["rtcp"] == len(rtcp) == expected_rtcp
    call_ids = {p.message.call_id for p in capture.sip}
    assert all(g["hep.correlation_id"] in call_ids for g in rtcp)


def test_export_hep_over_tcp(tmp_path):
    path = REPO / "captures" / "busy.pcap"
    with Collector("tcp") as c:
        code, out, err = run(["pcap", "export-hep", str(path), "--hep", f"tcp:127.0.0.1:{c.port}"])
    assert code == EXIT_OK, err
    assert "sent 7 SIP messages to tcp:127.0.0.1:" in out
    got = [decode(p) for p in c.packets()]
    capture = read_capture(str(path))
    assert [(g["src"], g["dst"], g["payload"]) for g in got] == [
        (p.src, p.dst, p.raw) for p in capture.sip]
    assert all(g["ip_proto"] == 17 for g in got)


def test_export_hep_errors_in_words(tmp_path):
    path = str(REPO / "captures" / "busy.pcap")
    code, _, err = run(["pcap", "export-hep", path])
    assert code == EXIT_USAGE and "--hep udp:HOST:PORT" in err
    code, _, err = run(["pcap", "export-hep", path, "--hep", "udp:127.0.0.1"])
    assert code == EXIT_USAGE and "expected udp:HOST:PORT" in err and "Traceback" not in err
    with socket.socket() as s:       # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(["pcap", "export-hep", path, "--hep", f"tcp:127.0.0.1:{port}"])
    assert code == EXIT_USAGE and "cannot connect" in err
    code, _, err = run(["pcap", "export-hep", path, "--hep", "udp:127.0.0.1:9",
                        "--hep-key-env", "NOPE"])
    assert code == EXIT_USAGE and "NOPE is not set" in err
    code, _, err = run(["pcap", "export-hep", path, "--hep", "udp:127.0.0.1:9",
                        "--call-id", "nope"])
    assert code == EXIT_USAGE


def test_profile_and_run_settings(tmp_path):
    from sipclient.scenario.labs import TargetSpec
    from sipclient.scenario.target import ProfileError, Target

    profile = tmp_path / "p.yaml"
    (tmp_path / "hep.key").write_text("from-file\n")
    profile.write_text("target: udp:pbx.example.net:7048\n"
                       "hep: {target: 'tcp:homer.example.net:9061', capture_id: 7, "
                       "auth_key_file: hep.key}\n")
    t = Target.from_profile(profile, environ={})
    assert t.hep.describe() == "tcp:homer.example.net:9061 (capture id 7, auth key set)"
    assert t.hep.auth_key == "from-file" and "from-file" not in repr(t)
    profile.write_text("target: udp:pbx.example.net:7048\nhep: udp:homer:9060\n")
    t = Target.from_profile(profile, environ={"SIPCLIENT_HEP_KEY": "env-key"})
    assert (str(t.hep.target), t.hep.capture_id, t.hep.auth_key) == ("udp:homer:9060", 2001,
                                                                     "env-key")
    profile.write_text("target: udp:pbx.example.net:7048\nhep: {target: 'udp:h:1', key: x}\n")
    with pytest.raises(ProfileError, match=r"hep.*key"):
        Target.from_profile(profile, environ={})
    profile.write_text("target: udp:pbx.example.net:7048\nhep: {target: 'udp:h', "
                       "auth_key_env: K}\n")
    with pytest.raises(ProfileError, match="K is not set"):
        Target.from_profile(profile, environ={})
    spec = TargetSpec(target="udp:pbx.example.net:7048", environ={"K": "k"},
                      hep={"target": "udp:127.0.0.1:9060", "capture_id": 3,
                           "auth_key_env": "K", "auth_key_file": None})
    assert spec.build().hep.describe() == "udp:127.0.0.1:9060 (capture id 3, auth key set)"
    code, _, err = run(["run", str(REPO / "scenarios/numbers/600-echo.sip.yaml"),
                        "--hep", "udp:nope"])
    assert code == EXIT_USAGE and "expected udp:HOST:PORT" in err


def test_a_bad_hep_in_a_scenario_is_a_load_error_with_its_line(tmp_path):
    (tmp_path / "bad.sip.yaml").write_text("name: x\nhep: 9060\nagents:\n  a: {user: '1'}\n"
                                           "steps:\n  - register: a\n")
    code, _, err = run(["run", str(tmp_path / "bad.sip.yaml")])
    assert code == EXIT_USAGE and "bad.sip.yaml:2:" in err and "Traceback" not in err
