"""The core's cost per timer and per ACK does not grow with the number of transactions.

Cost is counted, never timed (timings belong in bench/): a counter on
``Transaction.next_deadline`` / ``Transaction.handle_timer`` tells how many transactions
``SipCore.get_timer()`` and ``SipCore.handle_timer()`` look at.
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
from sipclient.proto.transaction import Transaction, build_response

NOWHERE = ("10.0.0.99", 5060)  # nobody listens: every datagram is lost


@pytest.fixture
def visits(monkeypatch):
    """Counts how often the core looks at a transaction's timers or fires them."""
    counter = {"n": 0}
    next_deadline, handle_timer = Transaction.next_deadline, Transaction.handle_timer

    def counting_next_deadline(self):
        counter["n"] += 1
        return next_deadline(self)

    def counting_handle_timer(self, now):
        counter["n"] += 1
        return handle_timer(self, now)

    monkeypatch.setattr(Transaction, "next_deadline", counting_next_deadline)
    monkeypatch.setattr(Transaction, "handle_timer", counting_handle_timer)
    return counter


def _core_with_idle(idle: int):
    """A core with ``idle`` INVITEs waiting on timer B over TCP (no retransmits) and ``idle``
    unanswered OPTIONS server transactions (no timer at all), plus one OPTIONS over UDP
    whose timer E fires at 0.5 s."""
    net = FakeNetwork()
    core = net.add(UAC_ADDR).core
    peer = net.add(UAS_ADDR).core
    for i in range(idle):
        core.send_request(make_request("INVITE", call_id=f"idle-{i}"), NOWHERE, 0.0,
                          transport="TCP")
        peer.send_request(make_request("OPTIONS", call_id=f"in-{i}"), UAC_ADDR, 0.0,
                          transport="TCP")
    for data, _ in peer.datagrams_to_send(0.0):
        core.receive_datagram(data, UAS_ADDR, 0.0, "tcp")
    busy = core.send_request(make_request("OPTIONS", call_id="busy"), NOWHERE, 0.0)
    core.datagrams_to_send(0.0)
    received = 0
    while (event := core.next_event()) is not None:
        received += isinstance(event, RequestReceived)
    assert received == idle
    return core, busy


def _timer_cost(idle: int, visits) -> tuple[int, list]:
    core, busy = _core_with_idle(idle)
    visits["n"] = 0
    assert core.get_timer() == 0.5
    core.handle_timer(0.5)
    sent = core.datagrams_to_send(0.5)
    assert core.get_timer() == 1.5
    core.handle_timer(1.0)  # nothing due
    assert core.get_timer() == 1.5
    return visits["n"], sent


def test_timer_cost_does_not_grow_with_idle_transactions(visits):
    small, sent_small = _timer_cost(10, visits)
    large, sent_large = _timer_cost(1000, visits)
    assert len(sent_small) == len(sent_large) == 1  # the OPTIONS retransmission only
    assert small == large
    assert large <= 6  # the due transaction, not the 2000 idle ones


def test_idle_transactions_still_fire_on_time(visits):
    core, _ = _core_with_idle(50)
    core.handle_timer(32.0)  # timer B of every idle INVITE (and F of the busy OPTIONS)
    timeouts = []
    while (event := core.next_event()) is not None:
        timeouts.append(event)
    assert sorted(e.timer for e in timeouts if isinstance(e, TransactionTimeout)) == \
        ["B"] * 50 + ["F"]
    assert core.get_timer() is None  # the OPTIONS server transactions run no timer


def test_heap_stays_small_while_timers_are_rearmed():
    net = FakeNetwork()
    uac = net.add(UAC_ADDR)
    for i in range(20):
        uac.core.send_request(make_request("OPTIONS", call_id=f"o-{i}"), NOWHERE, 0.0)
    net.run(until=100)
    assert len(uac.of_type(TransactionTimeout)) == 20
    assert uac.core.get_timer() is None
    assert len(uac.core._heap) <= 64 + 20  # stale entries are dropped, not hoarded


def _calls(n: int):
    """``n`` INVITE/200/ACK calls, then BYE/200, on a lossless UDP link."""

    def uas_handler(ep, event, now):
        if isinstance(event, RequestReceived):
            ep.core.send_response(build_response(
                event.request, 200, to_tag="uas-" + event.request.call_id,
                headers=[("Contact", "<sip:bob@10.0.0.2>")]), now, event.key)

    def uac_handler(ep, event, now):
        if (isinstance(event, ResponseReceived) and event.request.method == "INVITE"
                and event.response.status == 200 and not event.retransmission):
            dialog = Dialog.from_uac(event.request, event.response)
            ep.core.send_ack(dialog.create_ack(event.request), UAS_ADDR, now)
            ep.core.send_request(dialog.create_request("BYE"), UAS_ADDR, now)

    net = FakeNetwork()
    uac = net.add(UAC_ADDR, uac_handler, seed=1)
    uas = net.add(UAS_ADDR, uas_handler, seed=2)
    for i in range(n):
        uac.core.send_request(make_request("INVITE", call_id=f"call-{i}"), UAS_ADDR, 0.0)
    return net, uac, uas


def test_many_calls_leave_no_index_behind():
    net, uac, uas = _calls(200)
    net.run(until=1.0)
    assert len(uas.of_type(AckReceived)) == 200
    oks = [e for e in uac.of_type(ResponseReceived) if e.response.status == 200]
    assert len(oks) == 400  # INVITE and BYE of each call
    net.run()  # timers L, M, J, K run out
    for core in (uac.core, uas.core):
        assert core.get_timer() is None
        assert not core._clients and not core._servers and not core._pending_2xx
        assert not core._scheduled and not core._order and not core._invites
        assert not core._invite_slot and not core._2xx_by_seq
        assert not core._merge_index and not core._merge_of and not core._servers_by_call
        assert not core._heap


def test_ack_is_resent_for_its_own_call_only_among_many():
    net, uac, _ = _calls(50)
    net.run(until=0.0)
    assert len([r for r in net.records if r.label == "ACK"]) == 50
    ok7 = next(r.data for r in net.records if r.label.startswith("200")
               and b"Call-ID: call-7\r" in r.data and b" INVITE\r" in r.data)
    uac.core.receive_datagram(ok7, UAS_ADDR, 0.1)  # a retransmission of call-7's 200
    out = uac.core.datagrams_to_send(0.1)
    assert len(out) == 1
    assert out[0][0].startswith(b"ACK ") and b"Call-ID: call-7\r" in out[0][0]
    assert out[0][1] == UAS_ADDR
