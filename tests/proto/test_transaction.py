"""The transaction state tables and their interpreter, without the core (RFC 3261 17)."""

from __future__ import annotations

import pytest

from sipclient.proto.errors import LocalProtocolError
from sipclient.proto.message import Request, parse_message
from sipclient.proto.timers import TIMERS, TimerConfig
from sipclient.proto.transaction import (INITIAL, STATE_TIMERS, TABLES, ClientKey,
                                         ClientTransaction, Deliver, Input, Kind, ServerKey,
                                         ServerTransaction, State, TimedOut, Transmit,
                                         build_ack, build_cancel, build_response,
                                         cancel_target_key, client_key, describe, server_key)

ADDR = ("10.0.0.2", 5060)


def _request(method="INVITE", via="SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc", extra=()):
    return Request(method, "sip:bob@10.0.0.2", headers=[
        ("Via", via), ("Via", "SIP/2.0/UDP proxy.example;branch=z9hG4bKp"),
        ("Route", "<sip:p1.example;lr>, <sip:p2.example;lr>"), ("Max-Forwards", "69"),
        ("From", '"Alice" <sip:alice@a.example>;tag=ft'), ("To", "<sip:bob@b.example>"),
        ("Call-ID", "cid"), ("CSeq", f"4 {method}"), ("Contact", "<sip:alice@10.0.0.1>"),
        *extra])


def _kinds_of(effects):
    return [type(e).__name__ for e in effects]


# -- the tables themselves


@pytest.mark.parametrize("kind", list(Kind))
def test_tables_only_start_timers_that_live_in_the_target_state(kind):
    for (state, inp), tr in [((None, None), INITIAL[kind]), *TABLES[kind].items()]:
        for action in tr.actions:
            verb, _, name = action.partition(" ")
            if verb in ("start", "rearm", "rearm_t2"):
                assert name in TIMERS
                assert name in STATE_TIMERS[kind].get(tr.target, ()), (state, inp, action)
        if inp is not None and inp.value.startswith("timer "):
            assert inp.value[6:] in STATE_TIMERS[kind].get(state, ()), (state, inp)


def test_describe_draws_the_machines():
    lines = describe(Kind.INVITE_CLIENT)
    assert lines[0] == "(start) --> Calling: transmit, start A, start B"
    assert "Calling --300-699--> Completed: send_ack, deliver, start D" in lines
    assert "Proceeding --2xx--> Accepted: deliver, start M" in lines  # RFC 6026
    assert "Completed --timer D--> Terminated: -" in describe(Kind.INVITE_CLIENT)
    assert "Accepted --request retransmission--> Accepted: absorb" in describe(
        Kind.INVITE_SERVER)


def test_timer_values_from_table_4():
    cfg = TimerConfig()
    unreliable = {n: cfg.duration(n, False) for n in "ABDEFGHIJKLM"}
    reliable = {n: cfg.duration(n, True) for n in "ABDEFGHIJKLM"}
    assert unreliable == {"A": 0.5, "B": 32.0, "D": 32.0, "E": 0.5, "F": 32.0, "G": 0.5,
                          "H": 32.0, "I": 5.0, "J": 32.0, "K": 5.0, "L": 32.0, "M": 32.0}
    assert reliable == {"A": None, "B": 32.0, "D": 0.0, "E": None, "F": 32.0, "G": None,
                        "H": 32.0, "I": 0.0, "J": 0.0, "K": 0.0, "L": 32.0, "M": 32.0}
    assert cfg.next_interval("A", 16.0) == 32.0
    assert cfg.next_interval("E", 2.0) == 4.0 and cfg.next_interval("E", 4.0) == 4.0


# -- keys (17.1.3, 17.2.3)


def test_keys():
    inv = _request()
    assert client_key(inv) == ClientKey("z9hG4bKabc", "INVITE")
    assert server_key(inv) == ServerKey("z9hG4bKabc", "10.0.0.1:5060", "INVITE")
    ack = _request("ACK")
    assert server_key(ack) == server_key(inv)  # ACK matches the INVITE transaction
    cancel = _request("CANCEL")
    assert server_key(cancel).method == "CANCEL"
    assert cancel_target_key(cancel) == server_key(inv)
    # sent-by port defaults to 5060 (5061 for TLS) so "host" and "host:5060" agree
    a = _request(via="SIP/2.0/UDP Host.Example;branch=z9hG4bKx")
    b = _request(via="SIP/2.0/UDP host.example:5060;branch=z9hG4bKx")
    assert server_key(a) == server_key(b)
    tls = _request(via="SIP/2.0/TLS host.example;branch=z9hG4bKx")
    assert server_key(tls).sent_by == "host.example:5061"
    # another sent-by with the same branch is another transaction
    c = _request(via="SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKabc")
    assert server_key(c) != server_key(inv)
    legacy = _request(via="SIP/2.0/UDP 10.0.0.1:5060")
    assert server_key(legacy).legacy and server_key(_request("ACK", via="SIP/2.0/UDP "
                                                             "10.0.0.1:5060")) == server_key(legacy)


# -- builders (17.1.1.3, 9.1, 8.2.6)


def test_build_ack_for_non_2xx():
    inv = _request()
    resp = build_response(inv, 486, to_tag="busy")
    ack = build_ack(inv, resp)
    assert ack.method == "ACK" and ack.uri == inv.uri
    assert [str(v) for v in ack.via] == ["SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc"]
    assert ack.headers.get_all("Route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert ack.headers.get("From") == inv.headers.get("From")
    assert ack.to.tag == "busy" and ack.call_id == "cid" and str(ack.cseq) == "4 ACK"
    assert ack.body == b"" and parse_message(bytes(ack)).method == "ACK"


def test_build_cancel():
    inv = _request()
    cancel = build_cancel(inv)
    assert cancel.method == "CANCEL" and cancel.uri == inv.uri
    assert len(cancel.via) == 1 and cancel.top_via.branch == "z9hG4bKabc"
    assert cancel.headers.get("To") == "<sip:bob@b.example>"
    assert str(cancel.cseq) == "4 CANCEL" and len(cancel.route) == 2


def test_build_response_copies_per_8_2_6_2():
    inv = _request(extra=[("Timestamp", "54")])
    trying = build_response(inv, 100)
    assert trying.reason == "Trying" and trying.headers.get("Timestamp") == "54"
    assert trying.to.tag is None and len(trying.via) == 2
    ok = build_response(inv, 200, to_tag="t", headers=[("Contact", "<sip:b@h>")], body=b"x")
    assert ok.to.tag == "t" and ok.headers.get("Timestamp") is None
    assert ok.headers.get("Route") is None and ok.body == b"x"


# -- interpreter


def test_invite_client_proceeding_stops_retransmissions_and_timer_b():
    tx = ClientTransaction(_request(), ADDR, reliable=False)
    assert _kinds_of(tx.start(0.0)) == ["Transmit"]
    resp = build_response(tx.request, 180, to_tag="r")
    assert _kinds_of(tx.receive_response(resp, 0.1)) == ["Deliver"]
    assert tx.state is State.PROCEEDING and tx.next_deadline() is None
    ok = build_response(tx.request, 200, to_tag="r")
    assert tx.receive_response(ok, 5.0) == [Deliver(ok)]
    assert tx.state is State.ACCEPTED and tx.running_timers() == {"M": 37.0}
    assert tx.receive_response(ok, 6.0) == [Deliver(ok)]  # 2xx retransmissions go up
    assert tx.handle_timer(37.0) == [] and tx.terminated


def test_invite_client_completed_resends_ack_for_each_failure_copy():
    tx = ClientTransaction(_request(), ADDR, reliable=False)
    tx.start(0.0)
    busy = build_response(tx.request, 486, to_tag="b")
    first = tx.receive_response(busy, 1.0)
    assert _kinds_of(first) == ["Transmit", "Deliver"] and tx.state is State.COMPLETED
    again = tx.receive_response(busy, 2.0)
    assert len(again) == 1 and again[0].data == first[0].data and again[0].retransmission
    assert tx.handle_timer(32.9) == [] and not tx.terminated
    tx.handle_timer(33.0)
    assert tx.terminated


def test_reliable_failure_terminates_at_once():
    tx = ClientTransaction(_request(), ADDR, reliable=True)
    tx.start(0.0)
    effects = tx.receive_response(build_response(tx.request, 603, to_tag="d"), 0.1)
    assert _kinds_of(effects) == ["Transmit", "Deliver"] and tx.terminated  # D = 0


def test_non_invite_client_absorbs_after_final():
    tx = ClientTransaction(_request("OPTIONS"), ADDR, reliable=False)
    tx.start(0.0)
    ok = build_response(tx.request, 200, to_tag="x")
    assert tx.receive_response(ok, 0.2) == [Deliver(ok)]
    assert tx.receive_response(ok, 0.3) == []  # absorbed in Completed
    assert tx.running_timers() == {"K": 5.2}


def test_transport_error_ends_client_transaction():
    tx = ClientTransaction(_request("OPTIONS"), ADDR, reliable=True)
    tx.start(0.0)
    assert _kinds_of(tx.transport_error(0.1)) == ["TransportFailed"] and tx.terminated


def test_late_handle_timer_keeps_the_exact_schedule():
    tx = ClientTransaction(_request(), ADDR, reliable=False)
    tx.start(0.0)
    effects = tx.handle_timer(4.0)  # timers due at 0.5, 1.5 and 3.5 all fire now
    assert len(effects) == 3 and tx.running_timers() == {"A": 7.5, "B": 32.0}
    effects = tx.handle_timer(40.0)
    assert effects[-1] == TimedOut("B") and tx.terminated


def test_invite_server_transaction():
    inv = _request()
    tx = ServerTransaction(inv, ("10.0.0.1", 5060), reliable=False)
    assert tx.start(0.0) == [Deliver(inv)]
    assert tx.running_timers() == {"Trying": 0.2}
    assert tx.receive_request(inv, 0.1) == []  # nothing sent yet: nothing to repeat
    (trying,) = tx.handle_timer(0.2)
    assert isinstance(trying, Transmit) and trying.message.status == 100
    assert tx.receive_request(inv, 0.3)[0].data == trying.data
    busy = build_response(inv, 486, to_tag="b")
    tx.send_response(busy, 1.0)
    assert tx.state is State.COMPLETED and tx.running_timers() == {"G": 1.5, "H": 33.0}
    assert tx.to_tag == "b"
    with pytest.raises(LocalProtocolError):
        tx.send_response(build_response(inv, 200, to_tag="b"), 1.1)
    ack = _request("ACK")
    assert tx.receive_request(ack, 1.2) == [Deliver(ack)]
    assert tx.receive_request(ack, 1.3) == []  # absorbed in Confirmed
    assert tx.running_timers() == {"I": 6.2}


def test_invite_server_accepted_absorbs_invites_and_passes_acks():
    inv = _request()
    tx = ServerTransaction(inv, ("10.0.0.1", 5060), reliable=False)
    tx.start(0.0)
    ok = build_response(inv, 200, to_tag="x")
    assert _kinds_of(tx.send_response(ok, 0.0)) == ["Transmit"]
    assert tx.state is State.ACCEPTED and tx.running_timers() == {"L": 32.0}
    assert tx.receive_request(inv, 0.5) == []
    assert _kinds_of(tx.send_response(ok, 0.5)) == ["Transmit"]  # TU's retransmission
    assert _kinds_of(tx.receive_request(_request("ACK"), 0.6)) == ["Deliver"]
    tx.handle_timer(32.0)
    assert tx.terminated


def test_non_invite_server_transaction():
    req = _request("OPTIONS")
    tx = ServerTransaction(req, ("10.0.0.1", 5060), reliable=False)
    tx.start(0.0)
    assert tx.receive_request(req, 0.1) == []  # Trying: absorbed
    tx.send_response(build_response(req, 100), 0.2)
    assert tx.state is State.PROCEEDING
    assert _kinds_of(tx.receive_request(req, 0.3)) == ["Transmit"]
    tx.send_response(build_response(req, 200, to_tag="t"), 0.4)
    assert tx.running_timers() == {"J": pytest.approx(32.4)}
    assert tx.receive_request(req, 0.5)[0].message.status == 200


def test_ack_never_creates_a_transaction():
    with pytest.raises(LocalProtocolError):
        ClientTransaction(_request("ACK"), ADDR, reliable=False)
    with pytest.raises(LocalProtocolError):
        ServerTransaction(_request("ACK"), ADDR, reliable=False)


def test_inputs_cover_every_timer():
    assert {Input.timer(n) for n in TIMERS} <= set(Input)
