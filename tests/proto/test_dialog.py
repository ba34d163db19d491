"""Dialogs (RFC 3261 12): creation, route set, CSeq, target refresh, in-dialog requests."""

from __future__ import annotations

import random

import pytest

from sipclient.proto.dialog import Dialog, DialogId, DialogSet, DialogState
from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request
from sipclient.proto.transaction import build_response

# Request path: alice -> p1 -> p2 -> bob. p1 records first, p2 on top of it.
RR = [("Record-Route", "<sip:p2.example;lr>"), ("Record-Route", "<sip:p1.example;lr>")]


def _invite(extra=(), cseq=10):
    return Request("INVITE", "sip:bob@b.example", headers=[
        ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKi"),
        ("From", '"Alice" <sip:alice@a.example>;tag=atag'), ("To", "<sip:bob@b.example>"),
        ("Call-ID", "dlg-1"), ("CSeq", f"{cseq} INVITE"),
        ("Contact", "<sip:alice@10.0.0.1:5060>"),
        ("Authorization", 'Digest username="alice", realm="lab", nonce="n", '
                          'uri="sip:bob@b.example", response="00"'), *extra])


def _answer(req, status, tag="btag", contact="<sip:bob@10.0.0.2:5062>", extra=()):
    headers = list(extra)
    if contact:
        headers.append(("Contact", contact))
    return build_response(req, status, to_tag=tag, headers=headers)


def _uac_dialog(extra_resp=RR):
    inv = _invite()
    return inv, Dialog.from_uac(inv, _answer(inv, 200, extra=extra_resp))


def test_uac_dialog_from_2xx():
    inv, d = _uac_dialog()
    assert d.state is DialogState.CONFIRMED and d.is_uac
    assert d.id == DialogId("dlg-1", "atag", "btag")
    assert d.remote_target == "sip:bob@10.0.0.2:5062"
    assert d.route_set == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]  # reversed (12.1.2)
    assert (d.local_seq, d.remote_seq) == (10, None)
    assert d.next_hop == "sip:p1.example;lr"


def test_uas_dialog_keeps_record_route_order():
    inv = _invite(extra=RR)
    d = Dialog.from_uas(inv, _answer(inv, 180))
    assert d.state is DialogState.EARLY and not d.is_uac
    assert d.id == DialogId("dlg-1", "btag", "atag")
    assert d.route_set == ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]  # as received
    assert d.remote_target == "sip:alice@10.0.0.1:5060"
    assert (d.local_seq, d.remote_seq) == (None, 10)
    assert d.response_sent(_answer(inv, 200)) is DialogState.CONFIRMED
    assert DialogId.of_incoming_request(_bye_from_alice(11)) == d.id


def test_dialog_needs_a_to_tag():
    inv = _invite()
    with pytest.raises(ParseError):
        Dialog.from_uac(inv, build_response(inv, 200))
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac(inv, _answer(inv, 486))


def test_in_dialog_request_with_loose_routing():
    inv, d = _uac_dialog()
    bye = d.create_request("BYE")
    assert bye.uri == "sip:bob@10.0.0.2:5062"
    assert bye.headers.get_all("Route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert bye.headers.get("From") == '"Alice" <sip:alice@a.example>;tag=atag'
    assert bye.to.tag == "btag" and bye.call_id == "dlg-1" and str(bye.cseq) == "11 BYE"
    assert bye.max_forwards == 70 and bye.headers.get("Contact") is None
    assert not bye.via  # the core adds the Via and its branch


def test_in_dialog_request_with_strict_routing():
    inv, d = _uac_dialog(extra_resp=[("Record-Route", "<sip:p2.example;lr>"),
                                     ("Record-Route", "<sip:p1.example;method=INVITE>")])
    info = d.create_request("INFO")
    # 12.2.1.1: the strict router's URI becomes the Request-URI; the remote target goes last
    assert info.uri == "sip:p1.example"
    assert info.headers.get_all("Route") == ["<sip:p2.example;lr>", "<sip:bob@10.0.0.2:5062>"]
    assert d.next_hop == "sip:p1.example;method=INVITE"


def test_no_route_set():
    inv, d = _uac_dialog(extra_resp=())
    req = d.create_request("UPDATE", body=b"v=0\r\n", content_type="application/sdp")
    assert req.uri == "sip:bob@10.0.0.2:5062" and req.route == []
    assert req.headers.get("Contact") == "<sip:alice@10.0.0.1:5060>"  # target refresh
    assert req.content_type == "application/sdp" and req.body == b"v=0\r\n"


def test_local_cseq_increments_and_contact_on_refresh_methods():
    inv, d = _uac_dialog()
    seen = []
    for method in ("INVITE", "INFO", "UPDATE", "REFER", "NOTIFY", "MESSAGE", "BYE"):
        req = d.create_request(method, headers=[("X-Test", method)])
        seen.append((req.cseq.seq, req.cseq.method, req.headers.get("Contact") is not None))
        assert req.headers.get("X-Test") == method
    assert seen == [(11, "INVITE", True), (12, "INFO", False), (13, "UPDATE", True),
                    (14, "REFER", True), (15, "NOTIFY", True), (16, "MESSAGE", False),
                    (17, "BYE", False)]
    with pytest.raises(LocalProtocolError):
        d.create_request("ACK")


def test_ack_for_2xx_uses_the_invite_cseq_and_credentials():
    inv, d = _uac_dialog()
    reinvite = d.create_request("INVITE")
    d.create_request("INFO")  # a later request does not change the ACK's number
    ack = d.create_ack(reinvite)
    assert str(ack.cseq) == "11 ACK" and ack.uri == d.remote_target
    assert len(ack.route) == 2 and ack.headers.get("Contact") is None
    first_ack = d.create_ack(inv)
    assert str(first_ack.cseq) == "10 ACK"
    assert first_ack.headers.get("Authorization") == inv.headers.get("Authorization")


def _bye_from_alice(seq, method="BYE", contact=None):
    headers = [("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb"),
               ("From", "<sip:alice@a.example>;tag=atag"),
               ("To", "<sip:bob@b.example>;tag=btag"), ("Call-ID", "dlg-1"),
               ("CSeq", f"{seq} {method}")]
    if contact:
        headers.append(("Contact", contact))
    return Request(method, "sip:bob@10.0.0.2:5062", headers=headers)


def test_remote_cseq_out_of_order_gets_500():
    inv = _invite()
    d = Dialog.from_uas(inv, _answer(inv, 200))
    assert d.receive_request(_bye_from_alice(12, "INFO")) is None
    assert d.remote_seq == 12
    assert d.receive_request(_bye_from_alice(11, "INFO")) == 500
    assert d.remote_seq == 12
    assert d.receive_request(_bye_from_alice(10, "ACK")) is None  # ACK keeps the INVITE's
    assert d.receive_request(_bye_from_alice(13)) is None
    assert d.state is DialogState.TERMINATED


def test_uas_local_cseq_starts_from_the_random_source():
    inv = _invite()
    d = Dialog.from_uas(inv, _answer(inv, 200), ids=IdGenerator(random.Random(3)))
    first = d.create_request("BYE").cseq.seq
    assert 1 <= first <= 2**16 and first < 2**31


def test_target_refresh_by_request_and_by_response():
    inv = _invite()
    uas = Dialog.from_uas(inv, _answer(inv, 200))
    uas.receive_request(_bye_from_alice(11, "INFO", contact="<sip:alice@192.0.2.1>"))
    assert uas.remote_target == "sip:alice@10.0.0.1:5060"  # INFO is no target refresh
    uas.receive_request(_bye_from_alice(12, "INVITE", contact="<sip:alice@192.0.2.1>"))
    assert uas.remote_target == "sip:alice@192.0.2.1"
    uas.receive_request(_bye_from_alice(13, "UPDATE", contact="<sip:alice@192.0.2.2>"))
    assert uas.remote_target == "sip:alice@192.0.2.2"

    _, uac = _uac_dialog()
    reinvite = uac.create_request("INVITE")
    uac.receive_response(_answer(reinvite, 200, contact="<sip:bob@198.51.100.5>"))
    assert uac.remote_target == "sip:bob@198.51.100.5"
    info = uac.create_request("INFO")
    uac.receive_response(_answer(info, 200, contact="<sip:bob@198.51.100.6>"))
    assert uac.remote_target == "sip:bob@198.51.100.5"
    assert uac.route_set == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]  # never refreshed


@pytest.mark.parametrize("status", [408, 481])
def test_408_and_481_end_the_dialog(status):
    _, d = _uac_dialog()
    info = d.create_request("INFO")
    assert d.receive_response(_answer(info, status)) is DialogState.TERMINATED
    with pytest.raises(LocalProtocolError):
        d.create_request("BYE")


def test_forking_creates_early_dialogs_keyed_by_remote_tag():
    inv = _invite()
    ds = DialogSet(inv)
    assert ds.receive_response(build_response(inv, 100)) is None
    a = ds.receive_response(_answer(inv, 180, tag="fork-a", contact="<sip:a@10.0.0.5>"))
    b = ds.receive_response(_answer(inv, 183, tag="fork-b", contact="<sip:b@10.0.0.6>"))
    assert a is not b and set(ds.dialogs) == {"fork-a", "fork-b"}
    assert [d.state for d in (a, b)] == [DialogState.EARLY, DialogState.EARLY]
    ok = _answer(inv, 200, tag="fork-b", contact="<sip:b@10.0.0.7>", extra=RR)
    assert ds.receive_response(ok) is b
    assert b.state is DialogState.CONFIRMED and b.remote_target == "sip:b@10.0.0.7"
    assert b.route_set == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]  # from the 2xx
    assert ds.early == [a] and ds.confirmed == [b]
    # a 2xx from a fork never seen before creates a confirmed dialog directly
    c = ds.receive_response(_answer(inv, 200, tag="fork-c"))
    assert c.state is DialogState.CONFIRMED and len(ds.dialogs) == 3


def test_final_failure_terminates_the_early_dialogs():
    inv = _invite()
    ds = DialogSet(inv)
    a = ds.receive_response(_answer(inv, 180, tag="fork-a"))
    ds.receive_response(_answer(inv, 180, tag="fork-b"))
    assert ds.receive_response(_answer(inv, 603, tag="fork-a")) is None
    assert a.state is DialogState.TERMINATED and ds.early == []
