"""What a finished server transaction keeps (issue 18: 100,000 hostile datagrams at a live
agent grew it to 400 MB, each answered request held for 64*T1 by its transaction).

Once its final response is sent (Completed, RFC 3261 17.2.1/17.2.2) a server transaction
lets the parsed request go; retransmissions of the request still get the same bytes, and
the ACK of a non-2xx final response is still absorbed by it.
"""

from __future__ import annotations

import gc
import weakref

from sipclient.proto.core import AckReceived, RequestReceived, SipCore
from sipclient.proto.transaction import ServerKey, State, build_response

PEER = ("10.0.0.7", 5062)


def _request(method: str, branch: str = "z9hG4bK-mem1", cseq_method: str | None = None
             ) -> bytes:
    return (f"{method} sip:1002@10.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 10.0.0.7:5062;branch={branch}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:a@10.0.0.7>;tag=fa\r\n"
            "To: <sip:1002@10.0.0.1>\r\nCall-ID: mem-1@10.0.0.7\r\n"
            f"CSeq: 1 {cseq_method or method}\r\nX-Big: {'A' * 20000}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _answered(core: SipCore, data: bytes, status: int) -> tuple[weakref.ref, object, list]:
    core.receive_datagram(data, PEER, 0.0)
    event = core.next_event()
    assert isinstance(event, RequestReceived)
    core.send_response(build_response(event.request, status, to_tag="uas"), 0.1, event.key)
    return weakref.ref(event.request), event.key, core.datagrams_to_send(0.1)


def test_a_completed_non_invite_transaction_drops_its_request_and_still_answers():
    core = SipCore()
    data = _request("OPTIONS")
    request, key, first = _answered(core, data, 200)
    gc.collect()
    assert request() is None  # the 20 KB request is gone, 32 s before timer J
    assert core.transaction(key).state is State.COMPLETED
    core.receive_datagram(data, PEER, 0.5)  # a retransmission of the request
    assert core.datagrams_to_send(0.5) == first  # the same 200, byte for byte
    assert core.next_event() is None  # not delivered again
    core.handle_timer(0.1 + 32.0)
    assert core.transaction(key) is None


def test_a_rejected_invite_drops_its_request_and_absorbs_the_ack():
    core = SipCore()
    data = _request("INVITE")
    request, key, first = _answered(core, data, 486)
    gc.collect()
    assert request() is None
    core.receive_datagram(data, PEER, 0.3)
    assert core.datagrams_to_send(0.3) == first
    ack = data.replace(b"INVITE sip:", b"ACK sip:").replace(b"1 INVITE", b"1 ACK")
    ack = ack.replace(b"To: <sip:1002@10.0.0.1>", b"To: <sip:1002@10.0.0.1>;tag=uas")
    core.receive_datagram(ack, PEER, 0.4)
    assert isinstance(core.next_event(), AckReceived)
    assert core.transaction(key).state is State.CONFIRMED
    assert core.datagrams_to_send(0.4) == []  # no retransmission of the 486 once ACKed


def test_an_rfc2543_request_is_still_matched_by_its_to_tag_once_slim():
    core = SipCore()
    data = _request("OPTIONS", branch="old-style-1")  # no magic cookie (17.2.3)
    request, key, first = _answered(core, data, 200)
    gc.collect()
    assert request() is None and key.legacy
    core.receive_datagram(data, PEER, 0.5)
    assert core.datagrams_to_send(0.5) == first
    assert core.next_event() is None


def test_compact_gives_back_the_room_a_burst_grew_the_tables_to():
    import sys

    core = SipCore()
    for n in range(3000):
        data = _request("OPTIONS", branch=f"z9hG4bK-burst{n}").replace(b"mem-1@", f"b{n}@".encode())
        _answered(core, data, 200)
    core.handle_timer(0.1 + 32.0)  # timer J: every transaction is gone
    assert core.transaction(ServerKey("z9hG4bK-burst1", "10.0.0.7:5062", "OPTIONS")) is None
    grown = sys.getsizeof(core._servers)
    core.compact()
    assert sys.getsizeof(core._servers) < grown / 10
    request, key, first = _answered(core, _request("OPTIONS"), 200)  # and it still works
    assert first and core.transaction(key).state is State.COMPLETED
