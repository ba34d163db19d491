"""``pcap validate`` on flows built from real-shaped messages (no capture file needed).

The golden and the run differ in every volatile value (Call-ID, tags, branches, nonces,
ports, addresses, CSeq numbers, times) so that only what must be compared is compared.
"""

from __future__ import annotations

import pytest

from sipclient.pcap.flowspec import FlowFileError, parse_flow_text
from sipclient.pcap.read import SipPacket
from sipclient.pcap.validate import Tolerances, compare, validate
from sipclient.proto.message import parse_message


def sdp(codecs: list[str], direction: str = "sendrecv", port: int = 10000) -> str:
    pts = {"PCMU": 0, "PCMA": 8, "GSM": 3}
    fmt = " ".join(str(pts[c]) for c in codecs) + " 101"
    maps = "".join(f"a=rtpmap:{pts[c]} {c}/8000\r\n" for c in codecs)
    return ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {fmt}\r\n{maps}a=rtpmap:101 telephone-event/8000\r\n"
            f"a=fmtp:101 0-16\r\na={direction}\r\n")


class Dialog:
    """Builds a dialog between a phone (side A) and the PBX with given volatile values."""

    def __init__(self, seed: int, t0: float = 1000.0) -> None:
        self.seed = seed
        self.phone = (f"10.0.{seed}.5", 5060 + seed)
        self.pbx = ("192.0.2.1", 7048 + seed)
        self.cid = f"call-{seed}-xyz"
        self.ftag, self.ttag = f"ft{seed}", f"tt{seed}"
        self.cseq = 100 * seed + 7
        self.t = t0
        self.packets: list[SipPacket] = []
        self.branch = 0

    def _add(self, text: str, out: bool, dt: float) -> None:
        self.t += dt
        raw = text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        src, dst = (self.phone, self.pbx) if out else (self.pbx, self.phone)
        self.packets.append(SipPacket(len(self.packets) + 1, self.t, src, dst, "udp",
                                      parse_message(raw), raw))

    def request(self, method: str, *, body: str = "", auth: bool = False, new_cseq=True,
                to_tag: bool = False, dt: float = 0.01, headers: str = "",
                same_branch: bool = False) -> None:
        if new_cseq and method != "ACK":
            self.cseq += 1
        if not same_branch:
            self.branch += 1
        ct = "Content-Type: application/sdp\n" if body else ""
        cred = (f'Authorization: Digest username="1001", realm="asterisk", nonce="n{self.seed}", '
                f'uri="sip:602@lab", response="{self.seed:032x}", algorithm=MD5, '
                f'cnonce="c{self.seed}", qop=auth, nc=00000001\n') if auth else ""
        tt = f";tag={self.ttag}" if to_tag else ""
        self._add(
            f"{method} sip:602@lab SIP/2.0\n"
            f"Via: SIP/2.0/UDP {self.phone[0]}:{self.phone[1]};rport;branch=z9hG4bK{self.seed}x{self.branch}\n"
            f"From: <sip:1001@lab>;tag={self.ftag}\nTo: <sip:602@lab>{tt}\n"
            f"Call-ID: {self.cid}\nCSeq: {self.cseq} {method}\nMax-Forwards: 70\n"
            f"Contact: <sip:1001@{self.phone[0]}:{self.phone[1]}>\n{cred}{ct}{headers}"
            f"Content-Length: {len(body)}\n\n{body}", True, dt)

    def response(self, status: int, reason: str, method: str, *, body: str = "",
                 dt: float = 0.01, headers: str = "", to_tag: bool = True) -> None:
        ct = "Content-Type: application/sdp\n" if body else ""
        tt = f";tag={self.ttag}" if to_tag else ""
        self._add(
            f"SIP/2.0 {status} {reason}\n"
            f"Via: SIP/2.0/UDP {self.phone[0]}:{self.phone[1]};rport={self.phone[1]};"
            f"received={self.phone[0]};branch=z9hG4bK{self.seed}x{self.branch}\n"
            f"From: <sip:1001@lab>;tag={self.ftag}\nTo: <sip:602@lab>{tt}\n"
            f"Call-ID: {self.cid}\nCSeq: {self.cseq} {method}\n{ct}{headers}"
            f"Content-Length: {len(body)}\n\n{body}", False, dt)


CHALLENGE = ('WWW-Authenticate: Digest realm="asterisk",nonce="{n}",opaque="{o}",'
             'algorithm=MD5,qop="auth"\n')


def early_media_call(seed: int, *, answer_codecs=("PCMU",), answer_after: float = 3.0,
                     offer=("PCMU", "PCMA", "GSM"),
                     early: bool = True, retransmit_200: bool = False) -> list[SipPacket]:
    """Seed 001's authenticated INVITE to 602: INVITE 401 ACK INVITE 100 183 200 ACK BYE 200."""
    d = Dialog(seed)
    d.request("INVITE", body=sdp(list(offer)))
    d.response(401, "Unauthorized", "INVITE",
               headers=CHALLENGE.format(n=f"{seed}/abc", o=f"op{seed}"))
    d.request("ACK", new_cseq=False, same_branch=True, to_tag=True)
    d.request("INVITE", body=sdp(list(offer)), auth=True)
    d.response(100, "Trying", "INVITE", to_tag=False)
    if early:
        d.response(183, "Session Progress", "INVITE", body=sdp(list(answer_codecs), port=20000))
    d.response(200, "OK", "INVITE", body=sdp(list(answer_codecs), port=20000),
               dt=answer_after - 0.05, headers="Allow: INVITE, ACK, BYE, CANCEL\n")
    if retransmit_200:
        d.response(200, "OK", "INVITE", body=sdp(list(answer_codecs), port=20000), dt=0.5,
                   headers="Allow: INVITE, ACK, BYE, CANCEL\n")
    d.request("ACK", new_cseq=False, to_tag=True)
    d.request("BYE", to_tag=True, dt=1.0)
    d.response(200, "OK", "BYE")
    return d.packets


def drop_last(packets: list[SipPacket], method: str) -> list[SipPacket]:
    idx = max(i for i, p in enumerate(packets) if getattr(p.message, "method", None) == method)
    return packets[:idx] + packets[idx + 1:]


GOLDEN = early_media_call(1)


def test_a_run_with_other_volatile_values_validates() -> None:
    result = validate(early_media_call(2, answer_after=3.4), GOLDEN)
    assert result.ok, result.differences
    assert result.run[0].flow == ["INVITE", "401", "ACK", "INVITE", "100", "183", "200",
                                  "ACK", "BYE", "200"]


def test_a_missing_ack_is_named_with_its_position() -> None:
    run = drop_last(early_media_call(2), "ACK")
    result = validate(run, GOLDEN)
    assert not result.ok
    assert result.differences == ["dialog 1 (INVITE): missing message 8: ACK"]


def test_another_codec_in_the_answer_is_named() -> None:
    result = validate(early_media_call(2, answer_codecs=("PCMA",)), GOLDEN)
    assert result.differences == [
        "dialog 1 (INVITE): message 6, 183 Session Progress answer: "
        "expected codecs [PCMU], got [PCMA]",
        "dialog 1 (INVITE): message 7, 200 OK answer: expected codecs [PCMU], got [PCMA]"]


def test_a_200_instead_of_183_is_a_substitution_not_a_cascade() -> None:
    result = validate(early_media_call(2, early=False), GOLDEN)
    assert result.differences == ["dialog 1 (INVITE): missing message 6: 183 Session Progress"]
    golden_without_183 = early_media_call(3, early=False)
    # the golden answers at once; the run sends 183 first: one unexpected message
    result = validate(early_media_call(2), golden_without_183)
    assert result.differences == [
        "dialog 1 (INVITE): message 6: unexpected 183 Session Progress"]


def test_a_wrong_kind_in_place_is_reported_as_expected_got() -> None:
    run = early_media_call(2)
    d = Dialog(9)
    d.response(180, "Ringing", "INVITE")
    ringing = d.packets[0]
    # replace the 183 (6th message) by a 180 of the run's own dialog
    text = ringing.raw.decode().replace(d.cid, "call-2-xyz")
    run[5] = SipPacket(6, run[5].time, run[5].src, run[5].dst, "udp",
                       parse_message(text.encode()), text.encode())
    result = validate(run, GOLDEN)
    assert result.differences[0] == \
        "dialog 1 (INVITE): message 6: expected 183 Session Progress, got 180 Ringing"


def test_retransmissions_are_not_differences() -> None:
    assert validate(early_media_call(2, retransmit_200=True), GOLDEN).ok


def test_answer_delay_is_checked_within_the_tolerance() -> None:
    late = early_media_call(2, answer_after=6.0)
    result = validate(late, GOLDEN)
    assert len(result.differences) == 1
    assert result.differences[0].startswith("dialog 1 (INVITE): answered after 6.")
    assert "expected 2.0" in result.differences[0]
    assert validate(late, GOLDEN, Tolerances(answer=5.0)).ok
    assert validate(late, GOLDEN, Tolerances(answer=None)).ok


def test_chosen_headers_are_compared_in_normal_form() -> None:
    run = early_media_call(2)
    # same challenge but realm changed
    msg = run[1].raw.decode().replace('realm="asterisk"', 'realm="other"')
    run[1] = SipPacket(2, run[1].time, run[1].src, run[1].dst, "udp",
                       parse_message(msg.encode()), msg.encode())
    result = validate(run, GOLDEN)
    assert result.differences == [
        "dialog 1 (INVITE): message 2, 401 Unauthorized: WWW-Authenticate: expected "
        "Digest realm=asterisk qop=auth algorithm=MD5, got Digest realm=other qop=auth "
        "algorithm=MD5"]
    assert validate(run, GOLDEN, Tolerances(compare_headers=False)).ok


def test_an_extra_dialog_and_a_missing_one_are_named() -> None:
    reg = Dialog(5)
    reg.request("REGISTER", headers="Expires: 3600\n")
    reg.response(200, "OK", "REGISTER", headers="Expires: 3600\n")
    result = validate(early_media_call(2) + reg.packets, GOLDEN)
    assert result.differences == ["dialog 2 (REGISTER): unexpected dialog (REGISTER, 200)"]
    result = validate(early_media_call(2), GOLDEN + reg.packets)
    assert result.differences == ["dialog 2 (REGISTER): missing (expected REGISTER, 200)"]


def test_cseq_order_matters_but_not_its_value() -> None:
    run = early_media_call(2)
    # the authenticated INVITE reuses the first INVITE's CSeq number: a real bug
    text = run[3].raw.decode().replace("CSeq: 209 INVITE", "CSeq: 208 INVITE")
    assert text != run[3].raw.decode()
    run[3] = SipPacket(4, run[3].time, run[3].src, run[3].dst, "udp",
                       parse_message(text.encode()), text.encode())
    diffs = validate(run, GOLDEN).differences
    assert "dialog 1 (INVITE): message 4, INVITE: CSeq: expected the requester's 2nd CSeq " \
           "number, got its 1st" in diffs


FLOW = """\
dialogs:
  - kind: INVITE
    answer_delay: [2, 5]
    flow:
      - INVITE: {sdp: {codecs: [PCMU, PCMA, GSM], direction: sendrecv, telephone_event: true}}
      - 401: {headers: {WWW-Authenticate: 'Digest realm="asterisk", qop="auth", nonce="x"'}}
      - ACK
      - INVITE
      - "100?"
      - "180|183"
      - 200: {sdp: {codecs: [PCMU]}, at: [2.5, 4.5]}
      - ACK
      - BYE: {from: A}
      - "200"
"""


def test_a_flow_file_with_optional_items_and_bounds() -> None:
    want = parse_flow_text(FLOW, "f.yaml")
    assert validate(early_media_call(2), want).ok
    result = validate(early_media_call(2, answer_codecs=("GSM",), answer_after=5.5), want)
    assert result.differences == [
        "dialog 1 (INVITE): message 7, 200 OK answer: expected codecs [PCMU], "
        "got [GSM]",
        "dialog 1 (INVITE): message 7, 200 OK: at 5.50 s, expected 2.50-4.50 s after the "
        "dialog's first message",
        "dialog 1 (INVITE): answered after 5.50 s, expected 2.00-5.00 s"]


def test_a_flow_file_may_leave_optional_items_out() -> None:
    want = parse_flow_text(FLOW, "f.yaml")
    run = [p for p in early_media_call(2) if getattr(p.message, "status", None) != 100]
    assert validate(run, want).ok


@pytest.mark.parametrize("text,where", [
    ("dialogs:\n  - flow: [INVITE, 20x0]\n", "f.yaml:2: bad flow item '20x0'"),
    ("dialogs:\n  - flow:\n      - INVITE\n      - 200: {sdp: {codecs: PCMU}}\n",
     "f.yaml:4: codecs must be a list"),
    ("dialogs:\n  - flow: [INVITE]\n    answer_delay: 3\n", "f.yaml:3: answer_delay must be"),
    ("dialog:\n  - flow: [INVITE]\n", "f.yaml:1: unknown key 'dialog'"),
    ("dialogs:\n  - flow: [INVITE\n", "f.yaml:3: not valid YAML"),
    ("dialogs:\n  - flow:\n      - BYE: {form: A}\n", "f.yaml:3: unknown check 'form'"),
])
def test_a_bad_flow_file_names_file_and_line(text: str, where: str) -> None:
    with pytest.raises(FlowFileError) as info:
        parse_flow_text(text, "f.yaml")
    assert str(info.value).startswith(where), str(info.value)


def test_compare_reports_nothing_for_identical_flows() -> None:
    from sipclient.pcap.flowspec import expect_from_observed, observe

    flows = observe(GOLDEN)
    assert compare(flows, expect_from_observed(flows)) == []


def test_a_kind_made_optional_may_be_missing_from_the_run() -> None:
    run = [p for p in early_media_call(2) if getattr(p.message, "status", None) != 100]
    assert validate(run, GOLDEN).differences == \
        ["dialog 1 (INVITE): missing message 5: 100 Trying"]
    assert validate(run, GOLDEN, Tolerances(optional=("100",))).ok
    # optional, not ignored: a run that has it still validates
    assert validate(early_media_call(2), GOLDEN, Tolerances(optional=("100",))).ok


def test_sdp_direction_is_compared() -> None:
    golden = Dialog(1)
    golden.request("INVITE", body=sdp(["PCMU"], "sendonly"))
    golden.response(200, "OK", "INVITE", body=sdp(["PCMU"], "recvonly"))
    run = Dialog(2)
    run.request("INVITE", body=sdp(["PCMU"], "sendonly"))
    run.response(200, "OK", "INVITE", body=sdp(["PCMU"], "sendrecv"))
    assert validate(run.packets, golden.packets).differences == [
        "dialog 1 (INVITE): message 2, 200 OK answer: expected direction recvonly, "
        "got sendrecv"]
