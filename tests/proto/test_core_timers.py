"""Retransmission and timeout timers through the core, on a lossy fake link with a fake clock.

Times are exact: the clock only jumps to the deadlines the cores report (RFC 3261 17.1.1.2,
17.1.2.2, 17.2.1, 13.3.1.4; RFC 6026).
"""

from __future__ import annotations

import pytest

try:
    from tests.proto.fakes import UAC_ADDR, UAS_ADDR, FakeNetwork, make_request
except ImportError:
    from fakes import UAC_ADDR, UAS_ADDR, FakeNetwork, make_request

from sipclient.proto.core import (AckReceived, RequestReceived, ResponseReceived,
                                  TransactionTimeout)
from sipclient.proto.dialog import Dialog
from sipclient.proto.timers import TimerConfig
from sipclient.proto.transaction import State, build_response

NOWHERE = ("10.0.0.99", 5060)  # nobody listens: every datagram is lost

TIMER_E = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
TIMER_A = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def _answer(status, *, provisional=None, to_tag="uas"):
    """UAS test code answering every new request with ``status``."""

    def handler(ep, event, now):
        if isinstance(event, RequestReceived) and event.request.method != "CANCEL":
            if provisional:
                ep.core.send_response(build_response(event.request, provisional), now,
                                      event.key)
            if status:
                ep.core.send_response(build_response(
                    event.request, status, to_tag=to_tag,
                    headers=[("Contact", "<sip:bob@10.0.0.2>")]), now, event.key)
    return handler


def _acking(ep, event, now):
    """UAC test code that ACKs each new 2xx (13.2.2.4)."""
    if isinstance(event, ResponseReceived) and 200 <= event.response.status < 300 \
            and event.request.method == "INVITE" and not event.retransmission:
        dialog = Dialog.from_uac(event.request, event.response)
        ep.core.send_ack(dialog.create_ack(event.request), UAS_ADDR, now)


def test_timer_e_doubles_capped_at_t2_and_timer_f_times_out_at_64_t1():
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    key = uac.core.send_request(make_request("OPTIONS"), NOWHERE, 0.0)
    net.run(until=100)
    assert net.times("OPTIONS") == TIMER_E
    assert uac.events == [(32.0, TransactionTimeout(key, "F"))]
    assert uac.core.transaction(key) is None and uac.core.get_timer() is None


def test_timer_a_doubles_and_timer_b_times_out_at_64_t1():
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    key = uac.core.send_request(make_request("INVITE"), NOWHERE, 0.0)
    net.run(until=100)
    assert net.times("INVITE") == TIMER_A
    assert uac.events == [(32.0, TransactionTimeout(key, "B"))]


@pytest.mark.parametrize("method", ["INVITE", "OPTIONS"])
def test_no_retransmissions_over_reliable_transport(method):
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    key = uac.core.send_request(make_request(method), NOWHERE, 0.0, reliable=True)
    net.run(until=100)
    assert net.times(method) == [0.0]
    assert uac.events == [(32.0, TransactionTimeout(key, "B" if method == "INVITE" else "F"))]


def test_configured_t1_t2_scale_the_schedule():
    net = FakeNetwork()
    uac = net.add(UAC_ADDR, timers=TimerConfig(t1=0.1, t2=0.4))
    key = uac.core.send_request(make_request("OPTIONS"), NOWHERE, 0.0)
    net.run(until=10)
    assert net.times("OPTIONS")[:6] == pytest.approx([0.0, 0.1, 0.3, 0.7, 1.1, 1.5])
    assert uac.events == [(pytest.approx(6.4), TransactionTimeout(key, "F"))]


def test_timer_e_uses_t2_once_proceeding():
    # 17.1.2.2: in Proceeding, timer E is reset to T2 each time it fires; the UAS absorbs
    # the retransmissions and repeats its last provisional response.
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    uas = net.add(UAS_ADDR, _answer(None, provisional=100))
    key = uac.core.send_request(make_request("OPTIONS"), UAS_ADDR, 0.0)
    net.run(until=14)
    assert net.times("OPTIONS") == [0.0, 0.5, 4.5, 8.5, 12.5]
    assert net.times("100") == [0.0, 0.5, 4.5, 8.5, 12.5]
    assert len(uas.of_type(RequestReceived)) == 1
    assert uac.core.transaction(key).state is State.PROCEEDING


def test_lost_final_response_is_repeated_for_the_request_retransmission():
    net = FakeNetwork()
    net.drop_label("200")
    uac = net.add(UAC_ADDR)
    uas = net.add(UAS_ADDR, _answer(200))
    uac.core.send_request(make_request("OPTIONS"), UAS_ADDR, 0.0)
    net.run(until=60)
    assert [(r.t, r.label, r.dropped) for r in net.records] == [
        (0.0, "OPTIONS", False), (0.0, "200", True), (0.5, "OPTIONS", False),
        (0.5, "200", False)]
    assert net.records[1].data == net.records[3].data  # byte-identical retransmission
    assert len(uas.of_type(RequestReceived)) == 1
    assert len(uac.of_type(ResponseReceived)) == 1
    # timers K (T4 = 5 s) and J (64*T1) drain both transactions
    assert uac.core.get_timer() is None and uas.core.get_timer() is None


def test_timer_g_retransmits_failure_until_timer_h():
    net = FakeNetwork()
    net.drop_label("ACK", times=100)
    uac = net.add(UAC_ADDR)
    uas = net.add(UAS_ADDR, _answer(486))
    uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.run(until=100)
    assert net.times("486") == TIMER_E  # G follows the same schedule: T1, doubling, T2
    assert net.times("ACK") == TIMER_E  # the client transaction ACKs every copy
    key = uas.of_type(RequestReceived)[0].key
    assert uas.of_type(TransactionTimeout) == [TransactionTimeout(key, "H")]
    assert uas.events[-1][0] == 32.0
    assert not uac.of_type(TransactionTimeout)  # timer D just ends the client side


def test_ack_stops_timer_g_and_timer_i_ends_the_transaction():
    net = FakeNetwork()
    net.drop_label("ACK", times=2)
    uac = net.add(UAC_ADDR)
    uas = net.add(UAS_ADDR, _answer(486))
    invite_key = uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.run(until=1.5)
    assert net.times("486") == [0.0, 0.5, 1.5]
    key = uas.of_type(RequestReceived)[0].key
    assert uas.core.transaction(key).state is State.CONFIRMED
    assert uas.of_type(AckReceived)[0].key == key
    assert uas.core.transaction(key).running_timers() == {"I": 6.5}
    assert uac.core.transaction(invite_key).running_timers() == {"D": 32.0}
    net.run(until=100)
    assert net.times("486") == [0.0, 0.5, 1.5]
    assert uas.core.transaction(key) is None and uac.core.transaction(invite_key) is None


def test_uas_core_retransmits_2xx_until_the_ack_arrives():
    # 13.3.1.4 / RFC 6026: the 2xx is repeated by the UAS core (T1, doubling, capped at T2);
    # the INVITE retransmissions meanwhile are absorbed by the Accepted transaction.
    net = FakeNetwork()
    net.drop_label("200", times=2)
    uac = net.add(UAC_ADDR, _acking)
    uas = net.add(UAS_ADDR, _answer(200))
    uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.run(until=100)
    assert net.times("200") == [0.0, 0.5, 1.5]
    assert net.times("INVITE") == [0.0, 0.5, 1.5]  # timer A fires at 1.5 too
    assert net.times("ACK") == [1.5]
    assert len(uas.of_type(RequestReceived)) == 1
    assert uas.of_type(AckReceived)[0].key is None  # the 2xx ACK is its own transaction
    assert not uas.of_type(TransactionTimeout)
    assert uac.core.get_timer() is None and uas.core.get_timer() is None


def test_2xx_never_acked_times_out_and_each_copy_is_acked_by_the_core():
    net = FakeNetwork()
    net.drop_label("ACK", times=100)
    uac = net.add(UAC_ADDR, _acking)
    uas = net.add(UAS_ADDR, _answer(200))
    uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.run(until=100)
    assert net.times("200") == TIMER_E
    assert net.times("ACK") == TIMER_E  # 13.2.2.4: the core re-sends the application's ACK
    flags = [e.retransmission for e in uac.of_type(ResponseReceived)]
    assert flags == [False] + [True] * 10
    key = uas.of_type(RequestReceived)[0].key
    assert uas.of_type(TransactionTimeout) == [TransactionTimeout(key, "2xx")]


def test_automatic_100_trying_after_200_ms_of_silence():
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    net.add(UAS_ADDR)  # no application: nobody answers
    key = uac.core.send_request(make_request("INVITE"), UAS_ADDR, 0.0)
    net.run(until=10)
    assert [(r.t, r.label) for r in net.records] == [(0.0, "INVITE"), (0.2, "100")]
    assert uac.core.transaction(key).state is State.PROCEEDING


def test_random_loss_still_completes_the_transaction():
    net = FakeNetwork(loss=0.4, seed=3)
    uac = net.add(UAC_ADDR)
    uas = net.add(UAS_ADDR, _answer(200))
    uac.core.send_request(make_request("MESSAGE", body=b"hi"), UAS_ADDR, 0.0)
    net.run(until=100)
    assert len(uac.of_type(ResponseReceived)) == 1
    assert len(uas.of_type(RequestReceived)) == 1
    assert any(r.dropped for r in net.records)
