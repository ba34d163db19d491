"""The lean UAC core (sipclient.load.lean) with a fake clock and a scripted far end: no
sockets. Every datagram it sends is read back with the full parser."""

from __future__ import annotations

import random

import pytest

from sipclient.load.lean import LINGER, T1, T2, LeanUac
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats
from sipclient.proto.builders import build_response
from sipclient.proto.digest import DigestClient
from sipclient.proto.digest_server import DigestServer
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request, parse_message

SERVER = ("127.0.0.1", 5080)
UAS_CONTACT = "<sip:uas@127.0.0.1:5090>"


def make(calls: int = 1, hold: float = 0.0, timeout: float = 32.0, rate=None,
         concurrency: int = 10, password: str | None = None) -> LeanUac:
    spec = LoadSpec(kind="call", target="udp:127.0.0.1:5080", number="600", rate=rate,
                    calls=calls, hold=hold, timeout=timeout, concurrency=concurrency,
                    user="alice" if password else None, password=password)
    digest = DigestClient("alice", password) if password else None
    return LeanUac(spec, local=("127.0.0.1", 5062), server=SERVER, domain="127.0.0.1",
                   stats=LoadStats(1000.0), sdp=b"v=0\r\n", token="t0k", wall_offset=1000.0,
                   digest=digest, ids=IdGenerator(random.Random(1)))


def sent(uac: LeanUac) -> list[Request]:
    out = [parse_message(d) for d in uac.out]
    uac.out.clear()
    assert all(isinstance(m, Request) for m in out)
    return out  # type: ignore[return-value]


def answer(req: Request, status: int, **kw) -> bytes:
    headers = kw.pop("headers", [])
    if 200 <= status < 300 and req.method == "INVITE":
        headers = [("Contact", UAS_CONTACT), *headers]
    return build_response(req, status, "X", to_tag="uas-tag", headers=headers,
                          **kw).serialize()


def test_normal_call_invite_180_200_ack_bye_200():
    uac = make()
    uac.tick(0.0)
    [invite] = sent(uac)
    assert invite.method == "INVITE" and invite.uri == "sip:600@127.0.0.1:5080"
    assert invite.cseq.seq == 1 and invite.body == b"v=0\r\n"
    assert invite.top_via.params["branch"].startswith("z9hG4bK")
    uac.receive(answer(invite, 180), SERVER, 0.010)
    uac.receive(answer(invite, 200), SERVER, 0.030)
    ack, bye = sent(uac)
    assert ack.method == "ACK" and ack.uri == "sip:uas@127.0.0.1:5090"
    assert ack.cseq.seq == 1 and ack.to.tag == "uas-tag" and ack.call_id == invite.call_id
    assert ack.top_via.params["branch"] != invite.top_via.params["branch"]
    assert bye.method == "BYE" and bye.uri == "sip:uas@127.0.0.1:5090" and bye.cseq.seq == 2
    assert bye.from_.tag == invite.from_.tag and bye.to.tag == "uas-tag"
    assert not uac.finished
    uac.receive(answer(bye, 200), SERVER, 0.040)
    assert uac.finished and uac.out == []
    s = uac.stats
    assert (s.attempted, s.completed, s.failed) == (1, 1, 0)
    assert dict(s.by_status) == {"200": 1}
    assert s.histograms["pdd_ms"].get_max_value() == pytest.approx(10_000, rel=0.01)
    assert s.histograms["setup_ms"].get_max_value() == pytest.approx(30_000, rel=0.01)
    assert uac.retransmissions == 0 and uac.strays == 0


def test_401_is_answered_with_the_digest_and_the_call_goes_on():
    uac = make(password="s3cret")
    server = DigestServer("lab", b"secret", random_bytes=lambda n: b"\x01" * n)
    uac.tick(0.0)
    [invite] = sent(uac)
    uac.receive(answer(invite, 401, headers=[("WWW-Authenticate", str(server.challenge(0)))]),
                SERVER, 0.01)
    ack401, retry = sent(uac)
    assert ack401.method == "ACK" and ack401.cseq.seq == 1
    assert ack401.top_via.params["branch"] == invite.top_via.params["branch"]
    assert retry.method == "INVITE" and retry.cseq.seq == 2
    assert retry.top_via.params["branch"] != invite.top_via.params["branch"]
    assert server.verify(retry.headers.get("Authorization"), "INVITE", "s3cret", 0.01,
                         request_uri=retry.uri)
    uac.receive(answer(retry, 200), SERVER, 0.02)
    ack, bye = sent(uac)
    assert ack.cseq.seq == 2 and ack.headers.get("Authorization") is not None
    assert bye.cseq.seq == 3
    uac.receive(answer(bye, 200), SERVER, 0.03)
    assert uac.stats.completed == 1 and dict(uac.stats.by_status) == {"200": 1}


def test_lost_200_the_invite_is_sent_again_at_t1_doubling():
    uac = make()
    uac.tick(0.0)
    [invite] = sent(uac)
    raw = uac.calls[invite.call_id.encode()].request
    assert uac.tick(0.4) == pytest.approx(T1)
    assert uac.out == []
    uac.tick(T1)
    assert uac.out == [raw]  # the same bytes, same branch
    uac.out.clear()
    assert uac.tick(T1 + 0.1) == pytest.approx(3 * T1)  # then 2 T1 later
    uac.tick(3 * T1)
    assert uac.out == [raw] and uac.retransmissions == 2
    uac.out.clear()
    uac.receive(answer(invite, 200), SERVER, 1.6)
    assert [m.method for m in sent(uac)] == ["ACK", "BYE"]


def test_a_200_received_again_is_acked_again():
    uac = make(hold=5.0)
    uac.tick(0.0)
    [invite] = sent(uac)
    ok = answer(invite, 200)
    uac.receive(ok, SERVER, 0.01)
    [ack] = sent(uac)
    uac.receive(ok, SERVER, 0.51)  # the UAS did not get our ACK
    [again] = sent(uac)
    assert again.serialize() == ack.serialize() and uac.reacks == 1
    uac.tick(5.01)  # the hold is over
    [bye] = sent(uac)
    assert bye.method == "BYE"


def test_bye_is_sent_again_until_answered():
    uac = make()
    uac.tick(0.0)
    [invite] = sent(uac)
    uac.receive(answer(invite, 200), SERVER, 0.0)
    _, bye = sent(uac)
    times = []
    t = 0.0
    while t < 12.0:
        t = round(t + 0.05, 2)
        uac.tick(t)
        if uac.out:
            assert uac.out == [bye.serialize()]
            uac.out.clear()
            times.append(t)
    # timer E: T1, 2 T1, 4 T1, then capped at T2
    assert times[:4] == pytest.approx([0.5, 1.5, 3.5, 7.5])
    assert times[4] == pytest.approx(7.5 + T2)
    uac.receive(answer(bye, 200), SERVER, t)
    assert uac.stats.completed == 1 and uac.finished


def test_486_is_acked_counted_and_re_acked():
    uac = make()
    uac.tick(0.0)
    [invite] = sent(uac)
    busy = answer(invite, 486)
    uac.receive(busy, SERVER, 0.01)
    [ack] = sent(uac)
    assert ack.method == "ACK" and ack.uri == invite.uri and ack.to.tag == "uas-tag"
    assert ack.top_via.params["branch"] == invite.top_via.params["branch"]
    s = uac.stats
    assert (s.completed, s.failed) == (0, 1)
    assert dict(s.by_status) == {"486": 1} and dict(s.by_reason) == {"4xx": 1}
    assert uac.finished
    uac.receive(busy, SERVER, 0.6)  # our ACK was lost
    assert sent(uac)[0].serialize() == ack.serialize()
    uac.tick(0.01 + LINGER)
    assert uac.calls == {}


def test_no_answer_times_out_after_timeout():
    uac = make(timeout=1.0)
    uac.tick(0.0)
    sent(uac)
    uac.tick(0.5)
    assert len(uac.out) == 1
    uac.tick(1.0)
    s = uac.stats
    assert (s.failed, dict(s.by_reason)) == (1, {"timeout": 1})
    assert "no response to INVITE in 1 s" in s.errors
    assert uac.finished and uac.retransmissions == 1


def test_garbage_strays_and_compact_headers():
    uac = make()
    uac.tick(0.0)
    [invite] = sent(uac)
    uac.receive(b"\x00\x01 not sip", SERVER, 0.01)
    uac.receive(b"SIP/2.0 200 OK\r\nCall-ID: nobody\r\n\r\n", SERVER, 0.01)
    other = parse_message(invite.serialize().replace(invite.call_id.encode(), b"other-call"))
    uac.receive(answer(other, 200), SERVER, 0.01)  # a 200 for a call we do not have
    assert uac.garbage == 2 and uac.strays == 1 and uac.out == []
    # compact header names: the scan does not read them, the parser does
    ok = answer(invite, 200).replace(b"\r\nCall-ID:", b"\r\ni:").replace(b"\r\nTo:",
                                                                          b"\r\nt:")
    uac.receive(ok, SERVER, 0.02)
    assert [m.method for m in sent(uac)] == ["ACK", "BYE"]


def test_record_route_gives_the_route_set_of_ack_and_bye():
    uac = make()
    uac.tick(0.0)
    [invite] = sent(uac)
    uac.receive(answer(invite, 200, headers=[("Record-Route", "<sip:p2;lr>"),
                                             ("Record-Route", "<sip:p1;lr>")]), SERVER, 0.01)
    ack, bye = sent(uac)
    assert ack.headers.get_all("Route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    assert bye.headers.get_all("Route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    assert bye.uri == "sip:uas@127.0.0.1:5090"


def test_bye_from_the_far_end_during_the_hold_ends_the_call_completed():
    uac = make(hold=30.0)
    uac.tick(0.0)
    [invite] = sent(uac)
    uac.receive(answer(invite, 200), SERVER, 0.01)
    [ack] = sent(uac)
    bye = (f"BYE sip:alice@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;"
           f"branch=z9hG4bKfar\r\nFrom: {ack.headers.get('To')}\r\nTo: "
           f"{ack.headers.get('From')}\r\nCall-ID: {invite.call_id}\r\nCSeq: 7 BYE\r\n"
           "Content-Length: 0\r\n\r\n").encode()
    uac.receive(bye, ("127.0.0.1", 5099), 1.0)
    [(data, addr)] = uac.out_to
    assert addr == ("127.0.0.1", 5099) and data.startswith(b"SIP/2.0 200")
    assert uac.stats.completed == 1 and uac.finished and uac.out == []


def test_pacing_and_concurrency_cap_and_stop():
    uac = make(calls=5, rate=10.0, concurrency=2, hold=60.0)
    assert uac.tick(0.0) == pytest.approx(0.1)
    assert uac.out == []
    uac.tick(0.1)
    uac.tick(0.2)
    uac.tick(0.3)  # due: 3, but only 2 may be in flight
    invites = sent(uac)
    assert len(invites) == 2 and uac.started == 2
    for inv in invites:
        uac.receive(answer(inv, 200), SERVER, 0.31)
    assert [m.method for m in sent(uac)] == ["ACK", "ACK"]  # held
    uac.stop(0.4)
    byes = sent(uac)
    assert [m.method for m in byes] == ["BYE", "BYE"]
    for bye in byes:
        uac.receive(answer(bye, 200), SERVER, 0.41)
    uac.tick(0.5)
    assert uac.finished and uac.started == 2 and uac.out == []
    assert uac.stats.completed == 2


RESPONSES = [
    # sipp -sn uas
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bKab.1.1\r\n"
    b"From: <sip:sipclient@127.0.0.1>;tag=ab-1\r\nTo: <sip:600@127.0.0.1>;tag=11SIPpTag01\r\n"
    b"Call-ID: ab-1\r\nCSeq: 1 INVITE\r\nContact: <sip:127.0.0.1:5090;transport=UDP>\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
    # Asterisk-like: received/rport on Via, display names, Contact with parameters
    b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport=5062;received=10.0.0.1;"
    b"branch=z9hG4bKab.2.1\r\nFrom: \"x\" <sip:a@b>;tag=ab-2\r\nTo: <sip:600@b>;tag=as1\r\n"
    b"Call-ID: ab-2\r\nCSeq: 1 INVITE\r\nContact: <sip:600@10.0.0.9:5060>\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKab.3.1\r\n"
    b"From: <sip:a@b>;tag=ab-3\r\nTo: \"B\" <sip:600@b>;tag=as2\r\nCall-ID: ab-3\r\n"
    b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKab.4.b\r\n"
    b"From: <sip:a@b>;tag=ab-4\r\nTo: <sip:600@b>;tag=as3\r\nCall-ID: ab-4\r\n"
    b"CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    # what the scan leaves to the parser: Record-Route, compact names, other casing
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKab.5.1\r\n"
    b"Record-Route: <sip:p1;lr>\r\nFrom: <sip:a@b>;tag=ab-5\r\nTo: <sip:600@b>;tag=as4\r\n"
    b"Call-ID: ab-5\r\nCSeq: 1 INVITE\r\nContact: <sip:600@10.0.0.9>\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKab.6.1\r\n"
    b"f: <sip:a@b>;tag=ab-6\r\nt: <sip:600@b>;tag=as5\r\ni: ab-6\r\nCSeq: 1 INVITE\r\n"
    b"m: <sip:600@10.0.0.9>\r\nl: 0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVIA: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKab.7.1\r\n"
    b"FROM: <sip:a@b>;tag=ab-7\r\nTO: <sip:600@b>;tag=as6\r\nCALL-ID: ab-7\r\n"
    b"CSEQ: 1 INVITE\r\nCONTACT: <sip:600@10.0.0.9>\r\nContent-Length: 0\r\n\r\n",
]


@pytest.mark.parametrize("data", RESPONSES)
def test_the_scan_reads_what_the_parser_reads_or_leaves_it_to_the_parser(data):
    from sipclient.load.scan import from_parsed, scan_response

    parsed = from_parsed(parse_message(data), data)
    assert parsed is not None
    fields = ("status", "call_id", "cseq", "method", "branch", "contact")
    scanned = scan_response(data)
    if b"Record-Route" in data or b"\r\ni: " in data or b"CALL-ID" in data:
        assert scanned is None  # the parser's job
        return
    assert scanned is not None
    assert [getattr(scanned, f) for f in fields] == [getattr(parsed, f) for f in fields]
    if scanned.status >= 200:
        assert scanned.to == parsed.to


def test_after_a_180_no_retransmission_and_a_timeout_without_the_200():
    uac = make(timeout=3.0)
    uac.tick(0.0)
    [invite] = sent(uac)
    uac.receive(answer(invite, 180), SERVER, 0.1)
    assert len(uac._heap) == 1  # no timer entry per provisional response
    for t in (0.5, 1.0, 2.0, 3.0):
        uac.tick(t)
    assert uac.out == [] and uac.retransmissions == 0 and uac.stats.failed == 0
    uac.tick(3.1)  # 3 s after the 180
    assert uac.stats.failed == 1 and dict(uac.stats.by_reason) == {"timeout": 1}
