"""HEP3 of real calls against the Asterisk lab (issue 21, must show): ``sipclient call
--hep udp:127.0.0.1:PORT`` to a UDP listener in the test; tshark decodes the datagrams as
HEP3 (``-d udp.port==PORT,hep``, scripts/wireshark/hep3.lua) and finds the same SIP
messages, in the same order, with the same addresses and times, as the call's own pcap; over
UDP and WSS; the RTCP reports go too, correlated with the Call-ID; the key never shows.

Extensions 1016 and 2009 (tests/cli/test_softclient_lab.py's) only place calls here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sipclient.cli import EXIT_OK, Env, main
from sipclient.io.target import parse_target
from sipclient.pcap.hep import decode
from sipclient.pcap.read import read_capture
from tests.hep.collector import Collector

pytestmark = pytest.mark.lab
KEY = "s3cret-hep-key"


def run(argv: list[str], environ: dict) -> tuple[int, str, str]:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ)
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


@pytest.mark.parametrize("transport,extension,extra", [("udp", "1016", []),
                                                       ("wss", "2009", ["--insecure"])])
def test_call_with_hep_matches_its_own_pcap(lab, tmp_path, transport, extension, extra):
    acc = lab.account(extension)
    pcap = tmp_path / "call.pcap"
    with Collector() as c:
        code, out, err = run(
            ["call", "600", "--server", acc.transports[transport], "--user", acc.extension,
             *extra, "--duration", "1", "--json", "--pcap", str(pcap),
             "--hep", f"udp:127.0.0.1:{c.port}", "--hep-id", "9"],
            {"SIPCLIENT_PASSWORD": acc.password, "SIPCLIENT_HEP_KEY": KEY})
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    got = c.tshark(tmp_path / "hep.pcap")
    own = read_capture(str(pcap))
    sip = [g for g in got if g["hep.proto_type"] == "1"]
    assert len(own.sip) >= 9
    assert [(g["hep.src_ip"], int(g["hep.src_port"]), g["hep.dst_ip"], int(g["hep.dst_port"]),
             g["sip.Method"] or g["sip.Status-Code"], g["sip.Call-ID"], g["sip.CSeq"])
            for g in sip] == [
        (p.src[0], p.src[1], p.dst[0], p.dst[1], p.label, p.message.call_id,
         f"{p.message.cseq[0]} {p.message.cseq[1]}" if isinstance(p.message.cseq, tuple)
         else str(p.message.headers.get("CSeq")))
        for p in own.sip]
    for g, p in zip(sip, own.sip):       # the same clock as the pcap, to the microsecond
        assert abs(int(g["hep.ts_sec"]) + int(g["hep.ts_usec"]) / 1e6 - p.time) < 2e-6
        assert g["hep.capture_id"] == "9" and g["hep.auth_key"] == KEY
        assert g["hep.correlation_id"] == p.message.call_id
    # the transport's own addresses: the lab's port for this transport
    lab_port = parse_target(acc.transports[transport]).port
    assert any(int(g["hep.dst_port"]) == lab_port for g in sip)
    rtcp = [g for g in got if g["hep.proto_type"] == "5"]
    assert rtcp, "the RTCP reports (at least the final one with BYE) are sent"
    assert {g["hep.correlation_id"] for g in rtcp} == {obj["call_id"]}
    assert KEY not in out + err and acc.password not in out + err


def test_run_with_hep_sends_every_scenarios_sip(lab, tmp_path):
    """``sipclient run --hep``: each scenario's messages (UDP call, WSS registration) reach
    the collector in the order and with the addresses of its own capture.pcap."""
    repo = Path(__file__).resolve().parents[2]
    with Collector() as c:
        code, out, err = run(
            ["run", str(repo / "scenarios/numbers/600-echo.sip.yaml"),
             str(repo / "scenarios/register/register-wss.sip.yaml"),
             "--report-dir", str(tmp_path / "rep"), "--hep", f"udp:127.0.0.1:{c.port}"],
            {"SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir), "SIPCLIENT_HEP_KEY": KEY})
    assert code == EXIT_OK, out + err
    got = [decode(p) for p in c.packets()]
    sip = [g for g in got if g["proto_type"] == 1]
    folders = sorted(p.parent for p in (tmp_path / "rep").rglob("capture.pcap"))
    assert len(folders) == 2
    total = 0
    for folder in folders:
        own = read_capture(str(folder / "capture.pcap"))
        ids = {p.message.call_id for p in own.sip}
        mine = [(g["src"], g["dst"], g["payload"]) for g in sip if g["correlation_id"] in ids]
        assert mine == [(p.src, p.dst, p.raw) for p in own.sip], folder.name
        total += len(mine)
    assert total == len(sip) > 8
    assert all(g["auth_key"] == KEY for g in got)
    for path in (tmp_path / "rep").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_a_scenarios_own_hep_setting(lab, tmp_path):
    with Collector() as c:
        (tmp_path / "reg.sip.yaml").write_text(
            f"name: register with HEP of its own\nhep: {{target: 'udp:127.0.0.1:{c.port}', "
            "capture_id: 12}\nagents:\n  alice: {account: 1016}\nsteps:\n  - register: alice\n")
        code, out, err = run(["run", str(tmp_path / "reg.sip.yaml"), "--report-dir",
                              str(tmp_path / "rep")], {"SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)})
    assert code == EXIT_OK, out + err
    got = [decode(p) for p in c.packets()]
    own = read_capture(str(next((tmp_path / "rep").rglob("capture.pcap"))))
    assert [g["payload"] for g in got] == [p.raw for p in own.sip]
    assert {g["capture_id"] for g in got} == {12} and len(got) == 8   # register + unregister
