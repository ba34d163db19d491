"""``pcap diagnose`` and the summary's verdicts on the public aaa.pcap (issue 17, must show).

aaa.pcap (../shared/captures-public, read at test time, never copied) holds a Nero SIPPS
phone registering three accounts over one Call-ID and then a second one: it answers every
challenge about 17 s late, puts its own address in the digest uri, authenticates 35104723
as voi18062, and gets ``403 Wrong password`` once.
"""

from __future__ import annotations

import io
import json

import pytest

from sipclient.cli import Env, main

from tests.pcap.public import PUBLIC

AAA = PUBLIC / "aaa.pcap"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), Env(stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def report() -> list[dict]:
    assert AAA.is_file(), f"{AAA} is missing (../shared beside the clone)"
    status, out, err = run("pcap", "diagnose", str(AAA), "--json")
    assert status == 1 and err == ""
    return json.loads(out)


def by_aor(report: list[dict]) -> dict[str, dict]:
    return {r["aor"]: r for r in report}


def finding(reg: dict, code: str) -> dict:
    return next(f for f in reg["findings"] if f["code"] == code)


def test_three_registrations_one_per_from_user_across_call_ids(report):
    regs = by_aor(report)
    assert list(regs) == ["sip:voi18063@sip.cybercity.dk", "sip:voi18062@sip.cybercity.dk",
                          "sip:35104723@sip.cybercity.dk"]
    assert regs["sip:35104723@sip.cybercity.dk"]["call_ids"] == [
        "578222729-4665d775@578222732-4665d772", "29858147-465b0752@29858051-465b07b2"]
    assert [r["state"] for r in report] == ["not registered", "registered", "registered"]


def test_verdicts_with_frames_and_the_17_s_delay(report):
    regs = by_aor(report)
    first = regs["sip:voi18063@sip.cybercity.dk"]
    assert first["codes"] == ["forbidden", "stale-nonce", "uri-mismatch"]
    forbidden = finding(first, "forbidden")
    assert "403 Wrong password" in forbidden["summary"] and forbidden["frames"] == [30, 32]
    stale = finding(first, "stale-nonce")
    assert stale["frames"] == [108, 121, 122] and "17.1 s" in stale["summary"]
    assert "nonce has changed" in stale["evidence"][0]
    uri = finding(first, "uri-mismatch")
    assert "sip:192.168.1.2" in uri["summary"] and "sip:sip.cybercity.dk" in uri["summary"]
    assert uri["frames"] == [30, 121]
    third = regs["sip:35104723@sip.cybercity.dk"]
    assert third["codes"] == ["stale-nonce", "username-mismatch", "uri-mismatch"]
    user = finding(third, "username-mismatch")
    assert "'voi18062'" in user["summary"] and "'35104723'" in user["summary"]
    assert user["frames"] == [453, 524, 558, 648]
    assert regs["sip:voi18062@sip.cybercity.dk"]["codes"] == ["stale-nonce", "uri-mismatch"]


def test_never_wrong_password_without_a_password_file(report):
    assert all("wrong-password" not in r["codes"] for r in report)
    first = report[0]
    assert any("cannot be told" in n and "--password-file" in n for n in first["notes"])


def test_with_a_password_file_the_password_is_judged(tmp_path):
    pw = tmp_path / "pw.txt"
    pw.write_text("not-their-password\n")
    status, out, err = run("pcap", "diagnose", str(AAA), "--password-file", str(pw), "--json")
    regs = by_aor(json.loads(out))
    assert status == 1 and "not-their-password" not in out + err
    assert regs["sip:voi18063@sip.cybercity.dk"]["verdict"] == "wrong-password"
    assert finding(regs["sip:voi18063@sip.cybercity.dk"], "wrong-password")["frames"] == [30, 121]


def test_human_output_leads_with_the_verdict():
    status, out, err = run("pcap", "diagnose", str(AAA))
    lines = out.splitlines()
    assert status == 1 and err == ""
    assert lines[2] == ("sip:voi18063@sip.cybercity.dk: FORBIDDEN (not registered); also "
                        "stale-nonce, uri-mismatch")
    assert "frame 32: 403 Wrong password to the REGISTER of frame 30" in out
    assert "change: " in out
    assert "wrong password" not in out.lower().replace("403 wrong password", "")


def test_summary_shows_the_verdicts_and_all_from_users():
    status, out, err = run("pcap", "summary", str(AAA))
    assert status == 0
    assert ("from sip:voi18063@sip.cybercity.dk, sip:voi18062@sip.cybercity.dk, "
            "sip:35104723@sip.cybercity.dk") in out
    assert "verdicts: sip:voi18063@sip.cybercity.dk forbidden/stale-nonce/uri-mismatch" in out
    assert "Registrations (details: sipclient pcap diagnose):" in out
    status, out, err = run("pcap", "summary", str(AAA), "--json")
    data = json.loads(out)
    assert [r["codes"] for r in data["registrations"]][0] == ["forbidden", "stale-nonce",
                                                              "uri-mismatch"]
    assert len(data["sip"]["dialogs"][0]["from_all"]) == 3


def test_missing_password_file_is_one_line(tmp_path):
    status, out, err = run("pcap", "diagnose", str(AAA), "--password-file",
                           str(tmp_path / "none.txt"))
    assert status == 2 and out == "" and err.count("\n") == 1 and "cannot read" in err


def test_not_a_capture_and_no_register(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_text("REGISTER sip:x SIP/2.0\r\n")
    status, out, err = run("pcap", "diagnose", str(junk))
    assert status == 65 and out == "" and err.count("\n") == 1 and "not a pcap" in err
    status, out, err = run("pcap", "diagnose", str(PUBLIC / "sip-rtp-g711.pcap"), "--json")
    assert status == 0 and json.loads(out) == []
    status, out, err = run("pcap", "diagnose", str(PUBLIC / "sip-rtp-g711.pcap"))
    assert status == 0 and out.endswith("no REGISTER in the capture\n")


@pytest.mark.parametrize("host,private", [
    ("192.168.1.2", True), ("10.0.0.7", True), ("172.16.5.4", True), ("100.64.1.1", True),
    ("169.254.0.9", True), ("fd00::1", True), ("::ffff:10.1.2.3", True),
    ("80.230.219.70", False), ("127.0.0.1", False), ("sip.example.com", False),
    ("[2a00:1450:4001::1]", False)])
def test_private_addresses(host, private):
    from sipclient.pcap.registrations import is_private

    assert is_private(host) is private


def test_garbled_headers_never_raise():
    """aaa.pcap's REGISTERs with their Authorization, Contact and Via cut short: the
    diagnosis still comes, without the checks that needed them."""
    from sipclient.pcap.diagnose import diagnose
    from sipclient.pcap.read import SipPacket, read_capture
    from sipclient.proto.message import parse_message

    broken = []
    for p in read_capture(str(AAA)).sip:
        raw = (p.raw.replace(b'response="', b'response=')
               .replace(b"Contact:  <sip:", b"Contact: <sip:@")
               .replace(b"Via: SIP/2.0/UDP 192.168.1.2;", b"Via: SIP/2.0/UDP ;"))
        broken.append(SipPacket(p.frame, p.time, p.src, p.dst, p.transport,
                                parse_message(raw), raw))
    found = {d.registration.aor: d.codes for d in diagnose(broken)}
    assert found["sip:voi18063@sip.cybercity.dk"][0] == "forbidden"


def test_rport_the_registrar_ignores_leaves_the_private_contact_unreachable():
    """aaa.pcap's phone asks for rport and its registrar answers rport=5060: no finding.
    With the registrar's rport= taken out of its answers, every registration's private
    Contact (192.168.1.2 behind 80.230.219.70) is unreachable."""
    from sipclient.pcap.diagnose import diagnose
    from sipclient.pcap.read import SipPacket, read_capture
    from sipclient.proto.message import parse_message

    packets = read_capture(str(AAA)).sip
    assert all("contact-unreachable" not in d.codes for d in diagnose(packets))
    ignored = [SipPacket(p.frame, p.time, p.src, p.dst, p.transport,
                         parse_message(p.raw.replace(b";rport=5060", b"")), p.raw)
               for p in packets]
    found = diagnose(ignored)
    assert all("contact-unreachable" in d.codes for d in found)
    evidence = next(f for f in found[0].findings if f.code == "contact-unreachable").evidence[0]
    assert "Contact sip:voi18063@192.168.1.2:5060" in evidence
    assert "with rport, which the registrar's answer ignored" in evidence
