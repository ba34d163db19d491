"""One module decides what a retransmission is, for the ladder, the summary and pcap
validate: the RFC 3261 rule, and tshark's sip.resend for the summary's tshark parity."""

from __future__ import annotations

import pytest

from sipclient.pcap.flowspec import observe
from sipclient.pcap.ladder import LadderMessage, mark_retransmissions as ladder_marks
from sipclient.pcap.retransmissions import mark_retransmissions
from sipclient.proto.message import parse_message

A, B = ("10.0.0.1", 5060), ("10.0.0.2", 5060)


def _msg(start: str, cseq: str, branch: str = "z9hG4bK-1", body: str = "") -> bytes:
    return (f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n"
            "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\n"
            f"CSeq: {cseq}\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


INVITE = _msg("INVITE sip:b@x SIP/2.0", "1 INVITE")
CANCEL = _msg("CANCEL sip:b@x SIP/2.0", "1 CANCEL")
RINGING = _msg("SIP/2.0 180 Ringing", "1 INVITE")
# sender, receiver, bytes: the INVITE sent twice, 180 twice, the CANCEL twice, a new INVITE
FLOW = [(A, B, INVITE), (A, B, INVITE), (B, A, RINGING), (B, A, RINGING), (A, B, CANCEL),
        (A, B, CANCEL), (A, B, _msg("INVITE sip:b@x SIP/2.0", "2 INVITE", "z9hG4bK-2"))]


class _Packet:
    def __init__(self, n: int, src, dst, data: bytes) -> None:
        self.frame, self.time, self.src, self.dst = n, float(n), src, dst
        self.transport, self.raw, self.message = "UDP", data, parse_message(data)


def _sent():
    return [(s, d, "UDP", parse_message(data), data) for s, d, data in FLOW]


def test_the_rfc_rule_marks_every_repeat_within_a_transaction() -> None:
    assert mark_retransmissions(_sent()) == [False, True, False, True, False, True, False]


def test_the_tshark_rule_is_the_rfc_rule_without_what_sip_resend_cannot_see() -> None:
    tshark = mark_retransmissions(_sent(), rule="tshark")
    assert tshark == [False, True, False, False, False, False, False]  # no 1xx, no CANCEL
    assert all(r for r, t in zip(mark_retransmissions(_sent()), tshark) if t)
    with pytest.raises(ValueError, match="rfc3261, tshark"):
        mark_retransmissions(_sent(), rule="wireshark")


def test_ladder_and_flow_files_use_the_same_rule() -> None:
    packets = [_Packet(n, s, d, data) for n, (s, d, data) in enumerate(FLOW, 1)]
    ladder = [LadderMessage(p.time, f"{p.src[0]}:{p.src[1]}", f"{p.dst[0]}:{p.dst[1]}",
                            "x", p.raw.decode(), "c1", "UDP") for p in packets]
    marks = ladder_marks(ladder)
    assert marks == mark_retransmissions(_sent())
    flow = observe(packets)[0]
    assert flow.retransmissions == sum(marks)
    assert [m.kind for m in flow.messages] == ["INVITE", "180", "CANCEL", "INVITE"]
