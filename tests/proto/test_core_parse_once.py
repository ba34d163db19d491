"""Parse once, record once: the core hands what it sends with the message it serialised,
returns what it parsed, and answers bytes a transport could not parse without parsing them
again (issue 14)."""

from __future__ import annotations

import random
from unittest import mock

from sipclient.proto import builders, core as core_module, transaction
from sipclient.proto.core import CoreConfig, RequestRejected, SipCore
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, parse_message

PEER = ("10.0.0.9", 5060)


def _core() -> SipCore:
    return SipCore(CoreConfig(host="10.0.0.2", port=5070, rng=random.Random(3)))


def _options() -> Request:
    return Request("OPTIONS", "sip:bob@10.0.0.9", headers=[
        ("From", "<sip:alice@10.0.0.2>;tag=a1"), ("To", "<sip:bob@10.0.0.9>"),
        ("Call-ID", "po-1"), ("CSeq", "1 OPTIONS")])


def test_sent_datagrams_come_with_the_message_they_serialise() -> None:
    core = _core()
    core.send_request(_options(), PEER, 0.0)
    ((data, addr, message),) = core.messages_to_send(0.0)
    assert addr == PEER and bytes(message) == data
    assert message.headers.get("Via").startswith("SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK")
    assert message.headers.get("Via").endswith(";rport")
    assert message.top_via.branch and message.max_forwards == 70
    # the retransmission (timer A/E) is the same message, not a re-rendered copy
    core.handle_timer(0.5)
    ((again, _, same),) = core.messages_to_send(0.5)
    assert again == data and same is message
    # the old two-field view still works
    core.handle_timer(1.5)
    assert core.datagrams_to_send(1.5) == [(data, PEER)]


def test_received_bytes_are_parsed_once_and_returned() -> None:
    core = _core()
    raw = (b"OPTIONS sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx\r\n"
           b"From: <sip:bob@10.0.0.9>;tag=b\r\nTo: <sip:alice@10.0.0.2>\r\nCall-ID: r1\r\n"
           b"CSeq: 4 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    with mock.patch.object(core_module, "parse_message", wraps=parse_message) as parse:
        msg = core.receive_datagram(raw, PEER, 0.0)
    assert parse.call_count == 1 and bytes(msg) == raw
    event = core.next_event()
    assert event.request.call_id == "r1"
    assert core.receive_datagram(b"\r\n\r\n", PEER, 0.0) is None  # keep-alive


def test_unparsable_bytes_from_a_transport_get_a_400_without_a_second_parse() -> None:
    core = _core()
    raw = (b"INVITE sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKy\r\n"
           b"From: <sip:bob@10.0.0.9>;tag=b\r\nTo: <sip:alice@10.0.0.2>\r\nCall-ID: g1\r\n"
           b"CSeq: nine INVITE\r\nContent-Length: 0\r\n\r\n")
    try:
        parse_message(raw).cseq
    except ParseError as exc:
        error = exc
    with mock.patch.object(core_module, "parse_message") as parse:
        core.receive_unparsable(raw, PEER, error)
    parse.assert_not_called()
    rejected = core.next_event()
    assert isinstance(rejected, RequestRejected) and rejected.status == 400
    ((data, addr, response),) = core.messages_to_send(0.0)
    assert response.status == 400 and bytes(response) == data
    assert response.call_id == "g1" and addr == PEER


def test_builders_live_in_their_own_module_and_old_imports_still_work() -> None:
    assert transaction.build_response is builders.build_response
    assert transaction.build_ack is builders.build_ack
    assert core_module.build_cancel is builders.build_cancel


def test_a_request_whose_400_would_echo_a_bare_cr_is_dropped_not_raised() -> None:
    # found by the network fuzzer: the From the 400 must copy holds a lone CR, which no
    # message may carry; the core drops the request with a reason instead of raising
    core = _core()
    raw = (b"OPTIONS sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKz\r\n"
           b"From: <sip:bob@10\r0.0.9>;tag=b\r\nTo: <sip:alice@10.0.0.2>\r\nCall-ID: cr1\r\n"
           b"CSeq: 4 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    assert core.receive_datagram(raw, PEER, 0.0) is None
    dropped = core.next_event()
    assert type(dropped).__name__ == "MessageDropped"
    assert "unanswerable" in dropped.reason and "CR" in dropped.reason
    assert core.messages_to_send(0.0) == []
