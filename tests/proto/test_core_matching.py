"""Matching requests and responses to transactions (RFC 3261 17.1.3, 17.2.3, 9.2, 8.2.2.2),
the transport rules of 18.1.2 / 18.2.1 / 18.2.2 (RFC 3581), and bad input."""

from __future__ import annotations

import pytest

try:
    from tests.proto.fakes import UAC_ADDR, UAS_ADDR, FakeNetwork, make_request
except ImportError:
    from fakes import UAC_ADDR, UAS_ADDR, FakeNetwork, make_request

from sipclient.proto.core import (AckReceived, CoreConfig, MessageDropped, RequestReceived,
                                  RequestRejected, ResponseReceived, SipCore)
from sipclient.proto.errors import LocalProtocolError
from sipclient.proto.message import parse_message
from sipclient.proto.transaction import State, build_response

PEER = ("10.0.0.9", 5060)


def _core() -> SipCore:
    import random

    return SipCore(CoreConfig(host="10.0.0.2", rng=random.Random(5)))


def _drain(core):
    events = []
    while (e := core.next_event()) is not None:
        events.append(e)
    return events


def _legacy_invite(via="SIP/2.0/UDP 10.0.0.9:5060", to="<sip:bob@10.0.0.2>", method="INVITE",
                   cseq_method=None) -> bytes:
    return (f"{method} sip:bob@10.0.0.2 SIP/2.0\r\n"
            f"Via: {via}\r\n"
            "From: <sip:old@10.0.0.9>;tag=old1\r\n"
            f"To: {to}\r\n"
            "Call-ID: legacy-1@10.0.0.9\r\n"
            f"CSeq: 7 {cseq_method or method}\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


@pytest.mark.parametrize("via", ["SIP/2.0/UDP 10.0.0.9:5060",
                                 "SIP/2.0/UDP 10.0.0.9:5060;branch=1234abcd"])
def test_rfc2543_peer_without_magic_cookie(via):
    core = _core()
    core.receive_datagram(_legacy_invite(via), PEER, 0.0)
    (ev,) = _drain(core)
    assert isinstance(ev, RequestReceived) and ev.key.legacy
    core.send_response(build_response(ev.request, 486, to_tag="busy"), 0.0, ev.key)
    (first,) = core.datagrams_to_send(0.0)
    # a retransmission of the INVITE matches (Request-URI, tags, Call-ID, CSeq, top Via)
    core.receive_datagram(_legacy_invite(via), PEER, 0.3)
    assert _drain(core) == []
    assert core.datagrams_to_send(0.3) == [first]
    # the ACK matches when its To tag is the one of our response
    core.receive_datagram(_legacy_invite(via, "<sip:bob@10.0.0.2>;tag=wrong", "ACK"), PEER, 0.4)
    (ack,) = _drain(core)
    assert ack.key is None and core.transaction(ev.key).state is State.COMPLETED
    core.receive_datagram(_legacy_invite(via, "<sip:bob@10.0.0.2>;tag=busy", "ACK"), PEER, 0.4)
    (ack,) = _drain(core)
    assert isinstance(ack, AckReceived) and ack.key == ev.key
    assert core.transaction(ev.key).state is State.CONFIRMED
    core.handle_timer(0.5)  # timer G no longer runs
    assert core.datagrams_to_send(0.5) == []


def test_cancel_matches_the_invite_server_transaction():
    net = FakeNetwork()

    def uas_app(ep, event, now):
        if not isinstance(event, RequestReceived):
            return
        if event.request.method == "INVITE":
            ep.core.send_response(build_response(event.request, 180, to_tag="b"), now,
                                  event.key)
        elif event.request.method == "CANCEL":
            assert event.cancels is not None  # 9.2
            ep.core.send_response(build_response(event.request, 200, to_tag="b"), now,
                                  event.key)
            invite = ep.core.transaction(event.cancels).request
            ep.core.send_response(build_response(invite, 487, to_tag="b"), now,
                                  event.cancels)

    uac = net.add(UAC_ADDR)
    uas = net.add(UAS_ADDR, uas_app)
    invite_key = uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.pump()
    cancel_key = uac.core.send_cancel(invite_key, 0.0)
    net.run(until=100)
    assert net.flow() == ["INVITE", "180", "CANCEL", "200", "487", "ACK"]
    invite, cancel = net.records[0].message, net.records[2].message
    assert cancel_key.branch == invite_key.branch == cancel.top_via.branch
    assert (cancel.uri, cancel.call_id, cancel.cseq.seq, cancel.cseq.method) == (
        invite.uri, invite.call_id, invite.cseq.seq, "CANCEL")
    assert str(cancel.to) == str(invite.to) and len(cancel.via) == 1
    statuses = [(e.key.method, e.response.status) for e in uac.of_type(ResponseReceived)]
    assert statuses == [("INVITE", 180), ("CANCEL", 200), ("INVITE", 487)]
    assert uas.of_type(RequestReceived)[1].cancels == uas.of_type(RequestReceived)[0].key


def test_cancel_waits_for_a_provisional_response():
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    net.add(UAS_ADDR)  # silent application: the core sends 100 Trying after 200 ms
    invite_key = uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    assert uac.core.send_cancel(invite_key, 0.0) == type(invite_key)(invite_key.branch,
                                                                    "CANCEL")
    net.run(until=0.3)
    assert [(r.t, r.label) for r in net.records][:3] == [
        (0.0, "INVITE"), (0.2, "100"), (0.2, "CANCEL")]


def test_cancel_after_final_response_is_not_sent():
    core = _core()
    key = core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    (data, _), = core.datagrams_to_send(0.0)
    invite = parse_message(data)
    core.receive_datagram(bytes(build_response(invite, 486, to_tag="x")), UAS_ADDR, 0.1)
    assert core.send_cancel(key, 0.1) is None


def test_cancel_without_invite_is_reported_with_no_target():
    core = _core()
    data = _legacy_invite("SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKnothing", method="CANCEL")
    core.receive_datagram(data, PEER, 0.0)
    (ev,) = _drain(core)
    assert ev.request.method == "CANCEL" and ev.cancels is None


def test_stray_response_is_dropped():
    core = _core()
    core.send_request(make_request("OPTIONS"), UAS_ADDR, 0.0)
    (data, _), = core.datagrams_to_send(0.0)
    request = parse_message(data)
    ok = build_response(request, 200, to_tag="x")
    stray = ok.copy()
    stray.headers.set("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKunknown")
    core.receive_datagram(bytes(stray), UAS_ADDR, 0.1)
    (ev,) = _drain(core)
    assert isinstance(ev, MessageDropped) and "stray" in ev.reason
    # a response with the right branch but another CSeq method does not match either
    other = ok.copy()
    other.headers.set("CSeq", "1 INVITE")
    core.receive_datagram(bytes(other), UAS_ADDR, 0.1)
    assert isinstance(_drain(core)[0], MessageDropped)
    core.receive_datagram(bytes(ok), UAS_ADDR, 0.1)
    assert isinstance(_drain(core)[0], ResponseReceived)


def test_unparsable_request_gets_400_with_copied_headers():
    core = _core()
    bad = _legacy_invite("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKbad").replace(
        b"CSeq: 7 INVITE", b"CSeq: seven INVITE")
    core.receive_datagram(bad, ("10.0.0.9", 40000), 0.0)
    (ev,) = _drain(core)
    assert isinstance(ev, RequestRejected) and ev.status == 400 and "CSeq" in ev.reason
    (data, addr), = core.datagrams_to_send(0.0)
    assert addr == ("10.0.0.9", 5070)  # 18.2.2: received address, sent-by port
    resp = parse_message(data)
    assert resp.status == 400
    assert resp.headers.get("CSeq") == "seven INVITE"
    assert resp.top_via.branch == "z9hG4bKbad" and resp.to.tag
    assert resp.headers.get("Warning").startswith("399 10.0.0.2 ")


def test_garbage_and_bad_acks_are_dropped():
    core = _core()
    core.receive_datagram(b"hello world\r\n\r\n", PEER, 0.0)
    core.receive_datagram(_legacy_invite("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKa", method="ACK",
                                         cseq_method="INVITE").replace(b"CSeq: 7", b"CSeq: x"),
                          PEER, 0.0)
    core.receive_datagram(b"\r\n\r\n", PEER, 0.0)  # keep-alive: silently ignored
    events = _drain(core)
    assert [type(e) for e in events] == [MessageDropped, MessageDropped]
    assert events[0].error is not None
    assert core.datagrams_to_send(0.0) == []


def test_cseq_method_mismatch_is_a_bad_request():
    core = _core()
    core.receive_datagram(_legacy_invite("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKm",
                                         cseq_method="BYE"), PEER, 0.0)
    (ev,) = _drain(core)
    assert isinstance(ev, RequestRejected) and ev.status == 400


def test_merged_request_gets_482():
    core = _core()
    core.receive_datagram(_legacy_invite("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKpath1"), PEER, 0.0)
    core.receive_datagram(_legacy_invite("SIP/2.0/UDP 10.0.0.8;branch=z9hG4bKpath2"),
                          ("10.0.0.8", 5060), 0.0)
    first, second = _drain(core)
    assert isinstance(first, RequestReceived)
    assert isinstance(second, RequestRejected) and second.status == 482
    (data, addr), = core.datagrams_to_send(0.0)
    assert parse_message(data).status == 482 and addr == ("10.0.0.8", 5060)


@pytest.mark.parametrize("via, source, reply_to, stamped", [
    ("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK1", ("10.0.0.9", 40000), ("10.0.0.9", 5070),
     "SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK1"),
    ("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK1;rport", ("192.0.2.7", 40000),
     ("192.0.2.7", 40000), "SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK1;rport=40000;"
                           "received=192.0.2.7"),
    ("SIP/2.0/UDP phone.example;branch=z9hG4bK1", ("192.0.2.7", 40000), ("192.0.2.7", 5060),
     "SIP/2.0/UDP phone.example;branch=z9hG4bK1;received=192.0.2.7"),
    ("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1;maddr=239.1.1.1", ("10.0.0.9", 5060),
     ("239.1.1.1", 5060), "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1;maddr=239.1.1.1"),
])
def test_received_rport_and_response_address(via, source, reply_to, stamped):
    core = _core()
    core.receive_datagram(_legacy_invite(via, method="OPTIONS"), source, 0.0)
    (ev,) = _drain(core)
    assert str(ev.request.top_via) == stamped
    core.send_response(build_response(ev.request, 200, to_tag="t"), 0.0)
    (data, addr), = core.datagrams_to_send(0.0)
    assert addr == reply_to
    assert str(parse_message(data).top_via) == stamped


def test_response_over_stream_goes_back_on_the_connection():
    core = _core()
    msg = parse_message(_legacy_invite("SIP/2.0/TCP 10.0.0.9:5070;branch=z9hG4bKt",
                                       method="OPTIONS"))
    core.receive_message(msg, ("10.0.0.9", 51000), 0.0, "tcp")
    (ev,) = _drain(core)
    assert ev.transport == "tcp"
    core.send_response(build_response(ev.request, 200, to_tag="t"), 0.0, ev.key)
    (_, addr), = core.datagrams_to_send(0.0)
    assert addr == ("10.0.0.9", 51000)
    assert core.transaction(ev.key) is None  # timer J is 0 over a reliable transport


def test_misuse_raises_local_protocol_error():
    core = _core()
    with pytest.raises(LocalProtocolError):
        core.send_request(make_request("ACK"), UAS_ADDR, 0.0)
    core.receive_datagram(_legacy_invite("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKz",
                                         method="OPTIONS"), PEER, 0.0)
    (ev,) = _drain(core)
    core.send_response(build_response(ev.request, 200, to_tag="t"), 0.0, ev.key)
    with pytest.raises(LocalProtocolError):  # a second final response (17.2.2)
        core.send_response(build_response(ev.request, 500, to_tag="t"), 0.0, ev.key)
    stranger = build_response(parse_message(_legacy_invite(
        "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKother")), 200)
    with pytest.raises(LocalProtocolError):
        core.send_response(stranger, 0.0)


def test_outgoing_request_keeps_an_application_via_and_branch():
    core = _core()
    req = make_request("OPTIONS", headers=[("Max-Forwards", "3")])
    req.headers.insert(0, "Via", "SIP/2.0/UDP custom.example:5999;branch=z9hG4bKmine")
    key = core.send_request(req, UAS_ADDR, 0.0)
    (data, _), = core.datagrams_to_send(0.0)
    sent = parse_message(data)
    assert key.branch == "z9hG4bKmine" and sent.max_forwards == 3
    assert str(sent.top_via) == "SIP/2.0/UDP custom.example:5999;branch=z9hG4bKmine"
    assert "Via" not in make_request("OPTIONS").headers  # the caller's object is untouched
    req2 = make_request("OPTIONS", call_id="c2")
    req2.headers.insert(0, "Via", "SIP/2.0/UDP custom.example")
    key2 = core.send_request(req2, UAS_ADDR, 0.0)
    assert key2.branch.startswith("z9hG4bK")


def test_response_with_a_broken_to_header_is_dropped_not_raised():
    core = _core()
    core.send_request(make_request("OPTIONS"), UAS_ADDR, 0.0)
    (data, _), = core.datagrams_to_send(0.0)
    ok = build_response(parse_message(data), 200, to_tag="x")
    ok.headers.set("To", "<sip:bob@10.0.0.2")
    core.receive_datagram(bytes(ok), UAS_ADDR, 0.1)
    (ev,) = _drain(core)
    assert isinstance(ev, MessageDropped) and ev.error.header == "To"


def _invite_2xx_then(ack_to_tag: str) -> tuple[SipCore, list]:
    """INVITE answered 200 (To tag "uas"), then an ACK with ``ack_to_tag``; what follows."""
    core = _core()
    invite = (b"INVITE sip:bob@10.0.0.2 SIP/2.0\r\n"
              b"Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-2xx1\r\n"
              b"From: <sip:a@10.0.0.9>;tag=fa\r\nTo: <sip:bob@10.0.0.2>\r\n"
              b"Call-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    core.receive_datagram(invite, PEER, 0.0)
    (ev,) = _drain(core)
    core.send_response(build_response(ev.request, 200, to_tag="uas"), 0.0, ev.key)
    core.datagrams_to_send(0.0)
    ack = (b"ACK sip:bob@10.0.0.2 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-ack1\r\n"
           b"From: <sip:a@10.0.0.9>;tag=fa\r\nTo: <sip:bob@10.0.0.2>;tag=" + ack_to_tag.encode()
           + b"\r\nCall-ID: x\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    core.receive_datagram(ack, PEER, 0.1)
    events = _drain(core)
    while (deadline := core.get_timer()) is not None:
        core.handle_timer(deadline)
        events += _drain(core)
    return core, events


def test_the_ack_of_the_2xx_stops_its_retransmission():
    _, events = _invite_2xx_then("uas")
    assert [type(e).__name__ for e in events] == ["AckReceived"]


def test_an_ack_of_another_dialog_does_not_stop_the_2xx_wait():
    # issue 18: fuzzed datagrams sharing a Call-ID ("x") ACKed a call they did not set up: its
    # 2xx stopped, no 64*T1 timeout, the call stayed up for ever with its RTP descriptors
    _, events = _invite_2xx_then("forged")
    names = [type(e).__name__ for e in events]
    assert names[-1] == "TransactionTimeout" and events[-1].timer == "2xx", names
